// 連携クライアント: partner systems' client-credentials clients — scopes (changeable: the client's
// tokens then end), 事業所, the secret shown once (at creation and at each rotation), rotate, disable.
import { Button, Checkbox, Group, Paper, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { authApi, call } from "../../api/client";
import type { Problem } from "../../api/problem";
import { formatDateTime } from "../../format";
import type { Permissions } from "./access";
import { Done, ProblemAlert, SecretOnce, formErrors } from "./common";
import { JigyoshoGrantEditor } from "./GrantMatrix";
import { useJigyoshoNames } from "./jigyosho";

/** A grant's 事業所 in the table: names while few, a count when many. */
function grantSummary(ids: string[] | null | undefined, names: Map<string, string> | undefined): string {
  if (ids == null) return "すべて";
  if (ids.length === 0) return "なし";
  if (ids.length > 5) return `${ids.length} 件`;
  return ids.map((i) => names?.get(i) ?? i).join("、");
}

export function PartnersSection({ perms }: { perms: Permissions }) {
  const qc = useQueryClient();
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<string[]>([]);
  const [all, setAll] = useState(true);
  const [ids, setIds] = useState<string[]>([]);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [secret, setSecret] = useState<{ clientId: string; secret: string } | null>(null);
  const [message, setMessage] = useState("");
  const [confirm, setConfirm] = useState<string | null>(null);
  const [grantEdit, setGrantEdit] = useState<{ clientId: string; all: boolean; ids: string[] } | null>(null);
  const errors = formErrors(problem);
  const [scopeEdit, setScopeEdit] = useState<{ clientId: string; name: string; scopes: string[] } | null>(null);
  const canList = !!perms.menus.jigyosho_admin;
  const names = useJigyoshoNames(canList);
  const scopeList = useQuery({
    queryKey: ["scopes"],
    queryFn: async () => {
      const r = await call(() => authApi.GET("/api/v1/auth/scopes"));
      if (!r.ok) throw r.problem;
      return r.data;
    },
  });
  const clients = useQuery({
    queryKey: ["partner-clients"],
    queryFn: async () => {
      const r = await call(() => authApi.GET("/api/v1/auth/partner-clients"));
      if (!r.ok) throw r.problem;
      return r.data;
    },
  });

  async function create(e: FormEvent) {
    e.preventDefault();
    setMessage("");
    const r = await call(() => authApi.POST("/api/v1/auth/partner-clients", {
      body: { name, scopes, jigyosho_ids: all ? null : ids },
    }));
    if (!r.ok) {
      setProblem(r.problem);
      return;
    }
    setProblem(null);
    setName("");
    setScopes([]);
    setSecret({ clientId: r.data.client_id, secret: r.data.client_secret });
    await qc.invalidateQueries({ queryKey: ["partner-clients"] });
  }

  async function rotate(clientId: string) {
    setMessage("");
    const r = await call(() => authApi.POST("/api/v1/auth/partner-clients/{client_id}/secret", {
      params: { path: { client_id: clientId } },
    }));
    if (!r.ok) setProblem(r.problem);
    else setSecret({ clientId, secret: r.data.client_secret });
    await qc.invalidateQueries({ queryKey: ["partner-clients"] });
  }

  async function saveJigyosho(clientId: string) {
    if (!grantEdit) return;
    const r = await call(() => authApi.PUT("/api/v1/auth/partner-clients/{client_id}/jigyosho", {
      params: { path: { client_id: clientId } }, body: { jigyosho_ids: grantEdit.all ? null : grantEdit.ids },
    }));
    if (!r.ok) {
      setProblem(r.problem);
      return;
    }
    setProblem(null);
    setGrantEdit(null);
    setMessage(`${r.data.name} の事業所を変更しました。次に発行されるトークンから適用されます。`);
    await qc.invalidateQueries({ queryKey: ["partner-clients"] });
  }

  async function saveScopes() {
    if (!scopeEdit) return;
    const r = await call(() => authApi.PUT("/api/v1/auth/partner-clients/{client_id}/scopes", {
      params: { path: { client_id: scopeEdit.clientId } }, body: { scopes: scopeEdit.scopes },
    }));
    if (!r.ok) {
      setProblem(r.problem);
      return;
    }
    setProblem(null);
    setScopeEdit(null);
    setMessage(`${r.data.name} のスコープを変更しました。発行済みのトークンは使えなくなります（新しいトークンを取得し直してください）。`);
    await qc.invalidateQueries({ queryKey: ["partner-clients"] });
  }

  async function disable(clientId: string) {
    setConfirm(null);
    const r = await call(() => authApi.DELETE("/api/v1/auth/partner-clients/{client_id}", {
      params: { path: { client_id: clientId } },
    }));
    if (!r.ok) setProblem(r.problem);
    else setMessage(`${clientId} を無効にしました。このクライアントのトークンは使えなくなります。`);
    await qc.invalidateQueries({ queryKey: ["partner-clients"] });
  }

  return (
    <Stack>
      <Title order={2} size="h3">連携クライアント</Title>
      <Text size="sm">従業員ポータルなど外部システムに、OAuth2 クライアント認証情報を発行します。</Text>
      {message ? <Done onClose={() => setMessage("")}>{message}</Done> : null}
      {secret ? (
        <SecretOnce label={`クライアントシークレット（${secret.clientId}）`} value={secret.secret} onDone={() => setSecret(null)} />
      ) : null}
      <Table withTableBorder striped data-testid="partner-clients">
        <Table.Caption>登録済みのクライアント</Table.Caption>
        <Table.Thead>
          <Table.Tr>
            <Table.Th scope="col">名前</Table.Th>
            <Table.Th scope="col">クライアントID</Table.Th>
            <Table.Th scope="col">スコープ</Table.Th>
            <Table.Th scope="col">事業所</Table.Th>
            <Table.Th scope="col">シークレット更新</Table.Th>
            <Table.Th scope="col">状態・操作</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {(clients.data ?? []).map((c) => (
            <Table.Tr key={c.client_id}>
              <Table.Td>{c.name}</Table.Td>
              <Table.Td><Text size="xs" ff="monospace">{c.client_id}</Text></Table.Td>
              <Table.Td><Text size="xs">{c.scopes.join(" ")}</Text></Table.Td>
              <Table.Td>{grantSummary(c.jigyosho_ids, names.data)}</Table.Td>
              <Table.Td>{formatDateTime(c.secret_rotated_at)}</Table.Td>
              <Table.Td>
                {c.disabled_at ? <Text size="sm" fw={700} component="span">無効</Text> : (
                  <Group gap={4} wrap="nowrap">
                    <Button size="xs" variant="default" aria-label={`${c.name} のシークレット再発行`}
                      onClick={() => void rotate(c.client_id)}>シークレット再発行</Button>
                    <Button size="xs" variant="default" aria-label={`${c.name} のスコープを変更`}
                      onClick={() => { setProblem(null); setScopeEdit({ clientId: c.client_id, name: c.name, scopes: c.scopes }); }}>
                      スコープを変更
                    </Button>
                    <Button size="xs" variant="default" aria-label={`${c.name} の事業所を変更`}
                      onClick={() => setGrantEdit({ clientId: c.client_id, all: c.jigyosho_ids == null, ids: c.jigyosho_ids ?? [] })}>
                      事業所を変更
                    </Button>
                    {confirm === c.client_id ? (
                      <Button size="xs" color="red.9" onClick={() => void disable(c.client_id)}>無効化を確定</Button>
                    ) : (
                      <Button size="xs" variant="default" aria-label={`${c.name} を無効化`}
                        onClick={() => setConfirm(c.client_id)}>無効化</Button>
                    )}
                  </Group>
                )}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {scopeEdit ? (
        <Paper withBorder p="md" aria-label="連携クライアントのスコープ">
          <Stack>
            <Title order={3} size="h4">スコープの変更（{scopeEdit.name}）</Title>
            <ProblemAlert problem={problem} testId="scope-error" />
            <Checkbox.Group label="スコープ" value={scopeEdit.scopes} onChange={(v) => setScopeEdit({ ...scopeEdit, scopes: v })}
              description="保存すると、このクライアントに発行済みのトークンはすべて無効になります">
              <Stack gap={4} mt={4}>
                {(scopeList.data ?? []).map((s) => (
                  <Checkbox key={s.name} value={s.name} label={`${s.name} — ${s.description}`} />
                ))}
              </Stack>
            </Checkbox.Group>
            <Group>
              <Button onClick={() => void saveScopes()}>保存</Button>
              <Button variant="default" onClick={() => setScopeEdit(null)}>やめる</Button>
            </Group>
          </Stack>
        </Paper>
      ) : null}
      {grantEdit ? (
        <Paper withBorder p="md" aria-label="連携クライアントの事業所">
          <Stack>
            <Title order={3} size="h4">事業所の変更（{grantEdit.clientId}）</Title>
            <JigyoshoGrantEditor all={grantEdit.all} ids={grantEdit.ids} canList={canList}
              onChange={(a, i) => setGrantEdit({ ...grantEdit, all: a, ids: i })} />
            <Group>
              <Button onClick={() => void saveJigyosho(grantEdit.clientId)}>保存</Button>
              <Button variant="default" onClick={() => setGrantEdit(null)}>やめる</Button>
            </Group>
          </Stack>
        </Paper>
      ) : null}
      <Paper withBorder p="md" component="form" onSubmit={create} aria-labelledby="partner-form-title" noValidate>
        <Stack>
          <Title order={3} size="h4" id="partner-form-title">クライアントの登録</Title>
          <ProblemAlert problem={problem} />
          <TextInput label="名前" name="name" required value={name} error={errors.name} aria-invalid={!!errors.name}
            onChange={(e) => setName(e.currentTarget.value)} />
          <Checkbox.Group label="スコープ" value={scopes} onChange={setScopes} error={errors.scopes}>
            <Stack gap={4} mt={4}>
              {(scopeList.data ?? []).map((s) => (
                <Checkbox key={s.name} value={s.name} label={`${s.name} — ${s.description}`} />
              ))}
            </Stack>
          </Checkbox.Group>
          <JigyoshoGrantEditor all={all} ids={ids} canList={canList}
            onChange={(a, i) => { setAll(a); setIds(i); }} error={errors.jigyosho_ids} />
          <Group><Button type="submit">登録してシークレットを発行</Button></Group>
        </Stack>
      </Paper>
    </Stack>
  );
}
