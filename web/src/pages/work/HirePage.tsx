// 手続: a hire — the 資格取得届 of one person, entered from their page. The API decides: its
// field errors (problem+json) and the problems of its check are shown next to the fields they
// name; characters e-Gov would reject are shown with a suggested replacement before anything is
// sent; a checked 届出 is marked ready and handed to e-filing.
import { Alert, Anchor, Badge, Button, Card, Group, List, NativeSelect, Stack, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { Link, useParams } from "react-router";
import { call, koyoApi } from "../../api/client";
import { fieldErrors, fieldMessage, type Problem } from "../../api/problem";
import { formatDate } from "../../format";
import { useAccount } from "../../session";
import { ProblemAlert } from "../LoginPage";
import { useMenus } from "../logs/access";
import {
  EFILING_MENU, FILING_STATUS_LABELS, KOYO_MENU, Refused, STATE_LABELS, fullName, label, suggestReplacement,
  useJigyoshoDirectory, usePerson, type Person, type Procedure,
} from "./common";

const CAUSES = [
  { value: "", label: "選択してください" },
  { value: "1", label: "1 新規雇用（新規学卒）" },
  { value: "2", label: "2 新規雇用（その他）" },
  { value: "3", label: "3 日雇からの切替" },
  { value: "4", label: "4 その他" },
];

/** The names the check's problems use for the person's fields, as the office reads them. */
const PERSON_FIELDS: Record<string, string> = {
  family_name: "氏", given_name: "名", family_name_kana: "フリガナ（氏）", given_name_kana: "フリガナ（名）",
  gender: "性別", employment_type: "雇用形態", job_type: "職種", wage_payment: "賃金の支払の態様",
  monthly_wage: "賃金月額", my_number: "個人番号", hihokensha_bango: "被保険者番号", romaji_name: "氏名ローマ字",
  residence_status: "在留資格", residence_card_number: "在留カード番号", residence_period_end: "在留期間",
};
const FORM_FIELDS = new Set(["event_date", "jigyosho_number", "cause"]);

interface Draft { eventDate: string; jigyoshoNumber: string; cause: string }

function lastSegment(field: string): string {
  return field.split(".").pop() ?? field;
}

/** The check's problems per form field (errors and warnings), and the person's own apart. */
function checkMessages(pr: Procedure | undefined) {
  const form: Record<string, string> = {};
  const person: { field: string; message: string; severity: string }[] = [];
  const other: { field: string; message: string; severity: string }[] = [];
  for (const x of pr?.problems ?? []) {
    const name = lastSegment(x.field);
    if (x.field.startsWith("person")) person.push({ field: name, message: x.message, severity: x.severity });
    else if (FORM_FIELDS.has(name)) form[name] = form[name] ? `${form[name]} / ${x.message}` : x.message;
    else other.push({ field: x.field, message: x.message, severity: x.severity });
  }
  return { form, person, other };
}

function CharCheck({ person }: { person: Person }) {
  const names: Record<string, string> = PERSON_FIELDS;
  return (
    <Card withBorder padding="md" aria-labelledby="charcheck-title">
      <Title order={2} size="h4" id="charcheck-title">送信前の文字チェック</Title>
      {(person.egov_char_warnings ?? []).length === 0
        ? <Text size="sm" mt="xs" data-testid="char-check-ok">氏名・フリガナに電子申請で使えない文字はありません。</Text>
        : (
          <Stack gap={2} mt="xs" data-testid="char-warnings">
            {(person.egov_char_warnings ?? []).map((w) => {
              const s = suggestReplacement(w.char);
              return (
                <Text size="sm" c="red.9" key={`${w.field}-${w.position}`} data-testid="char-warning">
                  {names[w.field] ?? w.field} {w.position + 1}文字目「{w.char}」: {w.reason}
                  {s ? ` → 置き換えの候補「${s}」` : "（置き換える文字を本人に確認してください）"}
                </Text>
              );
            })}
            <Anchor size="sm" component={Link} to={`/persons/${person.id}`}>被保険者の情報を確認する</Anchor>
          </Stack>
        )}
    </Card>
  );
}

export default function HirePage() {
  const { personId = "" } = useParams();
  const person = usePerson(personId);
  const menus = useMenus();
  const account = useAccount();
  const directory = useJigyoshoDirectory();
  const queryClient = useQueryClient();
  const existing = useQuery({
    queryKey: ["person-procedures", personId, "shikaku_shutoku"],
    enabled: person.isSuccess,
    queryFn: async () => {
      const r = await call(() => koyoApi.GET("/api/v1/koyo-hoken/procedures",
        { params: { query: { insured_person_id: personId, kind: "shikaku_shutoku", limit: 20, sort: "-created_at" } } }));
      if (!r.ok) throw r.problem;
      return r.data.items.find((x) => x.state !== "withdrawn") ?? null;
    },
  });
  const [procedure, setProcedure] = useState<Procedure | null>(null);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const pr = procedure ?? existing.data ?? null;

  useEffect(() => {
    // The form starts from the procedure (when there is one) or from the person and the 事業所.
    if (draft || !person.data || existing.isPending) return;
    const details = (pr?.details ?? {}) as { jigyosho_number?: string; cause?: string };
    setDraft({
      eventDate: pr?.event_date ?? person.data.hire_date,
      jigyoshoNumber: details.jigyosho_number ?? directory.data?.numbers.get(person.data.jigyosho_id) ?? "",
      cause: details.cause ?? "",
    });
  }, [draft, person.data, existing.isPending, pr, directory.data]);

  function done(next: Procedure) {
    setProcedure(next);
    setProblem(null);
    void queryClient.invalidateQueries({ queryKey: ["person-procedures", personId] });
    void queryClient.invalidateQueries({ queryKey: ["deadlines"] });
  }

  async function check(target: Procedure): Promise<Procedure> {
    const r = await call(() => koyoApi.POST("/api/v1/koyo-hoken/procedures/{procedure_id}/check",
      { params: { path: { procedure_id: target.id }, header: { "If-Match": `"${target.version}"` } } }));
    if (!r.ok) throw r.problem;
    return r.data;
  }

  const save = useMutation({
    mutationFn: async (d: Draft): Promise<Procedure> => {
      const details = { jigyosho_number: d.jigyoshoNumber.trim() || null, cause: d.cause || null, tokutei: false };
      if (!pr) {
        const r = await call(() => koyoApi.POST("/api/v1/koyo-hoken/procedures", { body: {
          insured_person_id: personId, kind: "shikaku_shutoku", event_date: d.eventDate, details, with_rishoku_shomeisho: false,
        } }));
        if (!r.ok) throw r.problem;
        return check(r.data);
      }
      const r = await call(() => koyoApi.PATCH("/api/v1/koyo-hoken/procedures/{procedure_id}", {
        params: { path: { procedure_id: pr.id }, header: { "If-Match": `"${pr.version}"` } },
        body: { event_date: d.eventDate, details },
      }));
      if (!r.ok) throw r.problem;
      return check(r.data);
    },
    onSuccess: done,
    onError: (e) => setProblem(e as unknown as Problem),
  });
  const step = useMutation({
    mutationFn: async (action: "ready" | "efiling"): Promise<Procedure> => {
      if (!pr) throw new Error("no procedure");
      const r = action === "ready"
        ? await call(() => koyoApi.POST("/api/v1/koyo-hoken/procedures/{procedure_id}/ready",
          { params: { path: { procedure_id: pr.id }, header: { "If-Match": `"${pr.version}"` } } }))
        : await call(() => koyoApi.POST("/api/v1/koyo-hoken/procedures/{procedure_id}/efiling", {
          params: { path: { procedure_id: pr.id } },
          body: { applicant: { "氏名": account.data?.displayName ?? "" } },
        }));
      if (!r.ok) throw r.problem;
      return r.data;
    },
    onSuccess: done,
    onError: (e) => setProblem(e as unknown as Problem),
  });

  if (person.isPending || existing.isPending) return <Text>読み込み中…</Text>;
  if (person.isError) return <Refused problem={person.error as unknown as Problem} what="被保険者" />;
  const p = person.data;
  if (menus.data && menus.data[KOYO_MENU] !== "write") {
    return <Text role="alert" mt="md" data-testid="no-access">資格取得届の作成には雇用保険メニューの書き込み権限が必要です。</Text>;
  }
  const apiErrors = fieldErrors(problem);
  const checked = checkMessages(pr ?? undefined);
  const errorOf = (name: string) => apiErrors[name] ?? checked.form[name];
  const editable = !pr || ["draft", "checked", "returned"].includes(pr.state);
  const set = (k: keyof Draft) => (e: { currentTarget: { value: string } }) =>
    draft && setDraft({ ...draft, [k]: e.currentTarget.value });

  function submit(e: FormEvent) {
    e.preventDefault();
    if (draft) save.mutate(draft);
  }
  const fieldProps = (name: string) => ({
    error: errorOf(name), "aria-invalid": Boolean(errorOf(name)),
  });
  const otherErrors = (problem?.errors ?? []).filter((x) => !FORM_FIELDS.has(lastSegment(x.field)));

  return (
    <Stack>
      <Group justify="space-between" align="baseline">
        <Title order={1} size="h2">資格取得届 — {fullName(p)}</Title>
        <Anchor component={Link} to={`/persons/${p.id}`}>被保険者の画面へ</Anchor>
      </Group>
      {pr && (
        <Card withBorder padding="md" data-testid="procedure-status" data-procedure-id={pr.id} data-state={pr.state}>
          <Group gap="lg">
            <Text size="sm">状態: <Badge component="span" data-testid="procedure-state">{label(STATE_LABELS, pr.state)}</Badge></Text>
            <Text size="sm" data-testid="procedure-due">提出期限: {formatDate(pr.due_date)}</Text>
            {pr.due_date !== pr.raw_due_date && (
              <Text size="xs" c="gray.7">（本来 {formatDate(pr.raw_due_date)}、行政機関の休日のため繰越し）</Text>
            )}
            {pr.filing_id && <Text size="sm" data-testid="procedure-filing">電子申請: {pr.filing_status ? label(FILING_STATUS_LABELS, pr.filing_status) : "作成済み（電子申請の画面で送信します）"}</Text>}
          </Group>
        </Card>
      )}
      <CharCheck person={p} />
      <ProblemAlert problem={problem} />
      {draft && (
        <form onSubmit={submit} noValidate aria-label="資格取得届の入力">
          <Card withBorder padding="md">
            <Stack>
              <TextInput type="date" label="資格取得年月日" required value={draft.eventDate} onChange={set("eventDate")}
                disabled={!editable} description={draft.eventDate ? formatDate(draft.eventDate) : undefined}
                data-testid="hire-event-date" {...fieldProps("event_date")} />
              <TextInput label="雇用保険適用事業所番号" placeholder="1301-123456-7" value={draft.jigyoshoNumber}
                onChange={set("jigyoshoNumber")} disabled={!editable} data-testid="hire-jigyosho-number"
                {...fieldProps("jigyosho_number")} />
              <NativeSelect label="被保険者となったことの原因" data={CAUSES} value={draft.cause} onChange={set("cause")}
                disabled={!editable} data-testid="hire-cause" {...fieldProps("cause")} />
              {otherErrors.length > 0 && (
                <List size="sm" c="red.9">{otherErrors.map((x) => <List.Item key={x.field}>{fieldMessage(x)}</List.Item>)}</List>
              )}
              <Group>
                <Button type="submit" loading={save.isPending} disabled={!editable} data-testid="hire-save">
                  {pr ? "保存して点検" : "作成して点検"}
                </Button>
              </Group>
            </Stack>
          </Card>
        </form>
      )}
      {pr && (checked.person.length > 0 || checked.other.length > 0) && (
        <Alert color={checked.person.concat(checked.other).some((x) => x.severity === "error") ? "red" : "yellow"}
          title="点検結果: 被保険者の情報" data-testid="check-person-problems">
          <List size="sm">
            {[...checked.person, ...checked.other].map((x, i) => (
              <List.Item key={`${x.field}-${i}`}>
                {x.severity === "warning" ? "（注意）" : ""}{PERSON_FIELDS[x.field] ?? x.field}: {x.message}
              </List.Item>
            ))}
          </List>
          <Anchor size="sm" component={Link} to={`/persons/${p.id}`}>被保険者の画面で確認する</Anchor>
        </Alert>
      )}
      {pr && (
        <Group>
          <Button variant="default" disabled={pr.state !== "checked"} loading={step.isPending && step.variables === "ready"}
            onClick={() => step.mutate("ready")} data-testid="hire-ready">提出準備完了にする</Button>
          {menus.data?.[EFILING_MENU] && (
            <Button disabled={pr.state !== "ready" || Boolean(pr.filing_id)} loading={step.isPending && step.variables === "efiling"}
              onClick={() => step.mutate("efiling")} data-testid="hire-efiling">電子申請に回す</Button>
          )}
          <Text size="xs" c="gray.7">点検で誤りがなくなると「提出準備完了」にでき、その後電子申請に回せます。</Text>
        </Group>
      )}
    </Stack>
  );
}
