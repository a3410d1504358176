import { AppShell, Button, Center, Group, Loader, Text } from "@mantine/core";
import { useSession, useAccount } from "./session";
import { HomePage } from "./pages/HomePage";
import { LoginPage } from "./pages/LoginPage";

function Signed() {
  const { signOut } = useSession();
  const account = useAccount();
  if (account.isPending) return <Center mih="100vh"><Loader aria-label="読み込み中" /></Center>;
  if (account.isError || !account.data) {
    return <Center mih="100vh"><Text role="alert">利用者情報を読み込めませんでした。再読み込みしてください。</Text></Center>;
  }
  const a = account.data;
  return (
    <AppShell header={{ height: 56 }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Text fw={700} component="span">Roumu 業務コンソール</Text>
          <Group gap="sm">
            {/* A display name is data: React renders it as text, never as markup. */}
            <Text size="sm" data-testid="user-name">{a.displayName}</Text>
            <Text size="xs" c="dimmed">（{a.loginId}）</Text>
            <Button variant="default" size="xs" onClick={() => void signOut()}>ログアウト</Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Main>
        <HomePage account={a} />
      </AppShell.Main>
    </AppShell>
  );
}

export function App() {
  const { state } = useSession();
  if (state.status === "loading") return <Center mih="100vh"><Loader aria-label="読み込み中" /></Center>;
  if (state.status === "anonymous") return <LoginPage notice={state.reason} />;
  return <Signed />;
}
