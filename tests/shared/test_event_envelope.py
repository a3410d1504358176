"""The event envelope refuses secret-looking keys where events are made (the publisher), and reads
events back from the stream without walking their data again."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from shared.events import Actor, EventEnvelope

ACTOR = Actor(kind="user", id="u-1")


@pytest.mark.parametrize("data", [{"password": "x"}, {"nested": {"my_number": "1"}}, {"items": [{"totp_secret": 1}]},
                                  {"refresh_token": "t"}, {"private_key": "k"},
                                  # A real number under any key, in any shape (issue 27: the sweep still refuses it).
                                  {"note": "番号 123456789018 です"}, {"items": [{"value": "1234-5678-9018"}]},
                                  {"menus": {"my_number_unmasked": "123456789018"}}, {"n": 123456789018},
                                  {"123456789018": "read"}, {"menus": {"koyo_hoken": {"my_number": "1"}}}])
def test_an_event_carrying_a_secret_cannot_be_made(data):
    with pytest.raises(ValidationError, match="must not carry secrets"):
        EventEnvelope(type="roumu.auth.user.changed", tenant_id="t", actor=ACTOR, subject={"user_id": "u"}, data=data)
    raw = ('{"type":"roumu.auth.user.changed","tenant_id":"t","actor":{"kind":"user","id":"u"},'
           '"subject":{"user_id":"u"},"data":' + json.dumps(data) + '}').encode()
    with pytest.raises(ValidationError, match="must not carry secrets"):
        EventEnvelope.model_validate_json(raw)  # any parse outside from_json still checks


def test_facts_about_secrets_are_not_secrets():
    e = EventEnvelope(type="roumu.auth.user.changed", tenant_id="t", actor=ACTOR, subject={"user_id": "u"},
                      data={"totp_required": True, "password_policy": {"min_length": 12}, "my_number_registered": True,
                            "token_id": "j-1"})
    assert e.data["totp_required"] is True
    # a grant of the unmasked view names a menu, not a number (issue 18: it answered 500)
    grants = EventEnvelope(type="roumu.accounts.user.permissions_changed", tenant_id="t", actor=ACTOR,
                           subject={"user_id": "u"}, data={"menus": {"my_number_unmasked": "read"}})
    assert grants.data["menus"] == {"my_number_unmasked": "read"}


def test_a_permission_named_after_my_number_is_not_a_secret():
    # Issue 27 item 1: the grant event of `my_number_unmasked` was refused, so the grant answered 500.
    e = EventEnvelope(type="roumu.accounts.user.permissions_changed", tenant_id="t", actor=ACTOR,
                      subject={"user_id": "u"},
                      data={"menus": {"koyo_hoken": "read", "my_number_unmasked": "read"}, "jigyosho_ids": []})
    assert e.data["menus"]["my_number_unmasked"] == "read"


def test_ids_and_other_twelve_digit_runs_are_not_numbers():
    # A UUID whose last group is twelve digits with a valid check digit, a wrong check digit, and
    # longer runs (a 14-digit 労働保険番号, an 18-digit 到達番号).
    data = {"person_id": "0b6f1e2a-1c2d-4e5f-8a9b-123456789018", "x": "123456789017",
            "labour_insurance_number": "13101912340001", "arrival": "201612345678901234"}
    assert EventEnvelope(type="roumu.auth.user.changed", tenant_id="t", actor=ACTOR, subject={"user_id": "u"},
                         data=data).data == data


def test_a_number_in_the_subject_is_refused():
    with pytest.raises(ValidationError, match="must not carry secrets"):
        EventEnvelope(type="roumu.auth.user.changed", tenant_id="t", actor=ACTOR, subject={"user_id": "123456789018"})


def test_events_read_back_from_the_stream_are_validated_as_envelopes():
    e = EventEnvelope(type="roumu.auth.user.changed", tenant_id="t", actor=ACTOR, subject={"user_id": "u"},
                      data={"status": "active"})
    back = EventEnvelope.from_json(e.to_json())
    assert back == e
    with pytest.raises(ValidationError):
        EventEnvelope.from_json(b'{"type":"not.a.type","tenant_id":null,"actor":{"kind":"user","id":"u"},'
                                b'"subject":{}}')


def test_the_secret_walk_finds_numbers_at_any_depth_and_in_any_str_or_int_kind():
    # Issue 22 made the walk iterative with fast paths for plain str / int / None: subclasses (enums)
    # and values deep in lists of dicts are still searched, and a UUID next to a number does not hide it.
    from enum import IntEnum, StrEnum

    class Code(StrEnum):
        N = "123456789018"

    class Big(IntEnum):
        N = 123456789018

    for data in ({"a": [{"b": ({"c": [None, True, 1.5, "123456789018"]},)}]}, {"e": Code.N}, {"e": Big.N},
                 {"id": "0b6f1e2a-1c2d-4e5f-8a9b-123456789018 123456789018"},
                 {"note": "1234 5678 9018"}):
        with pytest.raises(ValidationError, match="must not carry secrets"):
            EventEnvelope(type="roumu.auth.user.changed", tenant_id="t", actor=ACTOR, subject={"user_id": "u"},
                          data=data)
    ok = {"id": "0B6F1E2A-1C2D-4E5F-8A9B-123456789018", "flags": [True, False, None, 1.0, 10**11 - 1]}
    assert EventEnvelope(type="roumu.auth.user.changed", tenant_id="t", actor=ACTOR, subject={"user_id": "u"},
                         data=ok).data == ok
