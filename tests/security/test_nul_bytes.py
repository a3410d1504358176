"""U+0000 in a string (a field or a path id) is bad input on every database: PostgreSQL text cannot
hold it, and that used to surface as a 500 (found by the injection suite, issue 13). Now 422 there;
SQLite may store it. Never a 5xx, never a half-written row."""

from __future__ import annotations

from tests.security.world import World, person_body


def test_nul_in_a_field_or_a_path_is_never_a_500(world: World) -> None:
    r = world.call("koyo_hoken", "post", "/api/v1/koyo-hoken/insured-persons", "a_admin",
                   json=person_body(world.j1, given_name="太\x00郎"))
    assert r.status_code in (201, 422), r.text
    assert r.headers["content-type"].startswith("application/problem+json") or r.status_code == 201
    r = world.call("accounts", "get", "/api/v1/accounts/users/%00", "a_admin")
    assert r.status_code in (404, 422), r.text
    if world.settings.database_url("accounts").startswith("postgresql"):
        assert r.status_code == 422 and "NUL" in r.json()["detail"]
