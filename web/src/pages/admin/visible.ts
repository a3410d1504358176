// Whether the header shows 管理: a module of its own, so that the 管理 screens themselves load only
// when opened (App.tsx imports them lazily; the initial JavaScript stays small).
import { visibleSections } from "./access";
import { usePermissions } from "./common";

export function useAdminVisible(): boolean {
  const perms = usePermissions();
  return visibleSections(perms.data).length > 0;
}
