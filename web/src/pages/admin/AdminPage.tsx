// 管理: the administration screens, one link per section, each shown only to a user whose
// permissions allow it (the APIs refuse on their own too). /admin/<section> opens one directly.
import { Alert, Button, Group, Loader, Stack, Title } from "@mantine/core";
import { Link, Navigate, useParams } from "react-router";
import "./admin.css";
import { SECTIONS, visibleSections, type Section } from "./access";
import { ProblemAlert, asProblem, usePermissions } from "./common";
import { JigyoshoSection } from "./JigyoshoSection";
import { PartnersSection } from "./PartnersSection";
import { PoliciesSection } from "./PoliciesSection";
import { UsersSection } from "./UsersSection";
import { WebhooksSection } from "./WebhooksSection";

export function AdminPage() {
  const perms = usePermissions();
  const { section } = useParams();
  if (perms.isPending) return <Loader aria-label="読み込み中" />;
  if (perms.isError) return <ProblemAlert problem={asProblem(perms.error)} testId="list-error" />;
  const p = perms.data;
  const visible = visibleSections(p);
  if (visible.length === 0) {
    return (
      <Alert color="red" title="管理画面を使う権限がありません" role="alert" data-testid="admin-forbidden">
        利用者管理・事業所管理のメニュー権限、またはテナント管理者の役割が必要です。
      </Alert>
    );
  }
  const current = visible.includes(section as Section) ? (section as Section) : null;
  if (!current) return <Navigate to={`/admin/${visible[0]}`} replace />;
  return (
    <Stack>
      <Title order={1} size="h2">管理</Title>
      {/* Links, not ARIA tabs: each section is its own address (/admin/<section>), one rendered at a time. */}
      <Group component="nav" aria-label="管理メニュー" gap="xs">
        {SECTIONS.filter((s) => visible.includes(s.key)).map((s) => (
          <Button key={s.key} component={Link} to={`/admin/${s.key}`} size="sm"
            variant={s.key === current ? "filled" : "default"} aria-current={s.key === current ? "page" : undefined}>
            {s.label}
          </Button>
        ))}
      </Group>
      <div data-testid={`admin-${current}`}>
        {current === "users" ? <UsersSection perms={p} /> : null}
        {current === "policies" ? <PoliciesSection /> : null}
        {current === "partners" ? <PartnersSection perms={p} /> : null}
        {current === "webhooks" ? <WebhooksSection /> : null}
        {current === "jigyosho" ? <JigyoshoSection perms={p} /> : null}
      </div>
    </Stack>
  );
}
