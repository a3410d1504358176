// ログイン: tenant code, login id and password, then whatever auth asks next — the TOTP code (or a
// recovery code), the forced password change, or TOTP enrolment — each on this same screen.
import { Alert, Anchor, Button, Center, Code, Image, List, Paper, PasswordInput, Stack, Text, TextInput, Title } from "@mantine/core";
import { useState, type FormEvent, type ReactNode } from "react";
import { authApi, call, type Result } from "../api/client";
import type { components } from "../api/generated/auth";
import { fieldErrors, type Problem } from "../api/problem";
import { formatDateTime, formatTime } from "../format";
import { useSession } from "../session";

type LoginResponse = components["schemas"]["LoginResponse"];
type Enrolment = components["schemas"]["TotpEnrolment"];
type Step =
  | { kind: "credentials" }
  | { kind: "totp"; challenge: string; recovery: boolean }
  | { kind: "password_change"; challenge: string }
  | { kind: "totp_enrolment"; challenge: string; enrolment: Enrolment | null }
  | { kind: "recovery_codes"; codes: string[]; accessToken: string; expiresIn: number | null | undefined };

// Mantine's PasswordInput marks an error with data-invalid only, and names its toggle in English.
const SHOW = { "aria-label": "パスワードを表示する" };

/** The form-level message: the problem's Japanese title and detail, and when to try again. */
export function ProblemAlert({ problem }: { problem: Problem | null }) {
  if (!problem) return null;
  const lines: ReactNode[] = [];
  if (problem.detail) lines.push(<Text key="d" size="sm">{problem.detail}</Text>);
  if (problem.retryAfterSeconds !== undefined) {
    const until = new Date(Date.now() + problem.retryAfterSeconds * 1000);
    lines.push(<Text key="r" size="sm">{formatTime(until)} 以降に再度お試しください（約{Math.ceil(problem.retryAfterSeconds / 60)}分後）</Text>);
  }
  if (problem.next_allowed_at) {
    lines.push(<Text key="n" size="sm">次に変更できる日時: {formatDateTime(problem.next_allowed_at)}</Text>);
  }
  return (
    <Alert color="red" title={problem.title} role="alert" data-testid="form-error">
      {lines}
    </Alert>
  );
}

/** The problem's stable code: the last segment of its `type`. */
function code(p: Problem): string {
  return (p.type ?? "").split("/").pop() ?? "";
}

/**
 * What a refused login can be explained with. Auth answers a wrong password, an unknown user, a
 * locked or disabled account alike (one 401, no account-enumeration oracle), so the lockout rule
 * is explained for everyone and never said to apply; the lock's end is shown to administrators
 * (ログ管理 → ロック記録) and in the user's own login history. The gateway's device-certificate
 * refusal (403 certificate-required) is about the office's rule, not the account: said plainly.
 */
export function LoginHelp({ problem }: { problem: Problem | null }) {
  if (!problem) return null;
  const c = code(problem);
  if (c === "login-failed") {
    return (
      <Alert color="gray" title="ログインできない場合" data-testid="login-help">
        <List size="sm" spacing={4}>
          <List.Item>入力を確認してください（大文字・小文字、全角・半角）。</List.Item>
          <List.Item>
            パスワードや確認コードを続けて間違えると、アカウントは一定時間ロックされます（既定では5回で30分。事務所の設定によっては管理者が解除するまで）。
            ロック中は正しいパスワードでもログインできません。時間をおいて再度お試しください。
          </List.Item>
          <List.Item>
            安全のため、この画面ではアカウントの有無やロックの状態・解除時刻はお知らせしません。
            管理者は「ログ管理 → ロック記録」で解除予定時刻を確認し、ロックを解除できます。
          </List.Item>
        </List>
      </Alert>
    );
  }
  if (c === "certificate-required") {
    return (
      <Alert color="gray" title="端末証明書について" data-testid="certificate-help">
        <Text size="sm">
          この事務所では、管理者が発行した端末証明書を取り込んだ端末（ブラウザ）からだけログインできます。
          証明書がない、別の事務所のもの、失効済み、または有効期間外のときはログインできません。
          管理者に端末証明書の発行・更新を依頼し、ブラウザに取り込んでから再度アクセスしてください。
        </Text>
      </Alert>
    );
  }
  if (c === "ip-not-allowed") {
    return (
      <Alert color="gray" title="接続元について" data-testid="ip-help">
        <Text size="sm">この事務所では、許可された場所（IPアドレス）からだけログインできます。事務所のネットワークから接続するか、管理者に確認してください。</Text>
      </Alert>
    );
  }
  return null;
}

export function LoginPage({ notice }: { notice?: string | undefined }) {
  const { signedIn } = useSession();
  const [step, setStep] = useState<Step>({ kind: "credentials" });
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const [tenant, setTenant] = useState("");
  const [loginId, setLoginId] = useState("");
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [newPassword, setNewPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [confirmError, setConfirmError] = useState<string | null>(null);
  const fields = fieldErrors(problem);

  function restart(p: Problem | null) {
    setStep({ kind: "credentials" });
    setPassword("");
    setCode("");
    setProblem(p);
  }

  async function next(run: () => Promise<Result<LoginResponse>>) {
    setBusy(true);
    const r = await run();
    setBusy(false);
    if (!r.ok) {
      // An expired challenge cannot go on: back to the first step with the reason.
      if (r.problem.status === 401 && step.kind !== "credentials") restart(r.problem);
      else setProblem(r.problem);
      return;
    }
    setProblem(null);
    setCode("");
    const d = r.data;
    if (d.status === "authenticated" && d.access_token) {
      if (d.recovery_codes?.length) {
        setStep({ kind: "recovery_codes", codes: d.recovery_codes, accessToken: d.access_token, expiresIn: d.expires_in });
      } else {
        signedIn(d.access_token, d.expires_in);
      }
    } else if (d.challenge && d.status === "totp_required") {
      setStep({ kind: "totp", challenge: d.challenge, recovery: false });
    } else if (d.challenge && d.status === "password_change_required") {
      setStep({ kind: "password_change", challenge: d.challenge });
    } else if (d.challenge && d.status === "totp_enrolment_required") {
      const challenge = d.challenge;
      const e = await call(() => authApi.POST("/api/v1/auth/login/totp-enrolment", { body: { challenge } }));
      if (e.ok) setStep({ kind: "totp_enrolment", challenge, enrolment: e.data });
      else restart(e.problem);
    }
  }

  function submit(e: FormEvent) {
    e.preventDefault();
    if (busy) return;
    switch (step.kind) {
      case "credentials":
        void next(() => call(() => authApi.POST("/api/v1/auth/login", {
          body: { tenant_code: tenant.trim(), login_id: loginId.trim(), password },
        })));
        break;
      case "totp": {
        const body = step.recovery
          ? { challenge: step.challenge, recovery_code: code.trim() }
          : { challenge: step.challenge, code: code.trim() };
        void next(() => call(() => authApi.POST("/api/v1/auth/login/totp", { body })));
        break;
      }
      case "password_change":
        if (newPassword !== confirm) {
          setConfirmError("確認のため入力したパスワードが一致しません");
          return;
        }
        setConfirmError(null);
        void next(() => call(() => authApi.POST("/api/v1/auth/login/password", {
          body: { challenge: step.challenge, new_password: newPassword },
        })));
        break;
      case "totp_enrolment":
        void next(() => call(() => authApi.POST("/api/v1/auth/login/totp-enrolment/confirm", {
          body: { challenge: step.challenge, code: code.trim() },
        })));
        break;
      case "recovery_codes":
        signedIn(step.accessToken, step.expiresIn);
        break;
    }
  }

  let title = "ログイン";
  let body: ReactNode;
  switch (step.kind) {
    case "credentials":
      body = (
        <>
          <TextInput label="テナントコード" name="tenant_code" autoComplete="organization" required
            value={tenant} onChange={(e) => setTenant(e.currentTarget.value)} error={fields.tenant_code} />
          <TextInput label="ログインID" name="login_id" autoComplete="username" required
            value={loginId} onChange={(e) => setLoginId(e.currentTarget.value)} error={fields.login_id} />
          <PasswordInput label="パスワード" name="password" autoComplete="current-password" required
            value={password} onChange={(e) => setPassword(e.currentTarget.value)} error={fields.password} aria-invalid={Boolean(fields.password)}
            visibilityToggleButtonProps={SHOW} />
          <Button type="submit" loading={busy} fullWidth>ログイン</Button>
        </>
      );
      break;
    case "totp":
      title = "確認コードの入力";
      body = (
        <>
          <Text size="sm">
            {step.recovery
              ? "リカバリーコードを1つ入力してください（各コードは1回だけ使えます）。"
              : "認証アプリに表示されている6桁の確認コードを入力してください。"}
          </Text>
          <TextInput label={step.recovery ? "リカバリーコード" : "確認コード"} name="code" required
            autoComplete="one-time-code" inputMode={step.recovery ? "text" : "numeric"} data-autofocus
            value={code} onChange={(e) => setCode(e.currentTarget.value)}
            error={fields.code ?? fields.recovery_code} />
          <Button type="submit" loading={busy} fullWidth>確認</Button>
          <Anchor component="button" type="button" size="sm"
            onClick={() => { setCode(""); setStep({ ...step, recovery: !step.recovery }); }}>
            {step.recovery ? "確認コードを使う" : "認証アプリを使えない場合（リカバリーコード）"}
          </Anchor>
        </>
      );
      break;
    case "password_change":
      title = "パスワードの変更";
      body = (
        <>
          <Alert color="yellow" title="パスワードの変更が必要です">
            管理者による再設定のあと、または現在のパスワードが条件を満たさなくなったため、続ける前に新しいパスワードを設定してください。
          </Alert>
          <PasswordInput label="新しいパスワード" name="new_password" autoComplete="new-password" required
            description="12文字以上。過去24回に使ったパスワードは使えません"
            value={newPassword} onChange={(e) => setNewPassword(e.currentTarget.value)} error={fields.new_password} aria-invalid={Boolean(fields.new_password)}
            visibilityToggleButtonProps={SHOW} />
          <PasswordInput label="新しいパスワード（確認）" name="new_password_confirm" autoComplete="new-password" required
            value={confirm} onChange={(e) => setConfirm(e.currentTarget.value)} error={confirmError} aria-invalid={Boolean(confirmError)}
            visibilityToggleButtonProps={SHOW} />
          <Button type="submit" loading={busy} fullWidth>変更してログイン</Button>
        </>
      );
      break;
    case "totp_enrolment":
      title = "2段階認証の設定";
      body = (
        <>
          <Text size="sm">この事務所では2段階認証が必須です。認証アプリで QR コードを読み取り、表示された6桁のコードを入力してください。</Text>
          {step.enrolment && (
            <>
              <Center><Image src={step.enrolment.qr_png} alt="認証アプリに登録する QR コード" w={200} h={200} /></Center>
              <Text size="sm">読み取れない場合は次の鍵を入力してください: <Code>{step.enrolment.secret}</Code></Text>
            </>
          )}
          <TextInput label="確認コード" name="code" required autoComplete="one-time-code" inputMode="numeric"
            value={code} onChange={(e) => setCode(e.currentTarget.value)} error={fields.code} />
          <Button type="submit" loading={busy} fullWidth>登録してログイン</Button>
        </>
      );
      break;
    case "recovery_codes":
      title = "リカバリーコード";
      body = (
        <>
          <Alert color="yellow" title="この画面でしか表示されません">
            認証アプリを使えないときのためのコードです。印刷するか安全な場所に控えてください。
          </Alert>
          <List data-testid="recovery-codes">
            {step.codes.map((c) => <List.Item key={c}><Code>{c}</Code></List.Item>)}
          </List>
          <Button type="submit" fullWidth>控えました。続ける</Button>
        </>
      );
      break;
  }

  return (
    <Center mih="100vh" p="md" component="main">
      <Paper withBorder shadow="sm" p="xl" radius="md" w={420} maw="100%">
        <form onSubmit={submit} noValidate aria-labelledby="login-title">
          <Stack>
            <Text c="gray.7" size="sm">Roumu 業務コンソール</Text>
            <Title order={1} size="h2" id="login-title">{title}</Title>
            {notice && step.kind === "credentials" && !problem && <Alert color="blue">{notice}</Alert>}
            <ProblemAlert problem={problem} />
            {step.kind === "credentials" && <LoginHelp problem={problem} />}
            {body}
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}
