"""NATS users and their permissions: who may publish and consume what on the event stream.

Every process connects as a NATS user of its own: each service as its name, the gateway as
`gateway`, the ops tools (backup, monitor, make run's set-up) as `ops`; `admin` (everything) exists
only in the tests' and benchmarks' servers. A user may publish only its own subjects
(`roumu.<service>.>`), create and read only the durable consumers shared/topology.CONSUMES lists
for it, and receive replies only under its own inbox prefix (`_INBOX.<user>.>`), so an event
claiming to come from accounts can only come from accounts.

The passwords are random, one file per user under `<keys dir>/nats/` (mode 0600), generated like
the signing keys (`ensure_nats_credentials`); `server_config` renders the `authorization` block a
nats-server loads (`nats-server -c <keys dir>/nats/nats-server.conf`)."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from shared.private_files import create_once
from shared.revocation import SESSION_REVOKED
from shared.topology import CONSUMES, SERVICES

GATEWAY = "gateway"
OPS = "ops"
ADMIN = "admin"  # tests and benchmarks only: never in make run's or compose's server config
CONFIG_NAME = "nats-server.conf"
# The gateway follows tenant settings with a plain (core NATS) subscription.
TENANT_SETTINGS_CHANGED = "roumu.accounts.tenant.settings_changed"


@dataclass(frozen=True)
class NatsUser:
    name: str
    publishes: tuple[str, ...]  # event subjects (wildcards allowed)
    consumes: tuple[tuple[str, str], ...] = ()  # (durable's full name, filter subject)
    listens: tuple[str, ...] = ()  # core subscriptions besides its inbox
    revocations: bool = True  # follows roumu.auth.session.revoked (shared/revocation.py)
    manages_stream: bool = False  # may change the stream's configuration
    everything: bool = False


def users(*, admin: bool = False) -> tuple[NatsUser, ...]:
    out = [NatsUser(s.name, (f"roumu.{s.name}.>",),
                    tuple((f"{s.name}-{durable}", subject) for durable, subject in CONSUMES.get(s.name, ())))
           for s in SERVICES]
    out.append(NatsUser(GATEWAY, ("roumu.gateway.>",), listens=(TENANT_SETTINGS_CHANGED,), revocations=False))
    out.append(NatsUser(OPS, ("roumu.ops.>",), revocations=False, manages_stream=True))
    if admin:
        out.append(NatsUser(ADMIN, (">",), everything=True))
    return tuple(out)


def user_names(*, admin: bool = False) -> tuple[str, ...]:
    return tuple(u.name for u in users(admin=admin))


def permissions(user: NatsUser, stream: str, others: tuple[NatsUser, ...] = ()) -> dict[str, dict[str, list[str]]]:
    """The nats-server `permissions` of one user on one stream (the JetStream API subjects a
    client uses: docs.nats.io, "JetStream API Reference"). `others`: every other user, whose
    durables this one may never create or change."""
    if user.everything:
        return {"publish": {"allow": [">"]}, "subscribe": {"allow": [">"]}}
    api = f"$JS.API.CONSUMER.%s.{stream}"
    pub = [*user.publishes,
           # Look at the stream, and create it when missing (the first process up does).
           f"$JS.API.STREAM.INFO.{stream}", f"$JS.API.STREAM.CREATE.{stream}"]
    if user.manages_stream:
        pub.append(f"$JS.API.STREAM.UPDATE.{stream}")
    for durable, subject in user.consumes:
        # The filter is part of the create subject: the user cannot widen what it reads.
        pub += [f"{api % 'CREATE'}.{durable}.{subject}", f"{api % 'INFO'}.{durable}",
                f"{api % 'MSG.NEXT'}.{durable}", f"$JS.ACK.{stream}.{durable}.>"]
    if user.revocations:
        # An ephemeral push consumer per connection, named by the client, filtered to revocations.
        pub += [f"{api % 'CREATE'}.*.{SESSION_REVOKED}", f"{api % 'INFO'}.*"]
    sub = [f"_INBOX.{user.name}.>", *user.listens]
    out: dict[str, dict[str, list[str]]] = {"publish": {"allow": pub}, "subscribe": {"allow": sub}}
    if user.revocations:
        # The revocation feed's `*` would also match another service's durable (a create request
        # for an existing name updates it: e.g. audit_log's filter narrowed to revocations). Every
        # durable's name is known, so those of the others are denied (deny wins over allow).
        out["publish"]["deny"] = [f"{api % 'CREATE'}.{durable}.>"
                                  for other in others if other.name != user.name for durable, _ in other.consumes]
    return out


def credentials_dir(keys_dir: Path) -> Path:
    return keys_dir / "nats"


def ensure_nats_credentials(keys_dir: Path, *, admin: bool = False) -> None:
    """A random password per user (once; kept across runs), readable by the owner only."""
    folder = credentials_dir(keys_dir)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name in user_names(admin=admin):
        path = folder / f"{name}.password"
        if not path.exists():
            create_once(path, secrets.token_urlsafe(32).encode())


def read_password(folder: Path, user: str) -> str | None:
    path = folder / f"{user}.password"
    return path.read_text(encoding="utf-8").strip() if path.is_file() else None


def server_config(keys_dir: Path, stream: str, *, admin: bool = False) -> str:
    """The nats-server `authorization` block for every user (passwords included: the file is 0600)."""
    folder = credentials_dir(keys_dir)
    entries = []
    everyone = users(admin=admin)
    for user in everyone:
        password = read_password(folder, user.name)
        if password is None:
            raise FileNotFoundError(f"no NATS password for {user.name} in {folder}: run ensure_nats_credentials")
        entries.append(f"    {{user: {json.dumps(user.name)}, password: {json.dumps(password)}, "
                       f"permissions: {json.dumps(permissions(user, stream, everyone))}}}")
    return ("# Generated by shared/nats_auth.py from the keys directory: one NATS user per process kind.\n"
            "authorization {\n  users = [\n" + ",\n".join(entries) + "\n  ]\n}\n")


def write_server_config(keys_dir: Path, stream: str, *, admin: bool = False, path: Path | None = None) -> Path:
    """Write the server config (mode 0600) where nats-server reads it; answers its path."""
    ensure_nats_credentials(keys_dir, admin=admin)
    target = path or credentials_dir(keys_dir) / CONFIG_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    text = server_config(keys_dir, stream, admin=admin)
    if target.exists() and target.read_text(encoding="utf-8") == text:
        return target
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".nats-conf-", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, target)
    return target
