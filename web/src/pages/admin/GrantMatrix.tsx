// The grants editor: every menu × なし / 閲覧 / 更新, then the 事業所 the user may see (all, or a list).
import { Checkbox, Radio, Stack, Table, Text } from "@mantine/core";
import { MENUS, type Level } from "./access";

export interface JigyoshoOption { id: string; name: string; closed: boolean }

const LEVELS: { value: Level; label: string }[] = [
  { value: "none", label: "なし" },
  { value: "read", label: "閲覧" },
  { value: "write", label: "更新" },
];

export function MenuMatrix({ value, onChange, error, adminRole }: {
  value: Record<string, Level>;
  onChange: (v: Record<string, Level>) => void;
  error?: string | undefined;
  adminRole: boolean;
}) {
  return (
    <Stack gap={4}>
      <Table withTableBorder withColumnBorders striped data-testid="menu-matrix" aria-describedby="menu-matrix-note">
        <Table.Caption>メニュー権限</Table.Caption>
        <Table.Thead>
          <Table.Tr>
            <Table.Th scope="col">メニュー</Table.Th>
            {LEVELS.map((l) => <Table.Th scope="col" key={l.value}>{l.label}</Table.Th>)}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {MENUS.map((m) => (
            <Table.Tr key={m.key}>
              <Table.Th scope="row">{m.label}</Table.Th>
              {LEVELS.map((l) => (
                <Table.Td key={l.value}>
                  <Radio name={`menu-${m.key}`} value={l.value} aria-label={`${m.label}: ${l.label}`}
                    checked={(value[m.key] ?? "none") === l.value}
                    onChange={() => onChange({ ...value, [m.key]: l.value })} />
                </Table.Td>
              ))}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <Text size="xs" c="gray.7" id="menu-matrix-note">
        {adminRole
          ? "管理者はマイナンバー表示（マスク解除）を除くすべてのメニューを更新できます（この表は一般職員になった場合に使われます）。"
          : "「更新」は「閲覧」を含みます。"}
      </Text>
      {error ? <Text size="sm" c="red.9" role="alert">{error}</Text> : null}
    </Stack>
  );
}

export function JigyoshoGrantEditor({ all, ids, options, onChange, error }: {
  all: boolean;
  ids: string[];
  options: JigyoshoOption[] | null;
  onChange: (all: boolean, ids: string[]) => void;
  error?: string | undefined;
}) {
  return (
    <Stack gap={4} data-testid="jigyosho-grants">
      <Checkbox label="すべての事業所（今後登録される事業所を含む）" checked={all}
        onChange={(e) => onChange(e.currentTarget.checked, ids)} />
      {!all && options !== null ? (
        <Checkbox.Group label="閲覧・操作できる事業所" value={ids} onChange={(v) => onChange(false, v)}>
          <Stack gap={4} mt={4}>
            {options.length === 0 ? <Text size="sm">登録された事業所はありません。</Text> : null}
            {options.map((o) => (
              <Checkbox key={o.id} value={o.id} label={o.closed ? `${o.name}（廃止）` : o.name} />
            ))}
          </Stack>
        </Checkbox.Group>
      ) : null}
      {!all && options === null ? (
        <Text size="sm">事業所の一覧を読む権限がありません（事業所管理メニュー）。</Text>
      ) : null}
      {error ? <Text size="sm" c="red.9" role="alert">{error}</Text> : null}
    </Stack>
  );
}
