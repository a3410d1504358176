// 事業所マスタ: the 事業所 granted to the user — create (all 事業所 needed), edit (If-Match), close (廃止).
import { Button, Group, NativeSelect, Paper, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { accountsApi, call } from "../../api/client";
import type { components } from "../../api/generated/accounts";
import type { Problem } from "../../api/problem";
import { canWrite, type Permissions } from "./access";
import { Done, PAGE, Pager, ProblemAlert, asProblem, formErrors, formatDate, ifMatch } from "./common";

type Jigyosho = components["schemas"]["JigyoshoOut"];
type Kubun = "ippan" | "norin_shuzo" | "kensetsu";
const KUBUN: { value: Kubun; label: string }[] = [
  { value: "ippan", label: "一般" }, { value: "norin_shuzo", label: "農林水産・清酒製造" }, { value: "kensetsu", label: "建設" },
];

interface Draft {
  name: string; name_kana: string; address: string; postal_code: string; labour_insurance_number: string;
  employment_insurance_office_number: string; koyo_jigyo_kubun: Kubun; rousai_gyoshu_code: string; headcount: string;
}

function draftOf(j: Jigyosho | null): Draft {
  return {
    name: j?.name ?? "", name_kana: j?.name_kana ?? "", address: j?.address ?? "", postal_code: j?.postal_code ?? "",
    labour_insurance_number: j?.labour_insurance_number ?? "",
    employment_insurance_office_number: j?.employment_insurance_office_number ?? "",
    koyo_jigyo_kubun: (j?.koyo_jigyo_kubun as Kubun | undefined) ?? "ippan",
    rousai_gyoshu_code: j?.rousai_gyoshu_code ?? "", headcount: j?.headcount == null ? "" : String(j.headcount),
  };
}

// The date in Japan ("sv-SE" formats as YYYY-MM-DD), the default 廃止日.
const todayInTokyo = () => new Intl.DateTimeFormat("sv-SE", { timeZone: "Asia/Tokyo" }).format(new Date());
const orNull = (s: string) => (s.trim() === "" ? null : s.trim());

function JigyoshoForm({ j, onClose }: { j: Jigyosho | null; onClose: (msg: string) => void }) {
  const [d, setD] = useState(() => draftOf(j));
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const errors = formErrors(problem);
  const headcountError = d.headcount.trim() !== "" && !/^\d+$/.test(d.headcount.trim()) ? "半角数字で入力してください" : undefined;

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (headcountError) return;
    setBusy(true);
    const body = {
      name: d.name, name_kana: d.name_kana, address: d.address, postal_code: orNull(d.postal_code),
      labour_insurance_number: orNull(d.labour_insurance_number),
      employment_insurance_office_number: orNull(d.employment_insurance_office_number),
      koyo_jigyo_kubun: d.koyo_jigyo_kubun, rousai_gyoshu_code: orNull(d.rousai_gyoshu_code),
      headcount: d.headcount.trim() === "" ? null : Number(d.headcount), contacts: j?.contacts ?? [],
    };
    const r = j
      ? await call(() => accountsApi.PUT("/api/v1/accounts/jigyosho/{jigyosho_id}", {
        params: { path: { jigyosho_id: j.id }, header: ifMatch(j.version) }, body,
      }))
      : await call(() => accountsApi.POST("/api/v1/accounts/jigyosho", { body }));
    setBusy(false);
    if (!r.ok) {
      setProblem(r.problem);
      return;
    }
    onClose(`${r.data.name} を${j ? "更新" : "登録"}しました。`);
  }

  const field = (key: keyof Draft, label: string, extra: { description?: string; required?: boolean } = {}) => {
    const err = key === "headcount" ? headcountError ?? errors[key] : errors[key];
    return (
      <TextInput label={label} name={key} value={d[key]} error={err} aria-invalid={!!err} {...extra}
        onChange={(e) => setD({ ...d, [key]: e.currentTarget.value })} />
    );
  };

  return (
    <Paper withBorder p="md" component="form" onSubmit={submit} aria-labelledby="jigyosho-form-title" noValidate>
      <Stack>
        <Title order={3} size="h4" id="jigyosho-form-title">{j ? "事業所の編集" : "事業所の登録"}</Title>
        <ProblemAlert problem={problem} />
        <div className="admin-grid">
          {field("name", "事業所名", { required: true })}
          {field("name_kana", "事業所名（カナ）", { required: true, description: "全角カタカナ" })}
          {field("postal_code", "郵便番号", { description: "例: 100-0001" })}
          {field("address", "所在地", { required: true })}
          {field("labour_insurance_number", "労働保険番号", { description: "14桁（区切りは自由）" })}
          {field("employment_insurance_office_number", "雇用保険適用事業所番号", { description: "例: 1301-123456-7" })}
          <NativeSelect label="雇用保険の事業区分" name="koyo_jigyo_kubun" value={d.koyo_jigyo_kubun} data={KUBUN}
            error={errors.koyo_jigyo_kubun} onChange={(e) => setD({ ...d, koyo_jigyo_kubun: e.currentTarget.value as Kubun })} />
          {field("rousai_gyoshu_code", "労災保険の事業の種類（番号2桁）")}
          {field("headcount", "従業員数")}
        </div>
        <Group>
          <Button type="submit" loading={busy}>{j ? "保存" : "登録"}</Button>
          <Button variant="default" onClick={() => onClose("")}>閉じる</Button>
        </Group>
      </Stack>
    </Paper>
  );
}

export function JigyoshoSection({ perms }: { perms: Permissions }) {
  const qc = useQueryClient();
  const [editing, setEditing] = useState<Jigyosho | "new" | null>(null);
  const [closing, setClosing] = useState<{ j: Jigyosho; on: string } | null>(null);
  const [message, setMessage] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const [offset, setOffset] = useState(0);
  const [q, setQ] = useState("");
  const [term] = useDebouncedValue(q.trim(), 300);
  const writable = canWrite(perms, "jigyosho_admin");
  const list = useQuery({
    queryKey: ["jigyosho", "list", term, offset],
    queryFn: async () => {
      const query = { limit: PAGE, offset, ...(term ? { q: term } : {}) };
      const r = await call(() => accountsApi.GET("/api/v1/accounts/jigyosho", { params: { query } }));
      if (!r.ok) throw r.problem;
      return r.data;
    },
  });
  const refresh = () => qc.invalidateQueries({ queryKey: ["jigyosho"] });

  async function close(e: FormEvent) {
    e.preventDefault();
    if (!closing) return;
    const r = await call(() => accountsApi.POST("/api/v1/accounts/jigyosho/{jigyosho_id}/close", {
      params: { path: { jigyosho_id: closing.j.id }, header: ifMatch(closing.j.version) }, body: { closed_on: closing.on },
    }));
    if (!r.ok) {
      setProblem(r.problem);
      return;
    }
    setProblem(null);
    setClosing(null);
    setMessage(`${r.data.name} を廃止しました。`);
    await refresh();
  }
  const closeErrors = formErrors(problem);

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2} size="h3">事業所</Title>
        {writable && perms.jigyosho.all && editing === null
          ? <Button onClick={() => { setMessage(""); setEditing("new"); }}>事業所を登録</Button> : null}
      </Group>
      {!perms.jigyosho.all ? <Text size="sm">権限のある事業所だけが表示されます。</Text> : null}
      {message ? <Done onClose={() => setMessage("")}>{message}</Done> : null}
      {editing !== null ? (
        <JigyoshoForm key={editing === "new" ? "new" : editing.id} j={editing === "new" ? null : editing}
          onClose={(msg) => { setEditing(null); setMessage(msg); void refresh(); }} />
      ) : null}
      {closing ? (
        <Paper withBorder p="md" component="form" onSubmit={close} aria-label="事業所の廃止" noValidate>
          <Stack>
            <Text fw={700}>{closing.j.name} を廃止します</Text>
            <ProblemAlert problem={problem} />
            <TextInput type="date" label="廃止日" name="closed_on" required value={closing.on}
              error={closeErrors.closed_on} aria-invalid={!!closeErrors.closed_on}
              onChange={(e) => setClosing({ ...closing, on: e.currentTarget.value })} />
            <Group>
              <Button type="submit" color="red.9">廃止する</Button>
              <Button variant="default" onClick={() => { setClosing(null); setProblem(null); }}>やめる</Button>
            </Group>
          </Stack>
        </Paper>
      ) : null}
      {list.isError ? <ProblemAlert problem={asProblem(list.error)} testId="list-error" /> : null}
      <TextInput label="事業所を検索" description="名称・カナ・労働保険番号・雇用保険適用事業所番号の一部" type="search"
        value={q} data-testid="jigyosho-list-search" maw={480}
        onChange={(e) => { setQ(e.currentTarget.value); setOffset(0); }} />
      <Table withTableBorder striped highlightOnHover data-testid="jigyosho-table">
        <Table.Caption>{list.data ? `${list.data.total} 件` : "読み込み中"}</Table.Caption>
        <Table.Thead>
          <Table.Tr>
            <Table.Th scope="col">事業所名</Table.Th>
            <Table.Th scope="col">所在地</Table.Th>
            <Table.Th scope="col">労働保険番号</Table.Th>
            <Table.Th scope="col">状態</Table.Th>
            {writable ? <Table.Th scope="col">操作</Table.Th> : null}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {(list.data?.items ?? []).map((j) => (
            <Table.Tr key={j.id} data-testid="jigyosho-row">
              <Table.Td>{j.name}<Text size="xs" c="gray.7">{j.name_kana}</Text></Table.Td>
              <Table.Td>{j.address}</Table.Td>
              <Table.Td>{j.labour_insurance_number ?? "—"}</Table.Td>
              <Table.Td>
                {j.status === "closed"
                  ? <Text size="sm" fw={700} component="span">廃止（{formatDate(j.closed_on)}）</Text>
                  : <Text size="sm" fw={700} component="span">有効</Text>}
              </Table.Td>
              {writable ? (
                <Table.Td>
                  {j.status === "closed" ? null : (
                    <Group gap={4} wrap="nowrap">
                      <Button size="xs" variant="default" aria-label={`${j.name} を編集`}
                        onClick={() => { setMessage(""); setEditing(j); }}>編集</Button>
                      <Button size="xs" variant="default" aria-label={`${j.name} を廃止`}
                        onClick={() => { setProblem(null); setClosing({ j, on: todayInTokyo() }); }}>廃止</Button>
                    </Group>
                  )}
                </Table.Td>
              ) : null}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <Pager offset={offset} total={list.data?.total ?? 0} onChange={setOffset} />
    </Stack>
  );
}
