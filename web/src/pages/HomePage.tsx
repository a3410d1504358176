// The first screen after login: 前回ログイン日時 (with the address and browser) shown prominently,
// so that a login the user did not make is noticed.
import { Alert, Card, Group, Stack, Text, Title } from "@mantine/core";
import { describeBrowser, formatDateTime } from "../format";
import type { Account } from "../session";

export function HomePage({ account }: { account: Account }) {
  const prev = account.previousLogin;
  return (
    <Stack>
      <Title order={1} size="h2">ホーム</Title>
      <Card withBorder padding="lg" radius="md" data-testid="previous-login" aria-labelledby="prev-title">
        <Title order={2} size="h4" id="prev-title">前回ログイン日時</Title>
        {prev ? (
          <Stack gap={4} mt="sm">
            <Text size="xl" fw={700} data-testid="previous-login-at">{formatDateTime(prev.at)}</Text>
            <Group gap="xl">
              <Text size="sm">接続元: <span data-testid="previous-login-ip">{prev.ip ?? "不明"}</span></Text>
              <Text size="sm" title={prev.user_agent ?? undefined}>
                ブラウザ: <span data-testid="previous-login-browser">{describeBrowser(prev.user_agent)}</span>
              </Text>
            </Group>
            <Text size="xs" c="gray.7">覚えのないログインがあれば、すぐにパスワードを変更し管理者に連絡してください。</Text>
          </Stack>
        ) : (
          <Text mt="sm" data-testid="previous-login-none">前回のログイン記録はありません（初めてのログインです）。</Text>
        )}
      </Card>
      <Alert color="gray" title="この画面について">
        パスワードや2段階認証、ログイン中のセッションは「アカウント」で確認・変更できます。業務画面は順次追加されます。
      </Alert>
    </Stack>
  );
}
