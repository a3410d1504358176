"""Events are authenticated by NATS itself (issue 18 item 6): an outside probe that reached NATS
published `roumu.accounts.user.permissions_changed` and granted itself 事業所 access.

A nats-server with the users and permissions make run and compose use (shared/nats_auth.py) is
started here whatever NATS_URL says (an external test server may have no authorization). Every
check asks the server itself: a connection without credentials is turned away, a service cannot
publish another service's events, cannot widen what its consumers read, cannot read another
user's inbox, and cannot change the stream; what the server refuses never reaches the stream."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.errors import Error as NatsError

from shared.events import SYSTEM, EventEnvelope
from shared.nats_auth import ADMIN, users, write_server_config
from shared.nats_client import NatsAccess, connect, durable_config, ensure_stream
from shared.revocation import SESSION_REVOKED
from shared.settings import CommonSettings
from tests.support.nats_server import NatsServer

STREAM = "ROUMU_AUTHZ"
FORGED = "roumu.accounts.user.permissions_changed"


@pytest.fixture(scope="module")
def authz(settings: CommonSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CommonSettings]:
    tmp: Path = tmp_path_factory.mktemp("nats-authz")
    config = write_server_config(settings.keys_dir, STREAM, admin=True, path=tmp / "nats-server.conf")
    server = NatsServer(tmp / "nats", config=config)
    server.start()
    try:
        yield settings.model_copy(update={"nats_url": server.url, "nats_stream": STREAM})
    finally:
        server.stop()


class Session:
    """One connection as one NATS user, keeping the errors the server sent it."""

    def __init__(self, access: NatsAccess) -> None:
        self.access = access
        self.errors: list[str] = []
        self.nc: nats.NATS | None = None

    async def __aenter__(self) -> Session:
        async def on_error(exc: Exception) -> None:
            self.errors.append(str(exc))

        self.nc = await connect(self.access, "authz-test", error_cb=on_error, max_reconnect_attempts=0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.nc is not None
        await self.nc.close()

    async def refused(self, what: str) -> bool:
        """Whether the server reported a permissions violation naming `what`."""
        assert self.nc is not None
        await self.nc.flush(timeout=2)
        for _ in range(20):
            if any("permissions violation" in e.lower() and what.lower() in e.lower() for e in self.errors):
                return True
            await asyncio.sleep(0.05)
        return False


def forged_event(jigyosho_id: str) -> EventEnvelope:
    return EventEnvelope(type=FORGED, tenant_id="t-victim", actor=SYSTEM, subject={"user_id": "u-reader"},
                         data={"user_id": "u-reader", "jigyosho_ids": [jigyosho_id], "menus": {"koyo_hoken": "write"}})


async def stream_types(authz: CommonSettings) -> list[str]:
    """Every event type in the stream, read by the tests' own admin user."""
    async with Session(authz.nats_access(ADMIN)) as admin:
        assert admin.nc is not None
        js = admin.nc.jetstream()
        info = await js.stream_info(STREAM)
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            if info.state.messages == 0:
                break
            msg = await js.get_msg(STREAM, seq)
            out.append(EventEnvelope.from_json(msg.data or b"").type)
        return out


def test_a_connection_without_credentials_is_refused(authz: CommonSettings) -> None:
    async def go() -> None:
        with pytest.raises(NatsError, match="Authorization Violation"):
            await nats.connect(authz.nats_url, connect_timeout=2, max_reconnect_attempts=0,
                               allow_reconnect=False)
        wrong = NatsAccess(authz.nats_url, "accounts", "not-the-password")
        with pytest.raises(NatsError, match="Authorization Violation"):
            await connect(wrong, "authz-test", max_reconnect_attempts=0, allow_reconnect=False)

    asyncio.run(go())


def test_a_forged_accounts_event_from_another_service_is_refused_by_the_server(authz: CommonSettings) -> None:
    async def go() -> None:
        async with Session(authz.nats_access("accounts")) as accounts:
            assert accounts.nc is not None
            js = accounts.nc.jetstream()
            await ensure_stream(js, STREAM)
            genuine = EventEnvelope(type="roumu.accounts.user.created", tenant_id="t-victim", actor=SYSTEM,
                                    subject={"user_id": "u-1"}, data={})
            await js.publish(genuine.type, genuine.to_json(), stream=STREAM, headers={"Nats-Msg-Id": genuine.id})

        # koyo_hoken's own credentials: JetStream publish and a plain publish, both refused.
        jigyosho = f"j-{uuid.uuid4().hex[:6]}"
        async with Session(authz.nats_access("koyo_hoken")) as koyo:
            assert koyo.nc is not None
            with pytest.raises(nats.errors.TimeoutError):
                await koyo.nc.jetstream().publish(FORGED, forged_event(jigyosho).to_json(), stream=STREAM,
                                                  timeout=1.0)
            assert await koyo.refused(FORGED)
            await koyo.nc.publish("roumu.accounts.tenant.settings_changed", b"{}")
            assert await koyo.refused("roumu.accounts.tenant.settings_changed")
            # Its own events still go out.
            own = EventEnvelope(type="roumu.koyo_hoken.procedure.created", tenant_id="t-victim", actor=SYSTEM,
                                subject={"procedure_id": "p-1"}, data={})
            await koyo.nc.jetstream().publish(own.type, own.to_json(), stream=STREAM)

        # The gateway and the ops tools cannot speak for accounts either.
        for user in ("gateway", "ops", "audit_log"):
            async with Session(authz.nats_access(user)) as other:
                assert other.nc is not None
                await other.nc.publish(FORGED, forged_event(jigyosho).to_json())
                assert await other.refused(FORGED), user

        types = await stream_types(authz)
        assert FORGED not in types
        assert "roumu.accounts.user.created" in types and "roumu.koyo_hoken.procedure.created" in types

    asyncio.run(go())


def test_a_service_reads_only_what_it_consumes(authz: CommonSettings) -> None:
    async def go() -> None:
        async with Session(authz.nats_access("koyo_hoken")) as koyo:
            assert koyo.nc is not None
            js = koyo.nc.jetstream()
            await ensure_stream(js, STREAM)
            # Its own durable with its own filter: allowed.
            sub = await js.pull_subscribe("roumu.efiling.>", durable="koyo_hoken-efiling-status", stream=STREAM,
                                          config=durable_config("koyo_hoken-efiling-status", "roumu.efiling.>",
                                                                ack_wait=30, max_deliver=-1))
            await sub.unsubscribe()
            # The same durable widened to every event, and another service's durable: refused.
            widened = durable_config("koyo_hoken-efiling-status", "roumu.>", ack_wait=30, max_deliver=-1)
            with pytest.raises(nats.errors.TimeoutError):
                await js.add_consumer(STREAM, config=widened, timeout=1.0)
            assert await koyo.refused("$JS.API.CONSUMER.CREATE"), koyo.errors
            theirs = durable_config("audit_log-all", "roumu.>", ack_wait=30, max_deliver=-1)
            with pytest.raises(nats.errors.TimeoutError):
                await js.add_consumer(STREAM, config=theirs, timeout=1.0)
            # Reading another user's replies, or events straight off the wire: refused.
            await koyo.nc.subscribe("_INBOX.audit_log.>")
            assert await koyo.refused("_INBOX.audit_log.>")
            await koyo.nc.subscribe("roumu.>")
            assert await koyo.refused("roumu.>")
            # Changing the stream (e.g. a max age of a second): only ops may.
            with pytest.raises(nats.errors.TimeoutError):
                await ensure_stream(js, STREAM, update=True)

        # The revocation feed's permission (a consumer of any name filtered to session.revoked) cannot
        # be used to narrow another service's durable (a create on an existing name updates it).
        async with Session(authz.nats_access("audit_log")) as audit:
            assert audit.nc is not None
            ajs = audit.nc.jetstream()
            await ajs.add_consumer(STREAM, config=durable_config("audit_log-all", "roumu.>", ack_wait=30,
                                                                 max_deliver=-1))
        async with Session(authz.nats_access("koyo_hoken")) as koyo:
            assert koyo.nc is not None
            hijack = durable_config("audit_log-all", SESSION_REVOKED, ack_wait=30, max_deliver=-1)
            with pytest.raises(nats.errors.TimeoutError):
                await koyo.nc.jetstream().add_consumer(STREAM, config=hijack, timeout=1.0)
            assert await koyo.refused("audit_log-all"), koyo.errors
        async with Session(authz.nats_access("audit_log")) as audit:
            assert audit.nc is not None
            info = await audit.nc.jetstream().consumer_info(STREAM, "audit_log-all")
            assert info.config.filter_subject == "roumu.>" and info.config.deliver_subject is None

        async with Session(authz.nats_access("ops")) as ops:
            assert ops.nc is not None
            await ensure_stream(ops.nc.jetstream(), STREAM, update=True)
            assert not ops.errors

    asyncio.run(go())


def test_every_user_has_a_password_of_its_own(authz: CommonSettings) -> None:
    passwords = [authz.nats_access(u.name).password for u in users(admin=True)]
    assert all(p and len(p) >= 32 for p in passwords)
    assert len(set(passwords)) == len(passwords)
    folder = authz.keys_dir / "nats"
    assert all((p.stat().st_mode & 0o077) == 0 for p in folder.iterdir())


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (its own CA) and its key."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "roumu-test-nats")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "nats.crt", folder / "nats.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_tls_to_nats_is_configured_by_settings(settings: CommonSettings, tmp_path: Path) -> None:
    """ROUMU_NATS_TLS_CA_FILE and a tls:// URL: the same users, over TLS, the server's certificate
    checked; without the CA the connection is refused by the client."""
    cert, key = _self_signed(tmp_path)
    config = write_server_config(settings.keys_dir, STREAM, path=tmp_path / "nats-server.conf")
    server = NatsServer(tmp_path / "nats", config=config, extra_args=["--tls", "--tlscert", str(cert),
                                                                       "--tlskey", str(key)])
    server.start()
    try:
        url = f"tls://127.0.0.1:{server.port}"
        trusted = settings.model_copy(update={"nats_url": url, "nats_tls_ca_file": cert})
        untrusted = settings.model_copy(update={"nats_url": url})

        async def go() -> None:
            async with Session(trusted.nats_access("accounts")) as accounts:
                assert accounts.nc is not None
                await ensure_stream(accounts.nc.jetstream(), STREAM)
                await accounts.nc.jetstream().publish("roumu.accounts.user.created", b"{}", stream=STREAM)
            with pytest.raises(Exception, match=r"(?i)certificate"):
                await connect(untrusted.nats_access("accounts"), "authz-test", max_reconnect_attempts=0,
                              allow_reconnect=False)

        asyncio.run(go())
    finally:
        server.stop()
