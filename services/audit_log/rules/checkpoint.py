"""Signed checkpoints of a chain, as C2SP signed notes (c2sp.org/signed-note, the body shaped
like c2sp.org/tlog-checkpoint):

    roumu.audit-log/<tenant id or ->/<category>     origin: which chain
    <tenant_seq>                                    how many entries the chain holds
    <base64 of the head hash>                       entry_hash(tenant_seq), see chain.py
    time <RFC 3339, UTC>                            when it was signed
    kind <periodic|purge|manual>                    purge: entries up to here were deleted
    <blank line>
    — roumu-audit-log <base64(4-byte key id || Ed25519 signature of the body)>

One difference from tlog-checkpoint: the hash is a hash chain's head, not a Merkle tree root, so
a checkpoint proves a whole prefix by replay (chain.py), not by an O(log n) proof.

The key id is the first 4 bytes of SHA-256(name || 0x0A || 0x01 || public key), and the
verifier key reads `<name>+<key id, 8 hex digits>+<base64(0x01 || public key)>`, as the spec
says for Ed25519. Anyone holding that verifier key and an exported note can later check the log
against it, without trusting the database that holds the log."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_NAME = "roumu-audit-log"
ORIGIN_PREFIX = "roumu.audit-log/"
ED25519 = 0x01
DASH = "\u2014"  # the em dash that starts a signature line
KINDS = ("periodic", "purge", "manual")


class NoteError(ValueError):
    """A note that is malformed, or whose signature is missing or does not verify."""


def origin(chain_tenant: str, category: str) -> str:
    return f"{ORIGIN_PREFIX}{chain_tenant}/{category}"


@dataclass(frozen=True)
class CheckpointBody:
    origin: str
    tenant_seq: int
    head_hash: str  # hex
    signed_at: datetime
    kind: str

    def text(self) -> str:
        when = self.signed_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        root = base64.b64encode(bytes.fromhex(self.head_hash)).decode()
        return f"{self.origin}\n{self.tenant_seq}\n{root}\ntime {when}\nkind {self.kind}\n"

    @property
    def chain(self) -> tuple[str, str]:
        """(tenant id or '-', category) named by the origin."""
        rest = self.origin.removeprefix(ORIGIN_PREFIX)
        tenant, _, category = rest.rpartition("/")
        return tenant, category


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(name: str, public: Ed25519PublicKey) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + raw_public(public)).digest()[:4]


def verifier_key(public: Ed25519PublicKey, name: str = KEY_NAME) -> str:
    return f"{name}+{key_id(name, public).hex()}+{base64.b64encode(bytes([ED25519]) + raw_public(public)).decode()}"


@dataclass(frozen=True)
class VerifierKey:
    name: str
    key_id: bytes
    public: Ed25519PublicKey


def parse_verifier_key(vkey: str) -> VerifierKey:
    try:
        name, kid_hex, b64 = vkey.strip().split("+", 2)
        raw = base64.b64decode(b64, validate=True)
        kid = bytes.fromhex(kid_hex)
    except ValueError as exc:
        raise NoteError("malformed verifier key") from exc
    if len(raw) != 33 or raw[0] != ED25519 or len(kid) != 4:
        raise NoteError("not an Ed25519 verifier key")
    public = Ed25519PublicKey.from_public_bytes(raw[1:])
    if key_id(name, public) != kid:
        raise NoteError("verifier key id does not match its key")
    return VerifierKey(name, kid, public)


def sign(body: CheckpointBody, private: Ed25519PrivateKey, name: str = KEY_NAME) -> str:
    """The base64 signature of a signature line: key id followed by the Ed25519 signature."""
    signature = private.sign(body.text().encode())
    return base64.b64encode(key_id(name, private.public_key()) + signature).decode()


def note(body: CheckpointBody, signature: str, name: str = KEY_NAME) -> str:
    return f"{body.text()}\n{DASH} {name} {signature}\n"


def parse_body(text: str) -> CheckpointBody:
    lines = text.split("\n")
    if len(lines) < 6 or lines[-1] != "":
        raise NoteError("a checkpoint body has origin, size, hash, time and kind lines")
    origin_line, size, root, time_line, kind_line = lines[:5]
    try:
        head = base64.b64decode(root, validate=True)
        seq = int(size)
        when = datetime.strptime(time_line.removeprefix("time "), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise NoteError("malformed checkpoint body") from exc
    kind = kind_line.removeprefix("kind ")
    if (not origin_line.startswith(ORIGIN_PREFIX) or len(head) != 32 or seq < 0 or str(seq) != size
            or not time_line.startswith("time ") or kind not in KINDS):
        raise NoteError("malformed checkpoint body")
    return CheckpointBody(origin_line, seq, head.hex(), when, kind)


def open_note(text: str, keys: Iterable[VerifierKey]) -> CheckpointBody:
    """The body of a note signed by one of `keys`; NoteError otherwise."""
    body_text, sep, sigs = text.partition("\n\n")
    if not sep:
        raise NoteError("a signed note has a blank line before its signatures")
    body_text += "\n"
    body = parse_body(body_text)
    known = {(k.name, k.key_id): k for k in keys}
    for line in sigs.split("\n"):
        if not line:
            continue
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH:
            raise NoteError("malformed signature line")
        try:
            raw = base64.b64decode(parts[2], validate=True)
        except ValueError as exc:
            raise NoteError("malformed signature") from exc
        key = known.get((parts[1], raw[:4]))
        if key is None:
            continue
        try:
            key.public.verify(raw[4:], body_text.encode())
        except InvalidSignature as exc:
            raise NoteError("the signature does not verify: the note was changed") from exc
        return body
    raise NoteError("no signature by a known key")
