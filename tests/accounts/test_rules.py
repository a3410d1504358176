"""Pure rules of accounts and shared.permissions, with DOMAIN.md's worked examples."""

from datetime import UTC, date, datetime, timedelta

import pytest

from services.accounts.rules.business_days import (
    business_day_on_or_after,
    contract_end_schedule,
    is_business_day,
    next_business_day_after,
)
from services.accounts.rules.grants import Caller, refusal
from services.accounts.rules.notices import add_months, lead_time_ok
from services.accounts.rules.numbers import (
    NumberFormatError,
    check_digit_verified,
    normalise_office_number,
    parse_labour_insurance_number,
)
from shared.clock import JST
from shared.permissions import Grants, decide

# --- C10: business days -------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "moved"), [
    (date(2025, 5, 10), date(2025, 5, 12)),  # Saturday → Monday (資格取得 example)
    (date(2025, 12, 30), date(2026, 1, 5)),  # inside 12/29–1/3, and 1/4 is a Sunday
    (date(2026, 1, 31), date(2026, 2, 2)),  # 延納 第3期 on a Saturday
    (date(2026, 2, 14), date(2026, 2, 16)),  # 事務組合 第3期 on a Saturday
    (date(2026, 7, 10), date(2026, 7, 10)),  # a Friday: no shift
    (date(2026, 10, 31), date(2026, 11, 2)),
    (date(2027, 1, 31), date(2027, 2, 1)),
])
def test_domain_c10_worked_examples(raw, moved):
    assert business_day_on_or_after(raw) == moved


def test_holidays_weekends_and_year_end():
    assert not is_business_day(date(2026, 5, 6))  # 振替休日
    assert not is_business_day(date(2026, 1, 12))  # 成人の日
    assert not is_business_day(date(2026, 12, 29)) and not is_business_day(date(2027, 1, 3))
    assert is_business_day(date(2026, 12, 28)) and is_business_day(date(2027, 1, 4))
    assert next_business_day_after(date(2026, 3, 30)) == date(2026, 3, 31)  # "after" is strict


@pytest.mark.parametrize(("end", "disabled", "deleted"), [
    # across a weekend: Friday → Monday; end month March → first business day of April
    (date(2026, 3, 27), date(2026, 3, 30), date(2026, 4, 1)),
    # Golden Week 2026: 5/2 Sat, 5/3 Sun, 5/4–5/6 holidays (5/6 振替休日) → 5/7; June 1 is a Monday
    (date(2026, 5, 1), date(2026, 5, 7), date(2026, 6, 1)),
    # end of April 2027: 5/1–5/2 weekend, 5/3–5/5 holidays → 5/6 for both steps
    (date(2027, 4, 30), date(2027, 5, 6), date(2027, 5, 6)),
    # year end: 12/29–1/3 closed, 2027-01-04 is a Monday
    (date(2026, 12, 28), date(2027, 1, 4), date(2027, 1, 4)),
    # a month ending on a Saturday: 2026-01-31 → the first business day of February is 2/2
    (date(2026, 1, 30), date(2026, 2, 2), date(2026, 2, 2)),
    # mid-month end on a Tuesday: next day; account deletion waits for the month's end
    (date(2026, 9, 15), date(2026, 9, 16), date(2026, 10, 1)),
])
def test_contract_end_schedule(end, disabled, deleted):
    s = contract_end_schedule(end)
    assert s.accounts_disabled_on == disabled
    assert s.data_deleted_on == disabled
    assert s.accounts_deleted_on == deleted


# --- A3: numbers ----------------------------------------------------------------------------------

def test_labour_insurance_number_worked_example():
    n = parse_labour_insurance_number("13 1 01 912340 001")
    assert (n.prefecture_code, n.prefecture, n.shokan, n.kankatsu, n.kikan, n.edaban) == (
        "13", "東京", "1", "01", "912340", "001")
    assert n.shokan_meaning.startswith("労働基準監督署")
    assert n.kikan_kind == "事務組合委託"
    assert n.kikan_application == "一元適用"
    assert n.formatted == "13-1-01-912340-001"
    assert n.notes == ()
    assert parse_labour_insurance_number("13101912345001").kikan_application == "二元適用（労災・建設現場）"
    assert parse_labour_insurance_number("１３－１－０１－６１２３４２－０００").kikan_kind == "一括有期事業"


def test_labour_insurance_number_unknowns_are_noted_not_rejected():
    n = parse_labour_insurance_number("27201123457000")  # 所掌 2, 基幹番号 末尾 7: not in the tables
    assert n.shokan_meaning is None and n.kikan_application is None and len(n.notes) == 2
    assert parse_labour_insurance_number("13701123450000").notes  # 所掌 7 is [要確認]


@pytest.mark.parametrize("bad", ["1310191234000", "131019123400012", "00101912340001", "48101912340001",
                                 "13a01912340001", ""])
def test_labour_insurance_number_shape_is_enforced(bad):
    with pytest.raises(NumberFormatError):
        parse_labour_insurance_number(bad)


def test_office_number_is_format_only():
    assert normalise_office_number("1301-123456-7") == "1301-123456-7"
    assert normalise_office_number("13011234567") == "1301-123456-7"
    assert normalise_office_number("１３０１－１２３４５６－０") == "1301-123456-0"
    assert normalise_office_number("1301-123456") == "1301-123456"  # legacy: no check digit
    assert check_digit_verified("1301-123456-7") is None  # never judged: the algorithm is not public
    for bad in ("130-123456-7", "1301-12345-7", "1301-123456-78", "abcd-123456-7"):
        with pytest.raises(NumberFormatError):
            normalise_office_number(bad)


# --- notices --------------------------------------------------------------------------------------

def test_calendar_months_in_japan_time():
    at = datetime(2026, 1, 31, 1, 0, tzinfo=UTC)  # 10:00 JST on 01-31
    assert add_months(at, 1) == datetime(2026, 2, 28, 10, 0, tzinfo=JST)
    assert add_months(at, 3) == datetime(2026, 4, 30, 10, 0, tzinfo=JST)
    assert add_months(datetime(2026, 11, 15, tzinfo=JST), 3) == datetime(2027, 2, 15, tzinfo=JST)


def test_lead_time_boundaries():
    pub = datetime(2026, 1, 15, 10, 0, tzinfo=JST)
    one_month = datetime(2026, 2, 15, 10, 0, tzinfo=JST)
    assert lead_time_ok("maintenance", pub, one_month, emergency=False)
    assert not lead_time_ok("maintenance", pub, one_month - timedelta(seconds=1), emergency=False)
    three = datetime(2026, 4, 15, 10, 0, tzinfo=JST)
    assert lead_time_ok("end_of_service", pub, three, emergency=False)
    assert not lead_time_ok("end_of_service", pub, three - timedelta(seconds=1), emergency=False)
    assert lead_time_ok("maintenance", pub, pub + timedelta(hours=1), emergency=True)
    assert lead_time_ok("information", pub, pub, emergency=False)


# --- permissions (shared.permissions.decide) ------------------------------------------------------

def staff(menus, all_=False, ids=(), status="active", roles=("staff",)):
    return Grants(roles=frozenset(roles), menus=menus, jigyosho_all=all_, jigyosho_ids=frozenset(ids), status=status)


def test_staff_holds_what_is_granted():
    g = staff({"koyo_hoken": "read"}, ids={"A"})
    assert decide("user", (), (), g, "koyo_hoken", "read").jigyosho_ids == frozenset({"A"})
    assert decide("user", (), (), g, "koyo_hoken", "write") is None
    assert decide("user", (), (), g, "efiling", "read") is None
    w = staff({"koyo_hoken": "write"}, all_=True)
    assert decide("user", (), (), w, "koyo_hoken", "read").jigyosho_ids is None  # write implies read


def test_admin_holds_all_but_unmasked_my_number():
    admin = staff({}, roles=("tenant_admin",))
    assert decide("user", (), (), admin, "files", "write").jigyosho_ids is None
    assert decide("user", (), (), admin, "my_number_unmasked", "read") is None
    granted = staff({"my_number_unmasked": "read"}, roles=("tenant_admin",))
    assert decide("user", (), (), granted, "my_number_unmasked", "read").jigyosho_ids is None


def test_rows_beat_tokens_and_inactive_users_hold_nothing():
    # The row says staff without menus: a token still claiming tenant_admin gets nothing.
    assert decide("user", ("tenant_admin",), (), staff({}), "koyo_hoken", "read") is None
    assert decide("user", ("tenant_admin",), (), staff({}, roles=("tenant_admin",), status="disabled"),
                  "koyo_hoken", "read") is None
    # No row yet: only an administrator's token counts.
    assert decide("user", ("tenant_admin",), (), None, "koyo_hoken", "write") is not None
    assert decide("user", ("staff",), (), None, "koyo_hoken", "read") is None


def test_service_and_partner_tokens():
    assert decide("service", (), (), None, "operation_logs", "write").jigyosho_ids is None
    assert decide("partner", (), ("employees:read",), None, "koyo_hoken", "read") is not None
    assert decide("partner", (), ("employees:read",), None, "koyo_hoken", "write") is None
    assert decide("partner", (), ("filings:write",), None, "efiling", "read") is not None
    assert decide("partner", (), ("employees:write",), None, "user_admin", "read") is None
    assert decide("operator", (), (), None, "koyo_hoken", "read") is None
    # A partner is limited to the 事業所 its tenant granted it (the token's claim; None = all).
    limited = decide("partner", (), ("employees:read",), None, "koyo_hoken", "read", partner_jigyosho=["A"])
    assert limited is not None and limited.jigyosho_ids == frozenset({"A"})
    # A route's own write-only scope stands in for the menu; it never grants a read elsewhere.
    mn = decide("partner", (), ("mynumber:write",), None, "koyo_hoken", "write", partner_scopes=("mynumber:write",))
    assert mn is not None and mn.jigyosho_ids is None
    assert decide("partner", (), ("mynumber:write",), None, "koyo_hoken", "read") is None
    with pytest.raises(ValueError):
        decide("user", (), (), None, "no_such_menu", "read")


def test_no_escalation_by_a_staff_user_admin():
    me = Caller("me", False, {"user_admin": "write", "koyo_hoken": "read"}, False, frozenset({"A"}))
    ok = refusal(me, "x", ["staff"], ["staff"], {"koyo_hoken": "read"}, False, ["A"])
    assert ok is None
    assert refusal(me, "x", ["staff"], ["staff"], {"koyo_hoken": "write"}, False, ["A"])
    assert refusal(me, "x", ["staff"], ["staff"], {}, False, ["B"])
    assert refusal(me, "x", ["staff"], ["staff"], {}, True, [])
    assert refusal(me, "x", ["staff"], ["tenant_admin"], {}, False, [])
    assert refusal(me, "x", ["tenant_admin"], ["staff"], {}, False, [])
    assert refusal(me, "me", ["staff"], ["staff"], {}, False, [])
    admin = Caller("a", True, {}, True, frozenset())
    assert refusal(admin, "x", ["staff"], ["tenant_admin"], {"files": "write"}, True, []) is None


# --- mail (issue 24.2) ----------------------------------------------------------------------

def test_a_notice_mail_names_the_person_and_links_but_never_carries_the_body():
    from services.accounts.rules.mail import notice_mail

    m = notice_mail("田中 花子", "テスト事務所", "maintenance", "定期メンテナンス",
                    datetime(2026, 3, 1, 16, 0, tzinfo=UTC), datetime(2026, 3, 1, 19, 0, tzinfo=UTC), False,
                    "https://roumu.example/")
    assert m.subject == "【Roumu】メンテナンスのお知らせ: 定期メンテナンス"
    assert "田中 花子 様" in m.body and "https://roumu.example/\n" in m.body
    # 16:00 UTC is 01:00 the next day in Japan
    assert "期間: 2026年03月02日 01:00 〜 2026年03月02日 04:00 (日本時間)" in m.body
    eos = notice_mail("a", "b", "end_of_service", "終了", datetime(2026, 9, 30, 15, 0, tzinfo=UTC), None, True, "x")
    assert eos.subject.startswith("【Roumu】【緊急】サービス終了のお知らせ") and "2026年10月01日 00:00" in eos.body


@pytest.mark.parametrize(("attempts", "delay"), [(1, 60), (2, 120), (3, 240), (7, 3600), (30, 3600)])
def test_mail_retries_double_up_to_the_cap(attempts, delay):
    from services.accounts.rules.mail import next_attempt_delay

    assert next_attempt_delay(attempts, 60, 3600) == delay


@pytest.mark.parametrize(("code", "permanent"), [(550, True), (554, True), (451, False), (421, False), (None, False)])
def test_only_a_5xx_answer_refuses_for_good(code, permanent):
    from services.accounts.rules.mail import is_permanent

    assert is_permanent(code) is permanent


def test_the_digest_counts_per_jigyosho_within_the_users_days():
    from services.accounts.rules.mail import DueItem, digest_counts, sees_menu

    items = [DueItem("a", -2), DueItem("a", 0), DueItem("a", 7), DueItem("a", 8), DueItem("b", 3), DueItem("c", 1)]
    assert digest_counts(items, 7, lambda j: j != "c") == {"a": (1, 2), "b": (0, 1)}
    assert digest_counts(items, 7, lambda j: False) == {}
    assert sees_menu(["tenant_admin"], {}, False, [], "koyo_hoken", "a")
    assert sees_menu(["staff"], {"koyo_hoken": "read"}, False, ["a"], "koyo_hoken", "a")
    assert not sees_menu(["staff"], {"koyo_hoken": "read"}, False, ["a"], "koyo_hoken", "b")
    assert sees_menu(["staff"], {"koyo_hoken": "write"}, True, [], "koyo_hoken", "b")
    assert not sees_menu(["staff"], {"efiling": "write"}, True, [], "koyo_hoken", "b")
