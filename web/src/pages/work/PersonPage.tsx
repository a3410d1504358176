// A person's page: who they are, whether they are insured (and why — koyo_hoken's eligibility
// decision with its rule), their history and procedures, and My Number: masked; revealed only for
// a user with the grant, each reveal recorded by the API in the operation log (said on screen).
import { Alert, Anchor, Box, Button, Card, Group, Stack, Table, Text, Title } from "@mantine/core";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useParams } from "react-router";
import { call, koyoApi } from "../../api/client";
import type { Problem } from "../../api/problem";
import { formatDate, formatDateTime, formatNumber } from "../../format";
import { ProblemAlert } from "../LoginPage";
import { useMenus } from "../logs/access";
import {
  EMPLOYMENT_LABELS, GENDER_LABELS, KIND_LABELS, KOYO_MENU, MY_NUMBER_MENU, PERSON_STATUS_LABELS,
  Refused, STATE_LABELS, fullName, kanaName, label, suggestReplacement, useJigyoshoName, usePerson, type Person,
} from "./common";

function Field({ name, children, testId }: { name: string; children: React.ReactNode; testId?: string }) {
  return (
    <Stack gap={0}>
      <Text size="xs" c="gray.7">{name}</Text>
      <Text size="sm" data-testid={testId}>{children}</Text>
    </Stack>
  );
}

function Eligibility({ person }: { person: Person }) {
  const decision = useQuery({
    queryKey: ["eligibility", person.id, person.version],
    queryFn: async () => {
      const r = await call(() => koyoApi.POST("/api/v1/koyo-hoken/eligibility", { body: {
        on: person.hire_date, birth_date: person.birth_date, weekly_hours: person.weekly_hours,
        employment_start: person.hire_date, contract_end: person.contract_end ?? null,
        renewal_clause: person.renewal_clause ?? false, renewal_practice: false, student: person.student as never,
      } }));
      if (!r.ok) throw r.problem;
      return r.data;
    },
  });
  const d = decision.data;
  return (
    <Card withBorder padding="md" aria-labelledby="eligibility-title">
      <Title order={2} size="h4" id="eligibility-title">適用判定（雇用開始日 {formatDate(person.hire_date)} 時点）</Title>
      <ProblemAlert problem={(decision.error as Problem | null) ?? null} />
      {d && (
        <Stack gap={4} mt="sm" data-testid="eligibility">
          <Group gap="xs">
            <Text fw={700} data-testid="eligibility-result">{d.insured ? "被保険者となります" : "被保険者となりません"}</Text>
            {d.category && <Text size="sm">{d.category}</Text>}
          </Group>
          <Text size="sm" data-testid="eligibility-reason">理由: {d.reason}</Text>
          <Text size="xs" c="gray.7">週所定労働時間 {person.weekly_hours} 時間（基準 {d.weekly_hours_min} 時間以上）・判定時 {d.age} 歳・適用した規則 {d.rule_version}</Text>
          {d.notes.map((n) => <Text key={n} size="xs">{n}</Text>)}
          {d.multi_job && <Text size="xs">{d.multi_job.explanation}</Text>}
        </Stack>
      )}
    </Card>
  );
}

function MyNumber({ person, canReveal }: { person: Person; canReveal: boolean }) {
  const [shown, setShown] = useState<string | null>(null);
  const reveal = useMutation({
    mutationFn: async () => {
      const r = await call(() => koyoApi.GET("/api/v1/koyo-hoken/insured-persons/{person_id}/my-number",
        { params: { path: { person_id: person.id } } }));
      if (!r.ok) throw r.problem;
      return r.data.my_number;
    },
    onSuccess: setShown,
  });
  return (
    <Card withBorder padding="md" aria-labelledby="mynumber-title">
      <Title order={2} size="h4" id="mynumber-title">個人番号（マイナンバー）</Title>
      {!person.my_number_registered && <Text size="sm" mt="sm" data-testid="my-number-none">未登録です。</Text>}
      {person.my_number_registered && (
        <Stack gap="xs" mt="sm">
          <Text ff="monospace" size="lg" data-testid="my-number">{shown ?? person.my_number_masked ?? "************"}</Text>
          {canReveal ? (
            <>
              <Group gap="xs">
                {shown === null
                  ? <Button size="xs" variant="default" onClick={() => reveal.mutate()} loading={reveal.isPending}
                      data-testid="my-number-reveal">番号を表示</Button>
                  : <Button size="xs" variant="default" onClick={() => setShown(null)} data-testid="my-number-hide">隠す</Button>}
              </Group>
              <Text size="xs" c="gray.7" data-testid="my-number-notice">表示は操作ログに記録されます（誰が・いつ・どの被保険者の番号を表示したか）。</Text>
            </>
          ) : (
            <Text size="xs" c="gray.7" data-testid="my-number-no-grant">番号の表示には「マイナンバー表示（マスク解除）」の権限が必要です。</Text>
          )}
          <ProblemAlert problem={(reveal.error as Problem | null) ?? null} />
        </Stack>
      )}
    </Card>
  );
}

function CharWarnings({ person }: { person: Person }) {
  if (!(person.egov_char_warnings ?? []).length) return null;
  const names: Record<string, string> = { family_name: "氏", given_name: "名", family_name_kana: "フリガナ（氏）", given_name_kana: "フリガナ（名）" };
  return (
    <Alert color="yellow" title="電子申請で使えない文字があります" data-testid="char-warnings">
      <Stack gap={2}>
        {(person.egov_char_warnings ?? []).map((w) => {
          const s = suggestReplacement(w.char);
          return (
            <Text size="sm" key={`${w.field}-${w.position}`} data-testid="char-warning">
              {names[w.field] ?? w.field} {w.position + 1}文字目「{w.char}」: {w.reason}
              {s ? `（置き換えの候補: 「${s}」）` : "（置き換える文字を本人に確認してください）"}
            </Text>
          );
        })}
      </Stack>
    </Alert>
  );
}

export default function PersonPage() {
  const { personId = "" } = useParams();
  const person = usePerson(personId);
  const menus = useMenus();
  const place = useJigyoshoName();
  const procedures = useQuery({
    queryKey: ["person-procedures", personId],
    enabled: person.isSuccess,
    queryFn: async () => {
      const r = await call(() => koyoApi.GET("/api/v1/koyo-hoken/procedures",
        { params: { query: { insured_person_id: personId, limit: 100, sort: "-created_at" } } }));
      if (!r.ok) throw r.problem;
      return r.data;
    },
  });
  if (person.isPending) return <Text>読み込み中…</Text>;
  if (person.isError) return <Refused problem={person.error as unknown as Problem} what="被保険者" />;
  const p = person.data;
  const canWrite = menus.data?.[KOYO_MENU] === "write";
  const canReveal = Boolean(menus.data?.[MY_NUMBER_MENU]);
  const openShutoku = procedures.data?.items.find((x) => x.kind === "shikaku_shutoku" && x.state !== "withdrawn");
  const history = [
    { at: p.created_at, text: "被保険者として登録" },
    ...(p.updated_at && p.updated_at !== p.created_at ? [{ at: p.updated_at, text: `最終更新（版 ${p.version}）` }] : []),
    ...(procedures.data?.items ?? []).flatMap((x) => [
      { at: x.created_at, text: `${label(KIND_LABELS, x.kind)}を作成` },
      ...(x.updated_at !== x.created_at ? [{ at: x.updated_at, text: `${label(KIND_LABELS, x.kind)}: ${label(STATE_LABELS, x.state)}` }] : []),
    ]),
  ].sort((a, b) => b.at.localeCompare(a.at));
  return (
    <Stack>
      <Group justify="space-between" align="baseline">
        <Stack gap={0}>
          <Text size="sm" c="gray.7">{kanaName(p)}</Text>
          <Title order={1} size="h2" data-testid="person-name">{fullName(p)}</Title>
        </Stack>
        <Group>
          <Anchor component={Link} to={`/jigyosho/${p.jigyosho_id}/persons`}>{place(p.jigyosho_id)} の被保険者一覧へ</Anchor>
          {canWrite && (
            <Button component={Link} to={`/persons/${p.id}/hire`} data-testid="start-hire">
              {openShutoku ? "資格取得届を開く" : "資格取得届を作成"}
            </Button>
          )}
        </Group>
      </Group>
      <CharWarnings person={p} />
      <Card withBorder padding="md">
        <Box className="facts-grid">
          <Field name="事業所">{place(p.jigyosho_id)}</Field>
          <Field name="被保険者番号" testId="person-number">{p.hihokensha_bango ?? "未取得"}</Field>
          <Field name="状態">{label(PERSON_STATUS_LABELS, p.status)}</Field>
          <Field name="生年月日">{formatDate(p.birth_date)}</Field>
          <Field name="性別">{label(GENDER_LABELS, p.gender)}</Field>
          <Field name="雇用開始日">{formatDate(p.hire_date)}</Field>
          <Field name="雇用形態">{label(EMPLOYMENT_LABELS, p.employment_type)}</Field>
          <Field name="週所定労働時間">{p.weekly_hours} 時間</Field>
          <Field name="賃金月額">{p.monthly_wage != null ? `${formatNumber(p.monthly_wage)} 円` : "—"}</Field>
          <Field name="職種">{p.job_type ?? "—"}</Field>
          <Field name="契約期間の末日">{p.contract_end ? formatDate(p.contract_end) : "定めなし"}</Field>
          <Field name="離職日">{formatDate(p.leave_date ?? null)}</Field>
        </Box>
      </Card>
      <Eligibility person={p} />
      <MyNumber person={p} canReveal={canReveal} />
      <Card withBorder padding="md" aria-labelledby="procedures-title">
        <Title order={2} size="h4" id="procedures-title">手続</Title>
        <ProblemAlert problem={(procedures.error as Problem | null) ?? null} />
        {procedures.data && procedures.data.items.length === 0 && <Text size="sm" mt="sm">手続はまだありません。</Text>}
        {procedures.data && procedures.data.items.length > 0 && (
          <Table mt="sm" data-testid="person-procedures" aria-label="手続">
            <Table.Thead>
              <Table.Tr><Table.Th>手続</Table.Th><Table.Th>事由発生日</Table.Th><Table.Th>提出期限</Table.Th><Table.Th>状態</Table.Th><Table.Th>電子申請</Table.Th></Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {procedures.data.items.map((x) => (
                <Table.Tr key={x.id} data-testid="procedure-row" data-procedure-id={x.id}>
                  <Table.Td>{x.kind === "shikaku_shutoku" && canWrite
                    ? <Anchor component={Link} to={`/persons/${p.id}/hire`}>{label(KIND_LABELS, x.kind)}</Anchor>
                    : label(KIND_LABELS, x.kind)}</Table.Td>
                  <Table.Td>{formatDate(x.event_date)}</Table.Td>
                  <Table.Td>{formatDate(x.due_date)}</Table.Td>
                  <Table.Td>{label(STATE_LABELS, x.state)}</Table.Td>
                  <Table.Td>{x.filing_id ? (x.filing_status ?? "作成済み") : "—"}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Card>
      <Card withBorder padding="md" aria-labelledby="history-title">
        <Title order={2} size="h4" id="history-title">履歴</Title>
        <Table mt="sm" data-testid="person-history" aria-label="履歴">
          <Table.Tbody>
            {history.map((h, i) => (
              <Table.Tr key={`${h.at}-${i}`}><Table.Td w={320}>{formatDateTime(h.at)}</Table.Td><Table.Td>{h.text}</Table.Td></Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Card>
    </Stack>
  );
}

