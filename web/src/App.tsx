import { Anchor, Box, Button, Center, Container, Group, Loader, Text } from "@mantine/core";
import { lazy, Suspense } from "react";
import { BrowserRouter, NavLink, Route, Routes } from "react-router";
import { useSession, useAccount } from "./session";
import { HomePage } from "./pages/HomePage";
import { LoginPage } from "./pages/LoginPage";
import { useAdminVisible } from "./pages/admin/visible";

// The 管理 screens load when first opened: most users never need their code.
const AdminPage = lazy(() => import("./pages/admin/AdminPage").then((m) => ({ default: m.AdminPage })));

function Signed() {
  const { signOut } = useSession();
  const account = useAccount();
  const adminVisible = useAdminVisible();
  if (account.isPending) return <Center mih="100vh"><Loader aria-label="読み込み中" /></Center>;
  if (account.isError || !account.data) {
    return <Center mih="100vh"><Text role="alert">利用者情報を読み込めませんでした。再読み込みしてください。</Text></Center>;
  }
  const a = account.data;
  return (
    // Not Mantine's AppShell: it writes its sizes into a <style> element, which the CSP refuses.
    <>
      <Box component="header" className="console-header" px="md">
        <Group h="100%" justify="space-between">
          <Group gap="lg">
            <Text fw={700} component="span">Roumu 業務コンソール</Text>
            <Group component="nav" aria-label="メインメニュー" gap="md">
              <Anchor component={NavLink} to="/" end>ホーム</Anchor>
              {adminVisible ? <Anchor component={NavLink} to="/admin" data-testid="nav-admin">管理</Anchor> : null}
            </Group>
          </Group>
          <Group gap="sm">
            {/* A display name is data: React renders it as text, never as markup. */}
            <Text size="sm" data-testid="user-name">{a.displayName}</Text>
            <Text size="xs" c="gray.7">（{a.loginId}）</Text>
            <Button variant="default" size="xs" onClick={() => void signOut()}>ログアウト</Button>
          </Group>
        </Group>
      </Box>
      <Container component="main" size="lg" py="md">
        <Routes>
          <Route path="/admin/:section?" element={<Suspense fallback={<Loader aria-label="読み込み中" />}><AdminPage /></Suspense>} />
          <Route path="*" element={<HomePage account={a} />} />
        </Routes>
      </Container>
    </>
  );
}

export function App() {
  const { state } = useSession();
  if (state.status === "loading") return <Center mih="100vh"><Loader aria-label="読み込み中" /></Center>;
  if (state.status === "anonymous") return <LoginPage notice={state.reason} />;
  return <BrowserRouter><Signed /></BrowserRouter>;
}
