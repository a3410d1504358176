"""Issue 24.6: `make run` on other ports must file to its own sandbox. efiling's e-Gov URLs
defaulted to 127.0.0.1:8108 and :8000 and devrun never set them, so a second `make run` with
ROUMU_EGOV_SANDBOX_PORT / ROUMU_GATEWAY_PORT moved silently filed to the first stack's sandbox."""

from __future__ import annotations

from pathlib import Path

from ops.devrun import DevRun
from services.efiling.settings import EfilingSettings
from shared.settings import CommonSettings


def test_efiling_follows_the_ports_make_run_uses(monkeypatch, tmp_path: Path):
    for name in ("ROUMU_EGOV_SANDBOX_URL", "ROUMU_EFILING_EGOV_AUTH_URL", "ROUMU_EFILING_EGOV_API_URL",
                 "ROUMU_EFILING_EGOV_REDIRECT_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ROUMU_EGOV_SANDBOX_PORT", "18108")
    run = DevRun(CommonSettings(var_dir=tmp_path, keys_dir=tmp_path / "keys"), gateway_port=18000,
                 log_dir=tmp_path / "log")
    env = run.child_env("nats://127.0.0.1:4222")
    for name, value in env.items():
        monkeypatch.setenv(name, value)  # what the efiling process is started with
    s = EfilingSettings()
    assert s.egov_auth_url == "http://127.0.0.1:18108/auth"
    assert s.egov_api_url == "http://127.0.0.1:18108/shinsei/v2"
    assert s.egov_redirect_uri == "http://127.0.0.1:18000/efiling/egov-callback"


def test_an_e_gov_target_set_by_the_operator_is_kept(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("ROUMU_EFILING_EGOV_API_URL", "https://api.e-gov.go.jp/shinsei/v2")
    run = DevRun(CommonSettings(var_dir=tmp_path, keys_dir=tmp_path / "keys"), gateway_port=18000,
                 log_dir=tmp_path / "log")
    assert run.child_env("nats://127.0.0.1:4222")["ROUMU_EFILING_EGOV_API_URL"] == "https://api.e-gov.go.jp/shinsei/v2"


def test_make_run_starts_a_mail_catcher_and_points_accounts_at_it(monkeypatch, tmp_path: Path):
    import smtplib
    from email import message_from_bytes, policy

    from services.accounts.settings import AccountsSettings

    for name in ("ROUMU_ACCOUNTS_MAIL_SMTP_HOST", "ROUMU_ACCOUNTS_MAIL_SMTP_PORT", "ROUMU_ACCOUNTS_MAIL_SMTP_STARTTLS",
                 "ROUMU_ACCOUNTS_MAIL_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    run = DevRun(CommonSettings(var_dir=tmp_path, keys_dir=tmp_path / "keys"), gateway_port=18000,
                 log_dir=tmp_path / "log")
    try:
        catcher = run.start_mail_catcher()
        assert catcher is not None and catcher.maildir == tmp_path / "mail"
        for name, value in run.child_env("nats://127.0.0.1:4222").items():
            monkeypatch.setenv(name, value)
        cfg = AccountsSettings()
        assert (cfg.mail_smtp_host, cfg.mail_smtp_port, cfg.mail_smtp_starttls) == ("127.0.0.1", catcher.port, False)
        assert cfg.mail_base_url == "http://127.0.0.1:18000"
        with smtplib.SMTP(cfg.mail_smtp_host, cfg.mail_smtp_port, timeout=10) as smtp:
            smtp.sendmail("no-reply@roumu.invalid", ["admin@demo.example"],
                          b"Subject: =?utf-8?b?44GK55+l44KJ44Gb?=\r\n\r\nhello\r\n")
        [kept] = list((catcher.maildir / "new").iterdir())
        assert message_from_bytes(kept.read_bytes(), policy=policy.default)["Subject"] == "お知らせ"
    finally:
        run.stop_all()
