// アカウント: change one's password (the policy's messages next to the field, the next allowed time
// for "once a day"), TOTP enrolment (QR code and recovery codes shown once), active sessions with
// revoke and "logout everywhere", and one's own login history (one year).
import { Alert, Button, Card, Center, Code, Group, Image, List, PasswordInput, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { authApi, call } from "../../api/client";
import type { components } from "../../api/generated/auth";
import { fieldErrors, type Problem } from "../../api/problem";
import { describeBrowser, formatDateTime } from "../../format";
import { useSession, type Account } from "../../session";
import { ProblemAlert } from "../LoginPage";

type Enrolment = components["schemas"]["TotpEnrolment"];

const SHOW = { "aria-label": "パスワードを表示する" };

const OUTCOMES: Record<string, string> = { succeeded: "成功", failed: "失敗", locked: "ロック" };
const REASONS: Record<string, string> = {
  bad_password: "パスワード誤り", bad_totp: "確認コード誤り", locked: "ロック中", disabled: "無効な利用者",
  threshold: "連続失敗", ip_not_allowed: "許可されていない接続元", certificate: "端末証明書",
  bad_refresh_token: "セッション切れ", throttled: "試行回数超過",
};
const METHODS: Record<string, string> = { password: "パスワード", totp: "パスワード + 確認コード", recovery_code: "リカバリーコード" };

function PasswordCard() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [confirm, setConfirm] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const fields = fieldErrors(problem);
  const qc = useQueryClient();

  async function submit(e: FormEvent) {
    e.preventDefault();
    setDone(null);
    if (next !== confirm) {
      setProblem({ status: 422, title: "入力内容を確認してください",
        errors: [{ field: "new_password_confirm", message: "確認のため入力したパスワードが一致しません" }] });
      return;
    }
    setBusy(true);
    const r = await call(() => authApi.POST("/api/v1/auth/me/password", {
      body: { current_password: current, new_password: next },
    }));
    setBusy(false);
    if (!r.ok) { setProblem(r.problem); return; }
    setProblem(null);
    setCurrent(""); setNext(""); setConfirm("");
    setDone(`パスワードを変更しました。ほかの端末のセッション ${r.data.ended_sessions} 件を終了しました。`);
    void qc.invalidateQueries({ queryKey: ["account"] });
    void qc.invalidateQueries({ queryKey: ["my-sessions"] });
  }

  return (
    <Card withBorder padding="lg" component="section" aria-labelledby="pw-title">
      <form onSubmit={submit} noValidate>
        <Stack>
          <Title order={2} size="h4" id="pw-title">パスワードの変更</Title>
          {done && <Alert color="gray" role="status" data-testid="password-changed">{done}</Alert>}
          <ProblemAlert problem={problem} />
          <PasswordInput label="現在のパスワード" name="current_password" autoComplete="current-password" required
            value={current} onChange={(e) => setCurrent(e.currentTarget.value)}
            error={fields.current_password} aria-invalid={Boolean(fields.current_password)} visibilityToggleButtonProps={SHOW} />
          <PasswordInput label="新しいパスワード" name="new_password" autoComplete="new-password" required
            description="12文字以上。過去24回に使ったパスワードは使えません。変更は1日1回までです"
            value={next} onChange={(e) => setNext(e.currentTarget.value)}
            error={fields.new_password} aria-invalid={Boolean(fields.new_password)} visibilityToggleButtonProps={SHOW} />
          <PasswordInput label="新しいパスワード（確認）" name="new_password_confirm" autoComplete="new-password" required
            value={confirm} onChange={(e) => setConfirm(e.currentTarget.value)}
            error={fields.new_password_confirm} aria-invalid={Boolean(fields.new_password_confirm)} visibilityToggleButtonProps={SHOW} />
          <Group><Button type="submit" loading={busy}>パスワードを変更</Button></Group>
        </Stack>
      </form>
    </Card>
  );
}

function TotpCard({ account }: { account: Account }) {
  const [enrolment, setEnrolment] = useState<Enrolment | null>(null);
  const [code, setCode] = useState("");
  const [codes, setCodes] = useState<string[] | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const qc = useQueryClient();
  const fields = fieldErrors(problem);

  async function start() {
    setBusy(true);
    const r = await call(() => authApi.POST("/api/v1/auth/me/totp/enrolment"));
    setBusy(false);
    if (!r.ok) { setProblem(r.problem); return; }
    setProblem(null);
    setEnrolment(r.data);
  }

  async function confirm(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    const r = await call(() => authApi.POST("/api/v1/auth/me/totp/enrolment/confirm", { body: { code: code.trim() } }));
    setBusy(false);
    if (!r.ok) { setProblem(r.problem); return; }
    setProblem(null);
    setEnrolment(null);
    setCode("");
    setCodes(r.data.recovery_codes);
    void qc.invalidateQueries({ queryKey: ["account"] });
  }

  return (
    <Card withBorder padding="lg" component="section" aria-labelledby="totp-title">
      <Stack>
        <Title order={2} size="h4" id="totp-title">2段階認証（認証アプリ）</Title>
        <ProblemAlert problem={problem} />
        {codes ? (
          <>
            <Alert color="yellow" title="リカバリーコード（この画面でしか表示されません）">
              認証アプリを使えないときのためのコードです。印刷するか安全な場所に控えてください。
            </Alert>
            <List data-testid="recovery-codes">
              {codes.map((c) => <List.Item key={c}><Code>{c}</Code></List.Item>)}
            </List>
            <Group><Button onClick={() => setCodes(null)}>控えました</Button></Group>
          </>
        ) : enrolment ? (
          <form onSubmit={confirm} noValidate>
            <Stack>
              <Text size="sm">認証アプリで QR コードを読み取り、表示された6桁のコードを入力してください。</Text>
              {/* Rendered by auth on the server (no third party sees the secret); a data: image under the CSP. */}
              <Center><Image src={enrolment.qr_png} alt="認証アプリに登録する QR コード" w={200} h={200} /></Center>
              <Text size="sm">読み取れない場合は次の鍵を入力してください: <Code data-testid="totp-secret">{enrolment.secret}</Code></Text>
              <TextInput label="確認コード" name="code" required autoComplete="one-time-code" inputMode="numeric"
                value={code} onChange={(e) => setCode(e.currentTarget.value)} error={fields.code} />
              <Group>
                <Button type="submit" loading={busy}>登録する</Button>
                <Button variant="default" onClick={() => setEnrolment(null)}>やめる</Button>
              </Group>
            </Stack>
          </form>
        ) : account.totpEnabled ? (
          <Text data-testid="totp-status">設定済みです。残りのリカバリーコード: {account.recoveryCodesLeft} 個</Text>
        ) : (
          <>
            <Text data-testid="totp-status">未設定です。ログイン時に認証アプリの確認コードも求めるようにできます。</Text>
            <Group><Button onClick={() => void start()} loading={busy}>2段階認証を設定する</Button></Group>
          </>
        )}
      </Stack>
    </Card>
  );
}

function SessionsCard() {
  const qc = useQueryClient();
  const { signOut } = useSession();
  const [problem, setProblem] = useState<Problem | null>(null);
  const sessions = useQuery({
    queryKey: ["my-sessions"],
    queryFn: async () => {
      const r = await call(() => authApi.GET("/api/v1/auth/me/sessions"));
      if (!r.ok) throw r.problem;
      return r.data;
    },
  });
  const revoke = useMutation({
    mutationFn: async (id: string) => {
      const r = await call(() => authApi.DELETE("/api/v1/auth/me/sessions/{session_id}", { params: { path: { session_id: id } } }));
      if (!r.ok) throw r.problem;
    },
    onError: (p: Problem) => setProblem(p),
    onSettled: () => qc.invalidateQueries({ queryKey: ["my-sessions"] }),
  });
  const everywhere = useMutation({
    mutationFn: async () => {
      const r = await call(() => authApi.POST("/api/v1/auth/me/sessions/end-others"));
      if (!r.ok) throw r.problem;
    },
    onError: (p: Problem) => setProblem(p),
    // Every other session ended: this one ends too ("logout everywhere").
    onSuccess: () => signOut("すべての端末からログアウトしました"),
  });

  return (
    <Card withBorder padding="lg" component="section" aria-labelledby="sessions-title">
      <Stack>
        <Title order={2} size="h4" id="sessions-title">ログイン中のセッション</Title>
        <ProblemAlert problem={problem} />
        <Table striped data-testid="sessions">
          <Table.Thead>
            <Table.Tr><Table.Th>開始</Table.Th><Table.Th>最終利用</Table.Th><Table.Th>接続元</Table.Th><Table.Th>ブラウザ</Table.Th><Table.Th>操作</Table.Th></Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {(sessions.data ?? []).map((s) => (
              <Table.Tr key={s.id} data-current={s.current ? "true" : undefined}>
                <Table.Td>{formatDateTime(s.created_at)}</Table.Td>
                <Table.Td>{formatDateTime(s.last_used_at)}</Table.Td>
                <Table.Td>{s.ip ?? "不明"}</Table.Td>
                <Table.Td>{describeBrowser(s.user_agent)}</Table.Td>
                <Table.Td>
                  {s.current ? <Text size="sm" fw={700}>この端末</Text> : (
                    <Button size="xs" variant="default" onClick={() => revoke.mutate(s.id)}
                      aria-label={`${formatDateTime(s.created_at)} に開始したセッションを終了`}>終了</Button>
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
        <Group>
          <Button color="red" variant="outline" onClick={() => everywhere.mutate()} loading={everywhere.isPending}>
            すべての端末からログアウト
          </Button>
        </Group>
      </Stack>
    </Card>
  );
}

function HistoryCard() {
  const history = useQuery({
    queryKey: ["my-login-history"],
    queryFn: async () => {
      const r = await call(() => authApi.GET("/api/v1/auth/me/login-history", { params: { query: { limit: 500 } } }));
      if (!r.ok) throw r.problem;
      return r.data;
    },
  });
  return (
    <Card withBorder padding="lg" component="section" aria-labelledby="history-title">
      <Stack>
        <Title order={2} size="h4" id="history-title">ログイン履歴（過去1年）</Title>
        <Text size="sm" c="gray.7">覚えのないログインや失敗があれば、パスワードを変更し管理者に連絡してください。</Text>
        <Table striped data-testid="login-history">
          <Table.Thead>
            <Table.Tr><Table.Th>日時</Table.Th><Table.Th>結果</Table.Th><Table.Th>方法・理由</Table.Th><Table.Th>接続元</Table.Th><Table.Th>ブラウザ</Table.Th></Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {(history.data ?? []).map((h, i) => (
              <Table.Tr key={`${h.at}-${i}`}>
                <Table.Td>{formatDateTime(h.at)}</Table.Td>
                <Table.Td>{OUTCOMES[h.outcome] ?? h.outcome}</Table.Td>
                <Table.Td>{h.method ? (METHODS[h.method] ?? h.method) : h.reason ? (REASONS[h.reason] ?? h.reason) : "—"}</Table.Td>
                <Table.Td>{h.ip ?? "不明"}</Table.Td>
                <Table.Td>{describeBrowser(h.user_agent)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Stack>
    </Card>
  );
}

export default function AccountPage({ account }: { account: Account }) {
  return (
    <Stack>
      <Title order={1} size="h2">アカウント</Title>
      <PasswordCard />
      <TotpCard account={account} />
      <SessionsCard />
      <HistoryCard />
    </Stack>
  );
}
