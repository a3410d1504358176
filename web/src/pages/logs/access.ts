// Which menus the signed-in user may use (accounts' GET /me/permissions): the console shows a menu
// only when it is granted; every API refuses on its own whatever the console shows.
import { useQuery } from "@tanstack/react-query";
import { accountsApi, call } from "../../api/client";

/** The operation-log menu (shared/permissions.py OPERATION_LOGS): the ログ管理 screen. */
export const LOG_MENU = "operation_logs";

export function useMenus() {
  return useQuery({
    queryKey: ["my-permissions"],
    queryFn: async () => {
      const r = await call(() => accountsApi.GET("/api/v1/accounts/me/permissions"));
      if (!r.ok) throw r.problem;
      return r.data.menus;
    },
    staleTime: 60_000,
  });
}
