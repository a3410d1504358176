"""被保険者負担額 (issue 25, DOMAIN.md A5): the worker's 雇用保険料 on one wage payment and the 50銭
rules. Oracles — the worked examples of the sources DOMAIN.md A5 cites:
work.keirekisyo.net/hasuu/ (一般, 6/1000: 266,750 → 1,600円50銭 → 1,600 deducted, 1,601 in cash;
250,084 → 1,500円50銭4厘 → 1,501) and biz.moneyforward.com/payroll/basic/93334 (0.55 %: 253,456 →
1,394.008 円)."""

from decimal import Decimal

import pytest

from services.jimukumiai.rules.rates import KoyoKubun, RateNotFound
from services.jimukumiai.rules.worker_share import Payment, round_share, worker_share

IPPAN = KoyoKubun.IPPAN


@pytest.mark.parametrize(("wage", "fy", "payment", "exact", "amount"), [
    (266_750, 2023, Payment.DEDUCTION, "1600.5", 1_600),  # 50銭以下: 切り捨て
    (266_750, 2023, Payment.CASH, "1600.5", 1_601),  # 50銭以上: 切り上げ
    (250_084, 2023, Payment.DEDUCTION, "1500.504", 1_501),  # 50銭4厘 (50銭1厘以上): 切り上げ
    (253_456, 2025, Payment.DEDUCTION, "1394.008", 1_394),  # 令和7 一般 5.5/1000
    (266_750, 2024, Payment.DEDUCTION, "1600.5", 1_600),  # 令和6: unchanged from 令和5
])
def test_the_sources_worked_examples(wage, fy, payment, exact, amount):
    s = worker_share(wage, fy, IPPAN, payment)
    assert (s.exact, s.amount) == (Decimal(exact), amount)


def test_rates_by_business_type_and_year_are_data():
    # 令和8: 一般 5, 農林水産・清酒製造 6, 建設 6 (per 1,000; DOMAIN.md A5 table).
    assert worker_share(300_000, 2026, IPPAN).amount == 1_500
    assert worker_share(300_000, 2026, KoyoKubun.NORIN_SHUZO).amount == 1_800
    assert worker_share(300_000, 2025, KoyoKubun.KENSETSU).rate == Decimal("6.5")
    assert worker_share(300_000, 2023, KoyoKubun.KENSETSU).amount == 2_100
    with pytest.raises(RateNotFound):
        worker_share(300_000, 2022, IPPAN)  # 令和4 is not tabled: no guess


def test_the_50_sen_boundaries():
    for payment, below, half, above in [(Payment.DEDUCTION, 10, 10, 11), (Payment.CASH, 10, 11, 11),
                                        (Payment.AGREED_ROUND_DOWN, 10, 10, 10)]:
        assert round_share(Decimal("10.4999"), payment) == below
        assert round_share(Decimal("10.5"), payment) == half
        assert round_share(Decimal("10.501"), payment) == above
    assert round_share(Decimal("10.999"), Payment.AGREED_ROUND_DOWN) == 10
    assert round_share(Decimal(7), Payment.CASH) == 7
    with pytest.raises(ValueError):
        worker_share(-1, 2025, IPPAN)


def test_the_endpoint(api):
    r = api.post("/calculator/worker-share", {"wage": 266_750, "fiscal_year": 2023, "payment": "cash"})
    assert (r["amount"], Decimal(r["exact"]), Decimal(r["rate"]), r["kubun"]) == (1_601, Decimal("1600.5"),
                                                                                   Decimal(6), "ippan")
    r = api.post("/calculator/worker-share", {"wage": 266_750, "fiscal_year": 2023})
    assert (r["amount"], r["payment"]) == (1_600, "deduction")
    r = api.post("/calculator/worker-share", {"wage": 100_000, "fiscal_year": 2022}, 422)
    assert r["type"].endswith("/rate-not-found") and r["title"] == "指定された年度・業種の料率が登録されていません"
    r = api.post("/calculator/worker-share", {"wage": -1, "fiscal_year": 2025}, 422)
    assert r["type"].endswith("/validation") and "wage" in str(r["errors"])
    r = api.post("/calculator/worker-share", {"wage": 1, "fiscal_year": 2025, "payment": "rounding"}, 422)
    assert "payment" in str(r["errors"])
    resp = api.call("POST", "/calculator/worker-share", 401, json={"wage": 1, "fiscal_year": 2025},
                    headers={"Authorization": "Bearer nope"})
    assert resp.headers["content-type"].startswith("application/problem+json")
