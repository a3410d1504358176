// セキュリティ設定: TOTP and device certificate requirements, the password and lockout policy, the
// IP allowlist (each CIDR checked as typed, by accounts' own rule), and the device CA with its
// certificates (show the CA, issue from a CSR, revoke).
import { Button, Checkbox, Code, Group, Paper, Stack, Table, Text, TextInput, Textarea, Title } from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { accountsApi, authApi, call } from "../../api/client";
import type { components } from "../../api/generated/accounts";
import type { Problem } from "../../api/problem";
import { formatDateTime } from "../../format";
import { checkAllowlist } from "./cidr";
import { checkPolicyNumber } from "./forms";
import { Done, ProblemAlert, asProblem, formErrors, ifMatch, useTenantId } from "./common";

type Settings = components["schemas"]["TenantSettingsOut"];

// Each policy number: its field, label, the API's bounds, and auth's default (null = default).
const POLICY_FIELDS = [
  { group: "password_policy", key: "min_length", label: "パスワードの最小文字数", min: 8, max: 128, unit: "文字" },
  { group: "password_policy", key: "max_length", label: "パスワードの最大文字数", min: 64, max: 1024, unit: "文字" },
  { group: "password_policy", key: "history", label: "再使用を禁止する過去の世代数", min: 0, max: 100, unit: "世代" },
  { group: "password_policy", key: "min_age_hours", label: "次に変更できるまでの時間", min: 0, max: 720, unit: "時間" },
  { group: "lockout_policy", key: "threshold", label: "ロックするまでの連続失敗回数", min: 1, max: 100, unit: "回" },
  { group: "lockout_policy", key: "duration_minutes", label: "ロックの時間", min: 1, max: 10080, unit: "分" },
] as const;

type PolicyKey = (typeof POLICY_FIELDS)[number]["key"];


function SettingsForm({ tenantId, settings }: { tenantId: string; settings: Settings }) {
  const qc = useQueryClient();
  const pw = settings.password_policy ?? {};
  const lo = settings.lockout_policy ?? {};
  const [totp, setTotp] = useState(!!settings.totp_required);
  const [deviceCert, setDeviceCert] = useState(!!settings.device_cert_required);
  const [adminUnlockOnly, setAdminUnlockOnly] = useState(!!lo.admin_unlock_only);
  const [numbers, setNumbers] = useState<Record<PolicyKey, string>>(() => {
    const out = {} as Record<PolicyKey, string>;
    for (const f of POLICY_FIELDS) {
      const v = (f.group === "password_policy" ? pw : lo)[f.key as never] as number | null | undefined;
      out[f.key] = v == null ? "" : String(v);
    }
    return out;
  });
  const [allowlist, setAllowlist] = useState((settings.ip_allowlist ?? []).join("\n"));
  const [problem, setProblem] = useState<Problem | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const errors = formErrors(problem);
  const cidr = checkAllowlist(allowlist);
  const typed = Object.fromEntries(POLICY_FIELDS.map((f) => [f.key, checkPolicyNumber(numbers[f.key], f.min, f.max)]));
  const invalid = cidr.problems.length > 0 || Object.values(typed).some((t) => t.error);
  const allowlistError = cidr.problems.map((p) => `${p.line}行目: ${p.message}`).join(" / ") || errors.ip_allowlist;

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (invalid) return;
    setBusy(true);
    setSaved(false);
    const pick = (group: string) => Object.fromEntries(POLICY_FIELDS.filter((f) => f.group === group)
      .map((f) => [f.key, typed[f.key]?.value ?? null]));
    const r = await call(() => accountsApi.PUT("/api/v1/accounts/tenants/{tenant_id}/settings", {
      params: { path: { tenant_id: tenantId }, header: ifMatch(settings.version) },
      body: {
        totp_required: totp, device_cert_required: deviceCert, ip_allowlist: cidr.entries,
        password_policy: pick("password_policy"),
        lockout_policy: { ...pick("lockout_policy"), admin_unlock_only: adminUnlockOnly },
      },
    }));
    setBusy(false);
    if (!r.ok) {
      setProblem(r.problem);
      return;
    }
    setProblem(null);
    setSaved(true);
    qc.setQueryData(["settings", tenantId], r.data);
  }

  return (
    <Paper withBorder p="md" component="form" onSubmit={submit} aria-labelledby="settings-title" noValidate>
      <Stack>
        <Title order={2} size="h3" id="settings-title">ログインとパスワードの設定</Title>
        {saved ? <Done onClose={() => setSaved(false)}>設定を保存しました。数秒以内にすべてのログインに適用されます。</Done> : null}
        <ProblemAlert problem={problem} />
        <Checkbox label="2段階認証（TOTP）を全員に必須にする" checked={totp} onChange={(e) => setTotp(e.currentTarget.checked)} />
        <Checkbox label="端末証明書のない端末からのログインを拒否する" checked={deviceCert}
          onChange={(e) => setDeviceCert(e.currentTarget.checked)} />
        <Text size="sm" c="gray.7">数値の欄を空にすると既定値（ASVS レベル2の範囲）が使われます。</Text>
        <div className="admin-grid">
          {POLICY_FIELDS.map((f) => {
            const err = typed[f.key]?.error ?? errors[f.key];
            return (
              <TextInput key={f.key} label={f.label} name={f.key} inputMode="numeric" value={numbers[f.key]}
                description={`${f.min}〜${f.max}${f.unit}（空欄: 既定値）`} error={err} aria-invalid={!!err}
                onChange={(e) => setNumbers({ ...numbers, [f.key]: e.currentTarget.value })} />
            );
          })}
        </div>
        <Checkbox label="ロックの解除を管理者の操作に限る（時間経過で解除しない）" checked={adminUnlockOnly}
          onChange={(e) => setAdminUnlockOnly(e.currentTarget.checked)} />
        <Textarea label="接続を許可する IP アドレス（CIDR、1行に1件）" name="ip_allowlist" rows={4}
          description="IPv4・IPv6 とも指定できます（例: 203.0.113.0/24、2001:db8::/32）。空欄: 制限なし。自分の接続元を含めないと、保存後にログインできなくなります"
          value={allowlist} error={allowlistError || undefined} aria-invalid={!!allowlistError}
          onChange={(e) => setAllowlist(e.currentTarget.value)} />
        <Group>
          <Button type="submit" loading={busy} disabled={invalid}>設定を保存</Button>
        </Group>
      </Stack>
    </Paper>
  );
}

function DeviceCa() {
  const qc = useQueryClient();
  const [label, setLabel] = useState("");
  const [csr, setCsr] = useState("");
  const [days, setDays] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const [issued, setIssued] = useState<string | null>(null);
  const errors = formErrors(problem);
  const ca = useQuery({
    queryKey: ["device-ca"],
    queryFn: async () => {
      const r = await call(() => authApi.GET("/api/v1/auth/device-ca"));
      if (!r.ok) throw r.problem;
      return r.data.certificate_pem;
    },
  });
  const certs = useQuery({
    queryKey: ["device-certificates"],
    queryFn: async () => {
      const r = await call(() => authApi.GET("/api/v1/auth/device-certificates"));
      if (!r.ok) throw r.problem;
      return r.data;
    },
  });
  const daysCheck = checkPolicyNumber(days, 1, 825);

  async function issue(e: FormEvent) {
    e.preventDefault();
    if (daysCheck.error) return;
    const r = await call(() => authApi.POST("/api/v1/auth/device-certificates", {
      body: { label, csr_pem: csr, days: daysCheck.value },
    }));
    if (!r.ok) {
      setProblem(r.problem);
      return;
    }
    setProblem(null);
    setIssued(r.data.certificate_pem);
    setCsr("");
    await qc.invalidateQueries({ queryKey: ["device-certificates"] });
  }

  async function revoke(serial: string) {
    const r = await call(() => authApi.POST("/api/v1/auth/device-certificates/{serial}/revoke", {
      params: { path: { serial } },
    }));
    setProblem(r.ok ? null : r.problem);
    await qc.invalidateQueries({ queryKey: ["device-certificates"] });
  }

  return (
    <Paper withBorder p="md" aria-labelledby="device-ca-title">
      <Stack>
        <Title order={2} size="h3" id="device-ca-title">端末証明書（デバイス CA）</Title>
        <Text size="sm">
          端末で作った CSR（証明書署名要求）に、このテナントの CA で署名します。失効させた証明書ではログインできません。
        </Text>
        {ca.data ? (
          <details>
            <summary>CA 証明書（PEM）を表示</summary>
            <Code block data-testid="device-ca-pem">{ca.data}</Code>
          </details>
        ) : null}
        <Table withTableBorder striped data-testid="device-certificates">
          <Table.Caption>発行済みの端末証明書</Table.Caption>
          <Table.Thead>
            <Table.Tr>
              <Table.Th scope="col">名前</Table.Th>
              <Table.Th scope="col">シリアル</Table.Th>
              <Table.Th scope="col">有効期限</Table.Th>
              <Table.Th scope="col">状態</Table.Th>
              <Table.Th scope="col">操作</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {(certs.data ?? []).map((c) => (
              <Table.Tr key={c.serial}>
                <Table.Td>{c.label}</Table.Td>
                <Table.Td><Text size="xs" ff="monospace">{c.serial}</Text></Table.Td>
                <Table.Td>{formatDateTime(c.not_after)}</Table.Td>
                <Table.Td>{c.revoked_at ? `失効（${formatDateTime(c.revoked_at)}）` : "有効"}</Table.Td>
                <Table.Td>
                  {c.revoked_at ? null : (
                    <Button size="xs" variant="default" aria-label={`${c.label} を失効させる`}
                      onClick={() => void revoke(c.serial)}>失効</Button>
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
        {issued ? (
          <Stack gap={4} data-testid="issued-certificate">
            <Text size="sm" fw={700}>発行した証明書（PEM）: 端末に取り込んでください</Text>
            <Code block>{issued}</Code>
            <Group><Button size="xs" variant="default" onClick={() => setIssued(null)}>閉じる</Button></Group>
          </Stack>
        ) : null}
        <form onSubmit={issue} aria-label="端末証明書の発行" noValidate>
          <Stack gap="xs">
          <ProblemAlert problem={problem} testId="device-error" />
          <Group grow align="flex-start">
            <TextInput label="端末の名前" name="label" value={label} required error={errors.label}
              aria-invalid={!!errors.label} placeholder="受付PC-1" onChange={(e) => setLabel(e.currentTarget.value)} />
            <TextInput label="有効日数（空欄: 既定）" name="days" inputMode="numeric" value={days}
              error={daysCheck.error ?? errors.days} aria-invalid={!!(daysCheck.error ?? errors.days)}
              onChange={(e) => setDays(e.currentTarget.value)} />
          </Group>
          <Textarea label="CSR（PEM）" name="csr_pem" value={csr} required rows={4}
            error={errors.csr_pem} aria-invalid={!!errors.csr_pem}
            placeholder="-----BEGIN CERTIFICATE REQUEST-----" onChange={(e) => setCsr(e.currentTarget.value)} />
          <Group><Button type="submit" variant="default">署名して発行</Button></Group>
          </Stack>
        </form>
      </Stack>
    </Paper>
  );
}

export function PoliciesSection() {
  const tenant = useTenantId();
  const tenantId = tenant.data;
  const settings = useQuery({
    queryKey: ["settings", tenantId],
    enabled: !!tenantId,
    queryFn: async () => {
      const r = await call(() => accountsApi.GET("/api/v1/accounts/tenants/{tenant_id}/settings", {
        params: { path: { tenant_id: tenantId ?? "" } },
      }));
      if (!r.ok) throw r.problem;
      return r.data;
    },
  });
  return (
    <Stack>
      {settings.isError ? <ProblemAlert problem={asProblem(settings.error)} testId="list-error" /> : null}
      {tenantId && settings.data ? (
        <SettingsForm tenantId={tenantId} settings={settings.data} />
      ) : null}
      <DeviceCa />
    </Stack>
  );
}
