// 利用者: list, register (with a temporary password), edit (If-Match), disable / enable, delete,
// and each user's grants — the menu matrix and the 事業所.
import { Button, Group, Paper, PasswordInput, Radio, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { accountsApi, authApi, call } from "../../api/client";
import type { components } from "../../api/generated/accounts";
import type { Problem } from "../../api/problem";
import { MENUS, canWrite, menusFromMatrix, type Level, type Permissions } from "./access";
import { Done, PAGE, Pager, ProblemAlert, asProblem, formErrors, ifMatch } from "./common";
import { JigyoshoGrantEditor, MenuMatrix } from "./GrantMatrix";

type User = components["schemas"]["UserOut"];
type Role = "tenant_admin" | "staff";

const ROLE_LABEL: Record<string, string> = { tenant_admin: "管理者", staff: "一般職員" };
const STATUS_LABEL: Record<string, string> = { active: "有効", disabled: "無効", deleted: "削除済み" };
const SHOW = { "aria-label": "パスワードを表示する" };

// Auth learns of a new user from accounts' event, a moment after the user exists: the temporary
// password is set as soon as it does (404 until then).
async function setTemporaryPassword(userId: string, password: string): Promise<Problem | null> {
  for (let attempt = 0; ; attempt++) {
    const r = await call(() => authApi.POST("/api/v1/auth/users/{user_id}/password-reset", {
      params: { path: { user_id: userId } }, body: { temporary_password: password },
    }));
    if (r.ok) return null;
    if (r.problem.status !== 404 || attempt >= 40) return r.problem;
    await new Promise((resolve) => window.setTimeout(resolve, 250));
  }
}

/** The grants in a line; an administrator holds every menu by the role (My Number only if granted). */
function menuSummary(u: User): string {
  const granted = Object.entries(u.grants.menus ?? {}).map(([k, v]) =>
    `${MENUS.find((m) => m.key === k)?.label ?? k}(${v === "write" ? "更新" : "閲覧"})`);
  if (u.roles.includes("tenant_admin")) {
    const unmasked = u.grants.menus?.my_number_unmasked ? "、マイナンバー表示（マスク解除）" : "";
    return `すべて（管理者）${unmasked}`;
  }
  return granted.join("、") || "—";
}

interface Draft {
  login_id: string;
  display_name: string;
  role: Role;
  matrix: Record<string, Level>;
  all: boolean;
  ids: string[];
  password: string;
}

function draftOf(u: User | null): Draft {
  const matrix: Record<string, Level> = {};
  for (const m of MENUS) matrix[m.key] = (u?.grants.menus?.[m.key] as Level | undefined) ?? "none";
  return {
    login_id: u?.login_id ?? "",
    display_name: u?.display_name ?? "",
    role: u?.roles.includes("tenant_admin") ? "tenant_admin" : "staff",
    matrix,
    all: u?.grants.jigyosho?.all ?? false,
    ids: u?.grants.jigyosho?.ids ?? [],
    password: "",
  };
}

function UserForm({ user, perms, onClose }: { user: User | null; perms: Permissions; onClose: (msg: string) => void }) {
  const [d, setD] = useState<Draft>(() => draftOf(user));
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  // A user registered whose temporary password was then refused: the next submit only sets it.
  const [created, setCreated] = useState<string | null>(null);
  const errors = formErrors(problem);
  const passwordError = errors.temporary_password ?? errors.new_password;
  const isNew = user === null;

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    const grants = { menus: menusFromMatrix(d.matrix), jigyosho: { all: d.all, ids: d.all ? [] : d.ids } };
    const body = { login_id: d.login_id.trim(), display_name: d.display_name, roles: [d.role], grants };
    let userId = created ?? user?.id ?? null;
    if (!created) {
      const r = user
        ? await call(() => accountsApi.PUT("/api/v1/accounts/users/{user_id}", {
          params: { path: { user_id: user.id }, header: ifMatch(user.version) }, body,
        }))
        : await call(() => accountsApi.POST("/api/v1/accounts/users", { body }));
      if (!r.ok) {
        setBusy(false);
        setProblem(r.problem);
        return;
      }
      userId = r.data.id;
    }
    if (userId && (isNew || d.password)) {
      const p = await setTemporaryPassword(userId, d.password);
      if (p) {
        setBusy(false);
        if (isNew) setCreated(userId);
        setProblem({ ...p, detail: isNew ? "利用者は登録されました。仮パスワードを直して「仮パスワードを設定」を押してください" : p.detail });
        return;
      }
    }
    setBusy(false);
    onClose(isNew ? `${d.login_id} を登録しました。仮パスワードを本人に伝えてください（初回ログインで変更が求められます）。`
      : `${d.login_id} を更新しました。`);
  }

  return (
    <Paper withBorder p="md" component="form" onSubmit={submit} aria-labelledby="user-form-title" noValidate>
      <Stack>
        <Title order={2} size="h4" id="user-form-title">{isNew ? "利用者の登録" : "利用者の編集"}</Title>
        <ProblemAlert problem={problem} />
        <Group grow align="flex-start">
          <TextInput label="ログインID" name="login_id" required value={d.login_id} disabled={!!created}
            description="英数字と . _ @ - （3〜64文字）" error={errors.login_id}
            aria-invalid={!!errors.login_id} onChange={(e) => setD({ ...d, login_id: e.currentTarget.value })} />
          <TextInput label="表示名" name="display_name" required value={d.display_name} disabled={!!created}
            error={errors.display_name} aria-invalid={!!errors.display_name}
            onChange={(e) => setD({ ...d, display_name: e.currentTarget.value })} />
        </Group>
        <Radio.Group label="役割" name="role" value={d.role} error={errors.roles}
          onChange={(v) => setD({ ...d, role: v as Role })}>
          <Group mt={4}>
            <Radio value="staff" label="一般職員" disabled={!!created} />
            <Radio value="tenant_admin" label="管理者" disabled={!!created} />
          </Group>
        </Radio.Group>
        <MenuMatrix value={d.matrix} onChange={(m) => setD({ ...d, matrix: m })} error={errors.menus}
          adminRole={d.role === "tenant_admin"} />
        <JigyoshoGrantEditor all={d.all} ids={d.ids} canList={!!perms.menus.jigyosho_admin}
          onChange={(all, ids) => setD({ ...d, all, ids })} error={errors.ids ?? errors.jigyosho} />
        <PasswordInput label={isNew ? "仮パスワード" : "仮パスワードの再設定（変更する場合のみ）"} name="temporary_password"
          required={isNew} value={d.password} autoComplete="new-password" visibilityToggleButtonProps={SHOW}
          description="本人は次のログインで変更を求められます。設定すると本人のログイン中のセッションは終了します"
          error={passwordError} aria-invalid={!!passwordError}
          onChange={(e) => setD({ ...d, password: e.currentTarget.value })} />
        <Group>
          <Button type="submit" loading={busy}>{created ? "仮パスワードを設定" : isNew ? "登録" : "保存"}</Button>
          <Button variant="default" onClick={() => onClose("")}>閉じる</Button>
        </Group>
      </Stack>
    </Paper>
  );
}

export function UsersSection({ perms }: { perms: Permissions }) {
  const qc = useQueryClient();
  const [editing, setEditing] = useState<User | "new" | null>(null);
  const [message, setMessage] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const [confirmDelete, setConfirmDelete] = useState<string | null>(null);
  const [offset, setOffset] = useState(0);
  const writable = canWrite(perms, "user_admin");
  const isAdmin = perms.status === "active" && perms.roles.includes("tenant_admin");
  const users = useQuery({
    queryKey: ["users", offset],
    queryFn: async () => {
      const r = await call(() => accountsApi.GET("/api/v1/accounts/users", { params: { query: { limit: PAGE, offset } } }));
      if (!r.ok) throw r.problem;
      return r.data;
    },
  });

  async function act(u: User, what: "disable" | "enable" | "delete") {
    setProblem(null);
    setMessage("");
    const opts = { params: { path: { user_id: u.id }, header: ifMatch(u.version) } };
    const r = what === "delete"
      ? await call(() => accountsApi.DELETE("/api/v1/accounts/users/{user_id}", opts))
      : what === "disable"
        ? await call(() => accountsApi.POST("/api/v1/accounts/users/{user_id}/disable", opts))
        : await call(() => accountsApi.POST("/api/v1/accounts/users/{user_id}/enable", opts));
    setConfirmDelete(null);
    if (!r.ok) setProblem(r.problem);
    else setMessage(`${u.login_id} を${what === "delete" ? "削除" : what === "disable" ? "無効に" : "有効に"}しました。`);
    await qc.invalidateQueries({ queryKey: ["users"] });
  }

  // Auth's administrator actions (tenant administrators only, as auth checks).
  async function authAction(u: User, what: "unlock" | "totp") {
    setProblem(null);
    setMessage("");
    const opts = { params: { path: { user_id: u.id } } };
    const r = what === "unlock"
      ? await call(() => authApi.POST("/api/v1/auth/users/{user_id}/unlock", opts))
      : await call(() => authApi.DELETE("/api/v1/auth/users/{user_id}/totp", opts));
    if (!r.ok) setProblem(r.problem);
    else setMessage(what === "unlock" ? `${u.login_id} のロックを解除しました。`
      : `${u.login_id} の2段階認証をリセットしました。次のログインで登録し直します。`);
  }

  function closed(msg: string) {
    setEditing(null);
    setMessage(msg);
    void qc.invalidateQueries({ queryKey: ["users"] });
  }

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2} size="h3">利用者</Title>
        {writable && editing === null ? <Button onClick={() => { setMessage(""); setEditing("new"); }}>利用者を登録</Button> : null}
      </Group>
      {message ? <Done onClose={() => setMessage("")}>{message}</Done> : null}
      <ProblemAlert problem={problem} testId="list-error" />
      {editing !== null ? (
        <UserForm key={editing === "new" ? "new" : editing.id} user={editing === "new" ? null : editing} perms={perms}
          onClose={closed} />
      ) : null}
      {users.isError ? <ProblemAlert problem={asProblem(users.error)} testId="list-error" /> : null}
      <Table striped highlightOnHover withTableBorder data-testid="users-table">
        <Table.Caption>{users.data ? `${users.data.total} 人` : "読み込み中"}</Table.Caption>
        <Table.Thead>
          <Table.Tr>
            <Table.Th scope="col">ログインID</Table.Th>
            <Table.Th scope="col">表示名</Table.Th>
            <Table.Th scope="col">役割</Table.Th>
            <Table.Th scope="col">メニュー権限</Table.Th>
            <Table.Th scope="col">事業所</Table.Th>
            <Table.Th scope="col">状態</Table.Th>
            {writable ? <Table.Th scope="col">操作</Table.Th> : null}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {(users.data?.items ?? []).map((u) => (
            <Table.Tr key={u.id} data-testid={`user-row-${u.login_id}`}>
              <Table.Td>{u.login_id}</Table.Td>
              {/* Data, rendered as text by React: a name that looks like markup stays text. */}
              <Table.Td data-testid="user-display-name">{u.display_name}</Table.Td>
              <Table.Td>{u.roles.map((r) => ROLE_LABEL[r] ?? r).join("・")}</Table.Td>
              <Table.Td>
                <Text size="xs">{menuSummary(u)}</Text>
              </Table.Td>
              <Table.Td>
                {u.roles.includes("tenant_admin") || u.grants.jigyosho?.all ? "すべて" : `${u.grants.jigyosho?.ids?.length ?? 0} 件`}
              </Table.Td>
              <Table.Td>
                <Text size="sm" fw={700} component="span">{STATUS_LABEL[u.status] ?? u.status}</Text>
              </Table.Td>
              {writable ? (
                <Table.Td>
                  <Group gap={4} wrap="nowrap">
                    <Button size="xs" variant="default" aria-label={`${u.login_id} を編集`}
                      onClick={() => { setMessage(""); setEditing(u); }}>編集</Button>
                    {u.status === "active" ? (
                      <Button size="xs" variant="default" aria-label={`${u.login_id} を無効化`}
                        onClick={() => void act(u, "disable")}>無効化</Button>
                    ) : (
                      <Button size="xs" variant="default" aria-label={`${u.login_id} を有効化`}
                        onClick={() => void act(u, "enable")}>有効化</Button>
                    )}
                    {isAdmin ? (
                      <>
                        <Button size="xs" variant="default" aria-label={`${u.login_id} のロック解除`}
                          onClick={() => void authAction(u, "unlock")}>ロック解除</Button>
                        <Button size="xs" variant="default" aria-label={`${u.login_id} の2段階認証リセット`}
                          onClick={() => void authAction(u, "totp")}>2段階認証リセット</Button>
                      </>
                    ) : null}
                    {confirmDelete === u.id ? (
                      <>
                        <Button size="xs" color="red.9" aria-label={`${u.login_id} の削除を確定`}
                          onClick={() => void act(u, "delete")}>削除を確定</Button>
                        <Button size="xs" variant="default" onClick={() => setConfirmDelete(null)}>やめる</Button>
                      </>
                    ) : (
                      <Button size="xs" variant="default" aria-label={`${u.login_id} を削除`}
                        onClick={() => setConfirmDelete(u.id)}>削除</Button>
                    )}
                  </Group>
                </Table.Td>
              ) : null}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <Pager offset={offset} total={users.data?.total ?? 0} onChange={setOffset} />
    </Stack>
  );
}
