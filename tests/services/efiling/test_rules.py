"""Pure rules: e-Gov status strings to our states; characters e-Gov refuses, with their field."""

import pytest

from services.efiling.rules.characters import check_data, check_text, suggest_value
from services.efiling.rules.status import State, map_status


@pytest.mark.parametrize(("raw", "state"), [
    ("到達", State.ARRIVED), ("審査中", State.UNDER_REVIEW), ("審査中（補正待ち）", State.CORRECTION_REQUESTED),
    ("審査中(補正待ち)", State.CORRECTION_REQUESTED), (" 審査終了 ", State.REVIEWED), ("手続終了", State.COMPLETED),
    ("手続完了", State.COMPLETED), ("到達（取下げ処理中）", State.WITHDRAWING), ("取下げ済", State.WITHDRAWN),
    ("却下", State.REJECTED), ("再審査中（補正待ち）", State.CORRECTION_REQUESTED),
])
def test_known_status_strings(raw, state):
    assert map_status(raw) == state


@pytest.mark.parametrize("raw", ["", None, "審査保留", "UNKNOWN", "手続終了予定"])
def test_unknown_strings_map_to_none_never_raise(raw):
    assert map_status(raw) is None


def test_each_refused_kind_is_named_with_field_and_position():
    problems = check_data({"被保険者氏名": "山田①", "事業主": {"氏名": "㈱サンプル", "住所": "東京都Ⅱ丁目"},
                           "被保険者氏名フリガナ": "ﾔﾏﾀﾞ", "備考": "髙橋～"})
    got = [(p.field, p.position, p.char, p.reason, p.suggestion) for p in problems]
    assert got == [
        ("被保険者氏名", 3, "①", "丸数字", "1"),
        ("事業主.氏名", 1, "㈱", "囲み文字・組文字 (㈱ など)", "（株）"),
        ("事業主.住所", 4, "Ⅱ", "ローマ数字", "II"),
        ("被保険者氏名フリガナ", 1, "ﾔ", "半角カナ", "ヤ"),
        ("被保険者氏名フリガナ", 2, "ﾏ", "半角カナ", "マ"),
        ("被保険者氏名フリガナ", 3, "ﾀ", "半角カナ", "タ"),
        ("被保険者氏名フリガナ", 4, "ﾞ", "半角カナ", None),
        ("備考", 1, "髙", "JIS X 0208 にない文字 (環境依存文字・異体字)", "高"),
        ("備考", 3, "～", "JIS X 0208 にない文字 (環境依存文字・異体字)", "〜"),
    ]


def test_jis_x_0208_and_ascii_pass():
    assert check_text("x", "山田太郎 ヤマダタロウ 東京都千代田区1-2-3 〜−（株）ABCａｂｃ") == []


def test_jis_x_0212_and_controls_are_refused():
    assert [p.reason for p in check_text("x", "丂\t")] == [
        "JIS X 0208 にない文字 (環境依存文字・異体字)", "制御文字"]


def test_lists_are_walked_with_indices():
    assert [p.field for p in check_data({"a": ["ok", "①"]})] == ["a[1]"]


def test_whole_value_suggestion_folds_half_width_kana_runs():
    assert suggest_value("ﾔﾏﾀﾞ ﾀﾛｳ") == "ヤマダ タロウ"
    assert suggest_value("㈱サンプル①") == "（株）サンプル1"
    assert suggest_value("\x01") is None
