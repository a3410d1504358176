// Webhook: endpoints (URL, events), each with its delivery log and redelivery, secret rotation
// (shown once), stop / resume, delete.
import { Button, Checkbox, Group, Paper, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { call, webhooksApi } from "../../api/client";
import type { components } from "../../api/generated/webhooks";
import type { Problem } from "../../api/problem";
import { formatDateTime } from "../../format";
import { Done, ProblemAlert, SecretOnce, formErrors, ifMatch } from "./common";

type Endpoint = components["schemas"]["EndpointOut"];
// The contract lists the event types (an enum); the boxes offered come from GET /event-types.
type EventType = components["schemas"]["WebhookEventType"];
const DELIVERY_STATUS: Record<string, string> = { pending: "送信待ち", succeeded: "成功", failed: "失敗" };

function Deliveries({ endpoint }: { endpoint: Endpoint }) {
  const qc = useQueryClient();
  const [problem, setProblem] = useState<Problem | null>(null);
  const key = ["deliveries", endpoint.id];
  const list = useQuery({
    queryKey: key,
    queryFn: async () => {
      const r = await call(() => webhooksApi.GET("/api/v1/webhooks/endpoints/{endpoint_id}/deliveries", {
        params: { path: { endpoint_id: endpoint.id }, query: { limit: 50 } },
      }));
      if (!r.ok) throw r.problem;
      return r.data;
    },
  });

  async function redeliver(id: string) {
    const r = await call(() => webhooksApi.POST("/api/v1/webhooks/deliveries/{delivery_id}/redeliver", {
      params: { path: { delivery_id: id } },
    }));
    setProblem(r.ok ? null : r.problem);
    await qc.invalidateQueries({ queryKey: key });
  }

  return (
    <Stack gap="xs" data-testid="delivery-log">
      <ProblemAlert problem={problem} testId="delivery-error" />
      <Table withTableBorder striped>
        <Table.Caption>配信履歴（{list.data ? `${list.data.total} 件、新しい順` : "読み込み中"}）</Table.Caption>
        <Table.Thead>
          <Table.Tr>
            <Table.Th scope="col">日時</Table.Th>
            <Table.Th scope="col">イベント</Table.Th>
            <Table.Th scope="col">状態</Table.Th>
            <Table.Th scope="col">試行</Table.Th>
            <Table.Th scope="col">最後の応答</Table.Th>
            <Table.Th scope="col">操作</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {(list.data?.items ?? []).map((d) => (
            <Table.Tr key={d.id}>
              <Table.Td>{formatDateTime(d.created_at)}</Table.Td>
              <Table.Td>{d.event_type}</Table.Td>
              <Table.Td>{DELIVERY_STATUS[d.status] ?? d.status}</Table.Td>
              <Table.Td>{d.attempts}</Table.Td>
              <Table.Td>{d.last_status_code ?? d.last_error ?? "—"}</Table.Td>
              <Table.Td>
                {/* Also while pending (a failing receiver): it is tried again now, with a fresh retry period. */}
                <Button size="xs" variant="default" aria-label={`${d.event_type} を再送`}
                  onClick={() => void redeliver(d.id)}>再送</Button>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {list.data && list.data.total === 0 ? <Text size="sm">まだ配信はありません。</Text> : null}
    </Stack>
  );
}

export function WebhooksSection() {
  const qc = useQueryClient();
  const [url, setUrl] = useState("");
  const [description, setDescription] = useState("");
  const [events, setEvents] = useState<EventType[]>([]);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [secret, setSecret] = useState<{ url: string; secret: string } | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const [message, setMessage] = useState("");
  const errors = formErrors(problem);
  const types = useQuery({
    queryKey: ["event-types"],
    queryFn: async () => {
      const r = await call(() => webhooksApi.GET("/api/v1/webhooks/event-types"));
      if (!r.ok) throw r.problem;
      return r.data;
    },
  });
  const endpoints = useQuery({
    queryKey: ["webhook-endpoints"],
    queryFn: async () => {
      const r = await call(() => webhooksApi.GET("/api/v1/webhooks/endpoints", { params: { query: { limit: 100 } } }));
      if (!r.ok) throw r.problem;
      return r.data;
    },
  });
  const refresh = () => qc.invalidateQueries({ queryKey: ["webhook-endpoints"] });

  async function create(e: FormEvent) {
    e.preventDefault();
    setMessage("");
    const r = await call(() => webhooksApi.POST("/api/v1/webhooks/endpoints", {
      body: { url: url.trim(), event_types: events, description: description || null },
    }));
    if (!r.ok) {
      setProblem(r.problem);
      return;
    }
    setProblem(null);
    setSecret({ url: r.data.url, secret: r.data.secret });
    setUrl("");
    setDescription("");
    setEvents([]);
    await refresh();
  }

  async function rotate(ep: Endpoint) {
    const r = await call(() => webhooksApi.POST("/api/v1/webhooks/endpoints/{endpoint_id}/secret", {
      params: { path: { endpoint_id: ep.id } }, body: {},
    }));
    if (!r.ok) setProblem(r.problem);
    else setSecret({ url: ep.url, secret: r.data.secret });
    await refresh();
  }

  async function setStatus(ep: Endpoint, status: "active" | "disabled") {
    const r = await call(() => webhooksApi.PATCH("/api/v1/webhooks/endpoints/{endpoint_id}", {
      params: { path: { endpoint_id: ep.id }, header: ifMatch(ep.version) }, body: { status },
    }));
    if (!r.ok) setProblem(r.problem);
    else setMessage(status === "active" ? "配信を再開しました。" : "配信を停止しました。");
    await refresh();
  }

  return (
    <Stack>
      <Title order={2} size="h3">Webhook</Title>
      <Text size="sm">手続の完了や公文書の到着を、登録した URL へ署名付きで通知します。</Text>
      {message ? <Done onClose={() => setMessage("")}>{message}</Done> : null}
      {secret ? <SecretOnce label={`署名用シークレット（${secret.url}）`} value={secret.secret} onDone={() => setSecret(null)} /> : null}
      <Table withTableBorder striped data-testid="webhook-endpoints">
        <Table.Caption>登録済みの送信先</Table.Caption>
        <Table.Thead>
          <Table.Tr>
            <Table.Th scope="col">URL</Table.Th>
            <Table.Th scope="col">イベント</Table.Th>
            <Table.Th scope="col">状態</Table.Th>
            <Table.Th scope="col">操作</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {(endpoints.data?.items ?? []).map((ep) => (
            <Table.Tr key={ep.id}>
              <Table.Td><Text size="sm" style={{ wordBreak: "break-all" }}>{ep.url}</Text>
                {ep.description ? <Text size="xs" c="gray.7">{ep.description}</Text> : null}</Table.Td>
              <Table.Td><Text size="xs">{ep.event_types.join(", ")}</Text></Table.Td>
              <Table.Td>
                <Text size="sm" fw={700} component="span">
                  {ep.status === "active" ? "配信中" : "停止"}
                </Text>
                {ep.previous_secret_expires_at ? (
                  <Text size="xs">旧シークレットも {formatDateTime(ep.previous_secret_expires_at)} まで署名</Text>
                ) : null}
              </Table.Td>
              <Table.Td>
                <Group gap={4}>
                  <Button size="xs" variant="default" aria-expanded={open === ep.id}
                    onClick={() => setOpen(open === ep.id ? null : ep.id)}>配信履歴</Button>
                  <Button size="xs" variant="default" onClick={() => void rotate(ep)}>シークレット再発行</Button>
                  <Button size="xs" variant="default"
                    onClick={() => void setStatus(ep, ep.status === "active" ? "disabled" : "active")}>
                    {ep.status === "active" ? "停止" : "再開"}
                  </Button>
                </Group>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {open ? (() => {
        const ep = endpoints.data?.items.find((x) => x.id === open);
        return ep ? <Deliveries endpoint={ep} /> : null;
      })() : null}
      <Paper withBorder p="md" component="form" onSubmit={create} aria-labelledby="webhook-form-title" noValidate>
        <Stack>
          <Title order={3} size="h4" id="webhook-form-title">送信先の登録</Title>
          <ProblemAlert problem={problem} />
          <TextInput label="URL（https://）" name="url" required value={url} error={errors.url} aria-invalid={!!errors.url}
            placeholder="https://partner.example/roumu/webhooks" onChange={(e) => setUrl(e.currentTarget.value)} />
          <TextInput label="説明" name="description" value={description} error={errors.description}
            onChange={(e) => setDescription(e.currentTarget.value)} />
          <Checkbox.Group label="受け取るイベント" value={events} onChange={(v) => setEvents(v as EventType[])} error={errors.event_types}>
            <Stack gap={4} mt={4}>
              {(types.data ?? []).map((t) => <Checkbox key={t.name} value={t.name} label={`${t.name} — ${t.description}`} />)}
            </Stack>
          </Checkbox.Group>
          <Group><Button type="submit">登録してシークレットを発行</Button></Group>
        </Stack>
      </Paper>
    </Stack>
  );
}
