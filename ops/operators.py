"""Operator accounts (issue 24), written straight into auth's database as the seed does:

    python -m ops.operators add NAME --display-name "山田 運用"   # asks for the password twice
    python -m ops.operators add NAME --display-name X --password-stdin < file
    python -m ops.operators list
    python -m ops.operators disable NAME

`add` prints the TOTP secret and its otpauth:// URI once: put it into the operator's
authenticator app, it is not shown again (it is stored sealed). Operators then sign in with
POST /api/v1/auth/operators/login from ROUMU_AUTH_OPERATOR_ALLOWLIST (docs/operations.md)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from services.auth import operators
from services.auth.passwords import Passwords
from services.auth.settings import AuthSettings
from shared.clock import SYSTEM_CLOCK
from shared.crypto import load_data_keys
from shared.db import Database
from shared.events import Actor
from shared.settings import CommonSettings


@dataclass(frozen=True)
class Added:
    name: str
    operator_id: str
    totp_secret: str
    otpauth_uri: str


def _actor() -> Actor:
    # Who ran the command on the management host: the OS account, as far as it is known.
    return Actor(kind="system", id=f"ops.operators:{os.environ.get('USER', 'unknown')}"[:64])


def add(settings: CommonSettings, name: str, display_name: str, password: str,
        passwords: Passwords | None = None) -> Added:
    db = Database(settings.database_url("auth"))
    try:
        with db.transaction() as s:
            new = operators.create(s, name, display_name, password, passwords=passwords or Passwords(),
                                   keys=load_data_keys(settings.keys_dir), issuer=AuthSettings().totp_issuer,
                                   now=SYSTEM_CLOCK.now(), actor=_actor())
            return Added(new.operator.name, new.operator.id, new.totp_secret, new.otpauth_uri)
    finally:
        db.dispose()


def disable(settings: CommonSettings, name: str) -> None:
    db = Database(settings.database_url("auth"))
    try:
        with db.transaction() as s:
            operators.disable(s, name, _actor())
    finally:
        db.dispose()


def listing(settings: CommonSettings) -> list[tuple[str, str, str, str]]:
    db = Database(settings.database_url("auth"))
    try:
        with db.sessions() as s:
            return [(o.name, o.display_name, o.status, o.last_login_at.isoformat() if o.last_login_at else "-")
                    for o in operators.all_operators(s)]
    finally:
        db.dispose()


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise operators.OperatorError("the two passwords differ")
    return first


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.operators", description=(__doc__ or "").split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser("add", help="create an operator (prints the TOTP secret once)")
    a.add_argument("name")
    a.add_argument("--display-name", required=True)
    a.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    d = sub.add_parser("disable", help="disable an operator")
    d.add_argument("name")
    sub.add_parser("list", help="list operators")
    args = parser.parse_args(argv)
    settings = CommonSettings()
    try:
        if args.command == "add":
            added = add(settings, args.name, args.display_name, _password(args.password_stdin))
            print(f"operator {added.name} created ({added.operator_id}).")
            print("Add this TOTP secret to the operator's authenticator app now; it is not shown again:")
            print(f"  secret: {added.totp_secret}")
            print(f"  uri:    {added.otpauth_uri}")
        elif args.command == "disable":
            disable(settings, args.name)
            print(f"operator {args.name} disabled.")
        else:
            for row in listing(settings):
                print("\t".join(row))
    except operators.OperatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
