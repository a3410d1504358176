"""DOMAIN.md A3 number formats (format only for 被保険者番号), My Number check digit, form table."""

from datetime import date

import pytest

from services.koyo_hoken.rules import forms
from services.koyo_hoken.rules.numbers import (
    NumberFormatError,
    formatted_hihokensha_key,
    hihokensha_key,
    mask_my_number,
    my_number_check_digit,
    normalize_my_number,
    parse_hihokensha_bango,
    parse_jigyosho_bango,
    parse_rodo_hoken_bango,
)


@pytest.mark.parametrize("text", ["1234-567890-1", "12345678901", "１２３４－５６７８９０－１", "1234 567890 1"])
def test_hihokensha_bango_4_6_1(text):
    n = parse_hihokensha_bango(text)
    assert n.formatted == "1234-567890-1" and n.check_status == "unverified" and not n.legacy


def test_any_check_digit_is_accepted_no_guessed_algorithm():
    for cd in "0123456789":
        assert parse_hihokensha_bango(f"1234-567890-{cd}").check == cd


def test_legacy_10_digit_kept_as_is_never_padded_with_0():
    n = parse_hihokensha_bango("1234-567890")
    assert n.legacy and n.check is None and n.formatted == "1234-567890" and n.digits == "1234567890"


@pytest.mark.parametrize("text", ["1234-567890-1", "12345678901", "１２３４－５６７８９０－１", "1234-567890",
                                  "1234567890", "1234 567890 7"])
def test_key_of_the_stored_form_is_the_key_of_the_number(text):
    """The import takes the key from the validated (formatted) number instead of parsing it again."""
    assert formatted_hihokensha_key(parse_hihokensha_bango(text).formatted) == hihokensha_key(text) == "1234567890"


@pytest.mark.parametrize("text", ["12345678901", "1234567890", "1234-5678901", "12-34567890-1", ""])
def test_key_of_the_stored_form_refuses_an_unformatted_number(text):
    with pytest.raises(ValueError):
        formatted_hihokensha_key(text)


@pytest.mark.parametrize("text", ["1234-56789-1", "abcd-567890-1", "1234567890123456", ""])
def test_bad_shapes_refused_without_echoing(text):
    with pytest.raises(NumberFormatError) as e:
        parse_hihokensha_bango(text)
    assert text not in str(e.value) or not text


def test_jigyosho_bango_requires_11():
    assert parse_jigyosho_bango("1301-123456-7").formatted == "1301-123456-7"
    with pytest.raises(NumberFormatError):
        parse_jigyosho_bango("1301-123456")


def test_rodo_hoken_bango_worked_example():
    n = parse_rodo_hoken_bango("13 1 01 912340 001")
    assert (n.fuken, n.shosho, n.kankatsu, n.kikan, n.eda) == ("13", "1", "01", "912340", "001")
    assert n.shosho_meaning == "労働基準監督署" and n.itaku and n.kikan_first_meaning == "事務組合委託"
    assert n.kikan_last_meaning == "一元適用"
    assert parse_rodo_hoken_bango("13101912345001").kikan_last_meaning == "二元適用（労災・建設現場）"


def test_my_number_check_digit():
    assert my_number_check_digit("12345678901") == 8
    assert normalize_my_number("1234 5678 9018") == "123456789018"
    with pytest.raises(NumberFormatError) as e:
        normalize_my_number("123456789012")
    assert "123456789012" not in str(e.value)
    assert mask_my_number("123456789018") == "********9018"


def test_forms_are_dated_data():
    f = forms.forms_for(forms.Kind.SHIKAKU_SHUTOKU, date(2026, 4, 1))
    assert f.proc_id == "4950008680033000" and f.forms[0].form_id == "495008680033800330"
    assert f.forms[0].version == "0001"
    r = forms.forms_for(forms.Kind.SHIKAKU_SOSHITSU_RISHOKU, date(2026, 4, 1))
    assert [x.form_id for x in r.forms] == ["495008680035800350", "495008680035800351"]
    with pytest.raises(forms.NoFormInForce):
        forms.forms_for(forms.Kind.TENKIN, date(2022, 5, 31))
    newer = (*forms.TABLE, forms.ProcedureForms(forms.Kind.TENKIN, "転勤届", "4950008680040001",
                                                (forms.FormRef("x", "0002", "main", False),),
                                                date(2027, 4, 1), None, "test"))
    assert forms.forms_for(forms.Kind.TENKIN, date(2027, 3, 31), newer).proc_id == "4950008680040000"
    assert forms.forms_for(forms.Kind.TENKIN, date(2027, 4, 1), newer).proc_id == "4950008680040001"


def test_wareki():
    assert forms.wareki(date(2019, 5, 1)) == {"年号": "令和", "年": "01", "月": "05", "日": "01"}
    assert forms.wareki(date(1990, 4, 1))["年号"] == "平成"
    assert forms.wareki(date(1989, 1, 7))["年号"] == "昭和"
