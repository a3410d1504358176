// The 事業所 as the grant editors and the master list read them: a 社労士 office files for hundreds
// of employers, so they are found by name / kana / number on the server (`q`) and paged, never
// cut at the first page.
import { useQuery } from "@tanstack/react-query";
import { accountsApi, call } from "../../api/client";
import { PAGE } from "./common";

export interface JigyoshoOption { id: string; name: string; closed: boolean }

/** One page of the 事業所 matching `q` (all when empty). */
export function useJigyoshoPage(enabled: boolean, q: string, offset: number) {
  return useQuery({
    queryKey: ["jigyosho", "search", q, offset],
    enabled,
    queryFn: async () => {
      const query = { limit: PAGE, offset, ...(q ? { q } : {}) };
      const r = await call(() => accountsApi.GET("/api/v1/accounts/jigyosho", { params: { query } }));
      if (!r.ok) throw r.problem;
      return { total: r.data.total,
        items: r.data.items.map((j): JigyoshoOption => ({ id: j.id, name: j.name, closed: j.status === "closed" })) };
    },
  });
}

/** Every 事業所's name by id (page after page), to show the ones a grant names. */
export function useJigyoshoNames(enabled: boolean) {
  return useQuery({
    queryKey: ["jigyosho", "names"],
    enabled,
    queryFn: async (): Promise<Map<string, string>> => {
      const names = new Map<string, string>();
      for (let offset = 0; ; offset += PAGE) {
        const r = await call(() => accountsApi.GET("/api/v1/accounts/jigyosho", { params: { query: { limit: PAGE, offset } } }));
        if (!r.ok) throw r.problem;
        for (const j of r.data.items) names.set(j.id, j.name);
        if (r.data.items.length === 0 || offset + PAGE >= r.data.total) return names;
      }
    },
  });
}
