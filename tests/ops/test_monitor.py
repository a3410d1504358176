"""The monitor against the whole stack as processes (ops.devrun, as `make run`): everything up,
then one service process stopped (SIGSTOP: alive, not answering) is reported down in one run."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ops.seed import seed_monitor
from shared.settings import CommonSettings
from tests.e2e.test_make_run import ROOT, Stack

pytestmark = pytest.mark.slow
PASSWORD = "kanshi-test-パスワード-3"  # never containing the login id (policy)


def pid_of(service: str, port: str) -> int:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if argv[-3:-1] != [b"ops.serve", service.encode()]:
                continue
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        # make run serves each service as `python -m ops.serve <name>`, its port in the environment
        if f"ROUMU_{service.upper()}_PORT={port}".encode() in environ:
            return int(entry.name)
    raise AssertionError(f"no process for {service} on {port}")


def run_monitor(stack: Stack, var: Path, nats_url: str | None) -> subprocess.CompletedProcess[str]:
    """`nats_url` None: the monitor finds make run's NATS by itself (var/nats.url)."""
    env = dict(stack.env) | {"ROUMU_MONITOR_GATEWAY_URL": stack.url, "ROUMU_MONITOR_PASSWORD": PASSWORD,
                             "ROUMU_MONITOR_TIMEOUT_SECONDS": "3"}
    env = {k: v for k, v in env.items() if k not in ("NATS_URL", "ROUMU_NATS_URL")}
    if nats_url is not None:
        env["NATS_URL"] = nats_url
    return subprocess.run([sys.executable, "-m", "ops.monitor", "--prometheus"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_monitor_reports_every_service_and_a_stopped_one_as_down(tmp_path):
    var = tmp_path / "var"
    stack = Stack(var)
    stack.env["ROUMU_GATEWAY_HEALTH_TIMEOUT"] = "1"
    stack.start()
    stopped: int | None = None
    try:
        nats_url = re.search(r"NATS: (nats://\S+)", stack.log.read_text()).group(1)  # type: ignore[union-attr]
        seed_monitor(CommonSettings(var_dir=var, keys_dir=var / "keys"), PASSWORD)

        assert (var / "nats.url").read_text().strip() == nats_url
        first = run_monitor(stack, var, None)
        assert first.returncode in (0, 1, 2), first.stdout + first.stderr  # 1: no backup yet is a warning
        assert 'roumu_monitor_login_up{name="gateway"} 1' in first.stdout
        for name in ("auth", "accounts", "koyo_hoken", "jimukumiai", "efiling", "audit_log", "files"):
            assert f'roumu_monitor_service_up{{name="{name}"}} 1' in first.stdout, first.stdout
            assert f'roumu_monitor_database_up{{name="{name}"}} 1' in first.stdout
        assert 'roumu_monitor_nats_up{name="ROUMU"} 1' in first.stdout
        assert "roumu_monitor_disk_used_ratio{" in first.stdout
        assert 'roumu_monitor_service_latency_seconds{name="files"}' in first.stdout

        stopped = pid_of("files", stack.env["ROUMU_FILES_PORT"])
        os.kill(stopped, signal.SIGSTOP)
        second = run_monitor(stack, var, nats_url)
        assert second.returncode == 2, second.stdout + second.stderr
        assert 'roumu_monitor_service_up{name="files"} 0' in second.stdout
        assert 'roumu_monitor_check_status{kind="service",name="files"} 2' in second.stdout
        for name in ("auth", "accounts", "koyo_hoken", "audit_log"):
            assert f'roumu_monitor_service_up{{name="{name}"}} 1' in second.stdout, second.stdout
    finally:
        if stopped is not None:
            os.kill(stopped, signal.SIGCONT)
        stack.stop()
    assert not (var / "nats.url").exists()  # make run removes it with its nats-server


def test_seeding_the_monitor_refuses_a_password_it_could_not_log_in_with(tmp_path):
    """A password the tenant's policy refuses would be stored and then end every login in
    password_change_required: the seed says so instead."""
    from ops.migrate import migrate
    from ops.seed import seed_demo

    var = tmp_path / "var"
    common = CommonSettings(var_dir=var, keys_dir=var / "keys",
                            database_url_template=f"sqlite:///{var.as_posix()}/db/{{service}}.db")
    (var / "db").mkdir(parents=True)
    migrate(["auth", "accounts"], common)
    seed_demo(common)
    with pytest.raises(ValueError, match="ログインID"):
        seed_monitor(common, "Monitor-Quiet-Heron-2026")  # contains the login id "monitor"
    with pytest.raises(ValueError, match="文字以上"):
        seed_monitor(common, "short-9")
    assert seed_monitor(common, PASSWORD).login_id == "monitor"


def test_the_table_says_down_in_words(tmp_path):
    from ops.monitor import CRIT, OK, Check, render_table, status_of

    checks = [Check("service", "auth", OK, 0.01, None, "HTTP 200"),
              Check("service", "files", CRIT, 3.0, None, "no answer (ReadTimeout)")]
    table = render_table(checks)
    assert re.search(r"service\s+files\s+DOWN", table) and re.search(r"service\s+auth\s+up", table)
    assert status_of(checks) == 2 and table.endswith("overall: critical")
