// What the work screens (issue 21: ダッシュボード, 事業所 → 被保険者, 手続) share: the names the office
// reads for kinds and states, the 事業所 the user may see, and the refusal screen.
import { Alert, Anchor, Stack, Text } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { accountsApi, call, koyoApi } from "../../api/client";
import type { components } from "../../api/generated/koyo_hoken";
import type { Problem } from "../../api/problem";

export type Person = components["schemas"]["InsuredPersonOut"];
export type Procedure = components["schemas"]["ProcedureOut"];
export type DeadlineItem = components["schemas"]["DeadlineItem"];

export const KOYO_MENU = "koyo_hoken";
export const EFILING_MENU = "efiling";
export const MY_NUMBER_MENU = "my_number_unmasked";

export const KIND_LABELS: Record<string, string> = {
  shikaku_shutoku: "資格取得届",
  shikaku_soshitsu: "資格喪失届",
  shikaku_soshitsu_rishoku: "資格喪失届（離職証明書付き）",
  tenkin: "転勤届",
};

export const STATE_LABELS: Record<string, string> = {
  draft: "下書き", checked: "点検済み", ready: "提出準備完了", submitted: "提出済み", accepted: "受付",
  returned: "返戻・補正", completed: "手続終了", withdrawn: "取下げ",
};

export const FILING_STATUS_LABELS: Record<string, string> = {
  draft: "下書き", submitting: "送信中", unknown: "送信結果不明", needs_review: "要確認", failed: "送信失敗",
  arrived: "到達", under_review: "審査中", correction_requested: "補正待ち", reviewed: "審査終了",
  completed: "手続終了", rejected: "却下", withdrawing: "取下げ中", withdrawn: "取下げ",
};

export const PERSON_STATUS_LABELS: Record<string, string> = { active: "在籍", left: "離職", transferred: "転勤" };

export const GENDER_LABELS: Record<string, string> = { male: "男", female: "女" };

export const EMPLOYMENT_LABELS: Record<string, string> = {
  regular: "正社員", part_time: "パート", fixed_term: "有期契約", dispatched: "派遣", seasonal: "季節",
  daily: "日雇", seafarer: "船員", other: "その他",
};

export function label(map: Record<string, string>, value: string | null | undefined): string {
  if (!value) return "—";
  return map[value] ?? value;
}

export function fullName(p: Pick<Person, "family_name" | "given_name">): string {
  return `${p.family_name} ${p.given_name}`;
}

export function kanaName(p: Pick<Person, "family_name_kana" | "given_name_kana">): string {
  return `${p.family_name_kana} ${p.given_name_kana}`;
}

/** The 事業所 names by id: from the 事業所 master where the user may read it (every page of it);
 * a user without that menu sees the ids the API answers instead. */
export function useJigyoshoDirectory() {
  return useQuery({
    queryKey: ["work-jigyosho"],
    queryFn: async (): Promise<{ names: Map<string, string>; numbers: Map<string, string | null>; listed: boolean }> => {
      const names = new Map<string, string>();
      const numbers = new Map<string, string | null>();
      for (let offset = 0; ; offset += 100) {
        const r = await call(() => accountsApi.GET("/api/v1/accounts/jigyosho", { params: { query: { limit: 100, offset } } }));
        if (!r.ok) return { names, numbers, listed: false };
        for (const j of r.data.items) {
          names.set(j.id, j.name);
          numbers.set(j.id, j.employment_insurance_office_number ?? null);
        }
        if (r.data.items.length === 0 || offset + 100 >= r.data.total) return { names, numbers, listed: true };
      }
    },
    staleTime: 5 * 60_000,
  });
}

export function useJigyoshoName() {
  const d = useJigyoshoDirectory();
  return (id: string) => d.data?.names.get(id) ?? id;
}

/** One person, as the API answers it (a 404 for another 事業所's person is a refusal). */
export function usePerson(personId: string) {
  return useQuery({
    queryKey: ["person", personId],
    queryFn: async () => {
      const r = await call(() => koyoApi.GET("/api/v1/koyo-hoken/insured-persons/{person_id}",
        { params: { path: { person_id: personId } } }));
      if (!r.ok) throw r.problem;
      return r.data;
    },
    retry: false,
  });
}

/** Another 事業所's data (or none at all): said plainly, never shown, whatever the URL. */
export function Refused({ problem, what }: { problem: Problem | null; what: string }) {
  const denied = !problem || [403, 404].includes(problem.status);
  return (
    <Stack mt="md" data-testid="refused">
      <Alert color="red" role="alert" title={denied ? `この${what}は表示できません` : problem.title}>
        <Text size="sm">
          {denied
            ? `存在しないか、閲覧する権限のない事業所の${what}です。権限が必要な場合は事務所の管理者に依頼してください。`
            : problem.detail ?? "時間をおいて再度お試しください。"}
        </Text>
      </Alert>
      <Anchor component={Link} to="/jigyosho">事業所一覧に戻る</Anchor>
    </Stack>
  );
}

/** e-Gov does not take every character (JIS X 0208 only): the API names the rejected ones; the
 * console suggests what offices usually write instead (NFKC for 半角カナ, 丸数字, ローマ数字, 組文字;
 * the common 異体字 by hand). The person decides; nothing is replaced without them. */
const VARIANTS: Record<string, string> = { "髙": "高", "﨑": "崎", "𠮷": "吉", "德": "徳", "栁": "柳", "濵": "濱" };

export function suggestReplacement(ch: string): string | null {
  if (VARIANTS[ch]) return VARIANTS[ch] as string;
  const n = ch.normalize("NFKC");
  return n !== ch ? n : null;
}
