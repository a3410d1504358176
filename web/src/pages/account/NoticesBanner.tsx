// Current notices (maintenance, end of service, information) after login, with their dates, from
// accounts' GET /notices/current (to everyone, and to the caller's tenant).
import { Alert, Stack, Text } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { accountsApi, call } from "../../api/client";
import type { components } from "../../api/generated/accounts";
import { formatDateTime } from "../../format";

type Notice = components["schemas"]["NoticeOut"];

const KIND: Record<Notice["kind"], { label: string; color: string }> = {
  maintenance: { label: "メンテナンス", color: "yellow" },
  end_of_service: { label: "サービス終了", color: "red" },
  information: { label: "お知らせ", color: "blue" },
};

function period(n: Notice): string | null {
  if (n.starts_at && n.ends_at) return `${formatDateTime(n.starts_at)} 〜 ${formatDateTime(n.ends_at)}`;
  if (n.starts_at) return `${formatDateTime(n.starts_at)} から`;
  if (n.ends_at) return `${formatDateTime(n.ends_at)} まで`;
  return null;
}

export function NoticesBanner() {
  const notices = useQuery({
    queryKey: ["notices", "current"],
    queryFn: async () => {
      const r = await call(() => accountsApi.GET("/api/v1/accounts/notices/current"));
      if (!r.ok) throw r.problem;
      return r.data.items;
    },
    staleTime: 5 * 60_000,
  });
  if (!notices.data?.length) return null;
  return (
    <Stack gap="xs" component="section" aria-label="お知らせ" data-testid="notices">
      {notices.data.map((n) => {
        const k = KIND[n.kind];
        const when = period(n);
        return (
          <Alert key={n.id} color={n.emergency ? "red" : k.color} title={`【${k.label}】${n.title}`}
            data-testid="notice">
            {when && <Text size="sm" fw={700} data-testid="notice-period">{when}</Text>}
            {/* The body is data: rendered as text. */}
            <Text size="sm" className="notice-body">{n.body}</Text>
            {n.emergency && n.emergency_reason && <Text size="sm">緊急: {n.emergency_reason}</Text>}
          </Alert>
        );
      })}
    </Stack>
  );
}
