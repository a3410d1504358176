from datetime import date

import pytest

from shared.jp_calendar import business_day_after, is_business_day, next_business_day
from shared.jp_text import egov_rejected_chars, is_katakana_name, to_fullwidth_katakana


@pytest.mark.parametrize(("day", "expected"), [
    (date(2026, 11, 28), date(2026, 11, 30)),   # Saturday → Monday
    (date(2026, 5, 3), date(2026, 5, 7)),       # Golden Week: 5/3 憲法記念日 … 5/6 振替休日
    (date(2026, 12, 29), date(2027, 1, 4)),     # year-end closure 12/29–1/3
    (date(2027, 1, 1), date(2027, 1, 4)),
    (date(2026, 11, 26), date(2026, 11, 26)),   # a Thursday stays
    (date(2026, 11, 23), date(2026, 11, 24)),   # 勤労感謝の日 (Monday)
])
def test_next_business_day(day, expected):
    assert next_business_day(day) == expected


def test_business_day_after_is_strictly_after():
    assert business_day_after(date(2026, 11, 26)) == date(2026, 11, 27)
    assert business_day_after(date(2026, 12, 28)) == date(2027, 1, 4)
    assert not is_business_day(date(2027, 1, 3))


def test_rejected_characters_name_the_reason():
    found = {r.char: r.reason for r in egov_rejected_chars("株式会社①ⅠｱテスＴ㈱髙橋")}
    assert found == {
        "①": "丸数字は使用できません",
        "Ⅰ": "ローマ数字は使用できません",
        "ｱ": "半角カタカナは使用できません",
        "㈱": "組文字・単位記号は使用できません",
        "髙": "JIS第1・第2水準以外の文字は使用できません",
    }
    assert egov_rejected_chars("山田 太郎　ヤマダ タロウ") == []


def test_kana_normalisation():
    assert to_fullwidth_katakana("ﾔﾏﾀﾞ  ﾀﾛｳ") == "ヤマダ\u3000タロウ"
    assert to_fullwidth_katakana("やまだ たろう") == "ヤマダ\u3000タロウ"
    assert is_katakana_name("ヤマダ\u3000タロウ")
    assert not is_katakana_name("山田")
