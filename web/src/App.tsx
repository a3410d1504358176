import { Anchor, Box, Button, Center, Container, Group, Loader, Text } from "@mantine/core";
import { lazy, Suspense, type ReactNode } from "react";
import { BrowserRouter, Navigate, NavLink, Route, Routes, useLocation } from "react-router";
import { useSession, useAccount } from "./session";
import { HomePage } from "./pages/HomePage";
import { LoginPage } from "./pages/LoginPage";
import { IdleGuard } from "./pages/account/IdleGuard";
import { NoticesBanner } from "./pages/account/NoticesBanner";
import { useMenus, LOG_MENU } from "./pages/logs/access";
import { EFILING_MENU, KOYO_MENU } from "./pages/work/common";
import { useAdminVisible } from "./pages/admin/visible";

// Screens other than ホーム load on first use: the initial JavaScript stays small (bench/bench_console.py).
const AccountPage = lazy(() => import("./pages/account/AccountPage"));
const LogsPage = lazy(() => import("./pages/logs/LogsPage"));
const DashboardPage = lazy(() => import("./pages/work/DashboardPage"));
const JigyoshoListPage = lazy(() => import("./pages/work/JigyoshoPage").then((m) => ({ default: m.JigyoshoListPage })));
const PersonsPage = lazy(() => import("./pages/work/JigyoshoPage").then((m) => ({ default: m.PersonsPage })));
const PersonPage = lazy(() => import("./pages/work/PersonPage"));
const HirePage = lazy(() => import("./pages/work/HirePage"));
const AdminPage = lazy(() => import("./pages/admin/AdminPage").then((m) => ({ default: m.AdminPage })));

// A work screen opened directly (a bookmark, a reload) fetches its code during the sign-in's refresh
// instead of after it (the same module lazy() loads; bench/bench_console.py persons).
if (typeof location !== "undefined") {
  if (/^\/jigyosho/.test(location.pathname)) void import("./pages/work/JigyoshoPage");
  else if (/^\/persons\/[^/]+\/hire/.test(location.pathname)) void import("./pages/work/HirePage");
  else if (/^\/persons\//.test(location.pathname)) void import("./pages/work/PersonPage");
  else if (location.pathname === "/dashboard") void import("./pages/work/DashboardPage");
}

const WORK_PATH = /^\/(dashboard|jigyosho|persons)(\/|$)/;

const loading = <Center py="xl"><Loader aria-label="読み込み中" /></Center>;

function Signed() {
  const { signOut } = useSession();
  const account = useAccount();
  const menus = useMenus();
  const adminVisible = useAdminVisible();
  const { pathname } = useLocation();
  // A work screen opened directly renders (and asks for its data) while the signed-in user's own
  // record is still on its way: the user's name fills the header when it comes. Other screens need
  // the record first.
  const workPath = WORK_PATH.test(pathname);
  if (account.isPending && !workPath) return <Center mih="100vh"><Loader aria-label="読み込み中" /></Center>;
  if (account.isError || (!account.isPending && !account.data)) {
    return <Center mih="100vh"><Text role="alert">利用者情報を読み込めませんでした。再読み込みしてください。</Text></Center>;
  }
  const a = account.data;
  const canLogs = Boolean(menus.data?.[LOG_MENU]);
  const canWork = Boolean(menus.data?.[KOYO_MENU] || menus.data?.[EFILING_MENU]);
  const canKoyo = Boolean(menus.data?.[KOYO_MENU]);
  // The work screens start loading (their code, their first query) while the menus are still on
  // their way: the API refuses what the user may not see whatever the console shows, and once the
  // menus are known a user without 雇用保険 is told so instead.
  const work = (screen: ReactNode) => (menus.data && !canKoyo ? <NoWorkAccess /> : screen);
  return (
    // Not Mantine's AppShell: it writes its sizes into a <style> element, which the CSP refuses.
    <>
      <Box component="header" className="console-header" px="md">
        <Group h="100%" justify="space-between">
          <Group gap="lg">
            <Text fw={700} component="span">Roumu 業務コンソール</Text>
            <Group gap="md" component="nav" aria-label="メニュー" className="console-nav">
              <Anchor component={NavLink} to="/" end>ホーム</Anchor>
              {canWork && <Anchor component={NavLink} to="/dashboard" data-testid="nav-dashboard">ダッシュボード</Anchor>}
              {canKoyo && <Anchor component={NavLink} to="/jigyosho" data-testid="nav-jigyosho">事業所・被保険者</Anchor>}
              <Anchor component={NavLink} to="/account">アカウント</Anchor>
              {canLogs && <Anchor component={NavLink} to="/logs">ログ管理</Anchor>}
              {adminVisible ? <Anchor component={NavLink} to="/admin" data-testid="nav-admin">管理</Anchor> : null}
            </Group>
          </Group>
          <Group gap="sm">
            {/* A display name is data: React renders it as text, never as markup. */}
            <Text size="sm" data-testid="user-name">{a?.displayName ?? ""}</Text>
            {a && <Text size="xs" c="gray.7">（{a.loginId}）</Text>}
            <Button variant="default" size="xs" onClick={() => void signOut()}>ログアウト</Button>
          </Group>
        </Group>
      </Box>
      {a && <IdleGuard timeoutSeconds={a.idleTimeoutSeconds} warningSeconds={a.idleWarningSeconds} />}
      <Container component="main" size="xl" py="md">
        <NoticesBanner />
        <Suspense fallback={loading}>
          <Routes>
            <Route path="/" element={a ? <HomePage account={a} /> : loading} />
            <Route path="/account" element={a ? <AccountPage account={a} /> : loading} />
            <Route path="/logs" element={menus.isPending ? loading : canLogs ? <LogsPage /> : <NoAccess />} />
            <Route path="/admin/:section?" element={<AdminPage />} />
            <Route path="/dashboard" element={<DashboardPage />} />
            <Route path="/jigyosho" element={work(<JigyoshoListPage />)} />
            <Route path="/jigyosho/:jigyoshoId/persons" element={work(<PersonsPage />)} />
            <Route path="/persons/:personId" element={work(<PersonPage />)} />
            <Route path="/persons/:personId/hire" element={work(<HirePage />)} />
            <Route path="*" element={<Navigate to="/" replace />} />
          </Routes>
        </Suspense>
      </Container>
    </>
  );
}

function NoAccess() {
  return <Text role="alert" data-testid="no-access" mt="md">この画面を利用する権限がありません（ログ管理メニューの権限が必要です）。</Text>;
}

function NoWorkAccess() {
  return <Text role="alert" data-testid="no-access" mt="md">この画面を利用する権限がありません（雇用保険メニューの権限が必要です）。</Text>;
}

export function App() {
  const { state } = useSession();
  if (state.status === "loading") return <Center mih="100vh"><Loader aria-label="読み込み中" /></Center>;
  if (state.status === "anonymous") return <LoginPage notice={state.reason} />;
  return <BrowserRouter><Signed /></BrowserRouter>;
}
