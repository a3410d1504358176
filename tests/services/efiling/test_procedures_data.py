"""The procedure data of efiling, the sandbox and koyo_hoken agree; every entry says where it comes
from; the 離職証明書's wage rows become its repeated elements, and a 続紙 is refused; the sandbox
refuses a form block whose elements are not the skeleton's, in its order."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime

import pytest
from lxml import etree

from services.efiling.egov import package
from services.efiling.rules import procedures
from services.egov_sandbox import packages as sandbox_packages
from services.egov_sandbox import procedures as sandbox_procedures
from services.koyo_hoken.rules import forms as koyo_forms

ON = date(2026, 4, 1)
RISHOKU = "495008680035800351"


def test_every_procedure_koyo_hoken_hands_off_is_fileable_sourced_and_served():
    for kind in koyo_forms.Kind:
        row = koyo_forms.forms_for(kind, ON)
        proc = procedures.find(row.proc_id, ON)
        assert proc is not None, f"{kind}: efiling has no {row.proc_id}"
        assert [(f.form_id, f.version) for f in row.forms] == [(f.form_id, f.form_version) for f in proc.forms]
        assert proc.source and proc.unconfirmed, proc.code  # said, never guessed silently
        served = sandbox_procedures.find(row.proc_id)
        assert served is not None and served.proc_name == proc.proc_name
        assert [(f.form_id, f.form_version, f.block) for f in served.forms] == [
            (f.form_id, f.form_version, f.block) for f in proc.forms]


def _rishoku_spec() -> procedures.FormSpec:
    proc = procedures.find("4950008680035000", ON)
    assert proc is not None
    [spec] = [f for f in proc.forms if f.form_id == RISHOKU]
    return spec


def _row(i: int) -> dict[str, str]:
    return {"賃金支払対象期間_開始": f"2025-{i:02d}-01", "賃金額計": str(300000 + i)}


def test_wage_rows_fill_the_repeated_elements_in_order_and_every_slot_is_written():
    xml = package.form_xml(_rishoku_spec(), {"離職者氏名": "山田\u3000太郎", "離職年月日": {"年": "07"},
                                             "賃金支払状況等": [_row(i) for i in range(1, 4)]})
    block = etree.fromstring(xml).find("A-250046-004_1")
    assert block is not None
    tags = [c.tag for c in block]
    assert tags[6:19] == ["賃金支払状況等1"] + ["賃金支払状況等2"] * 12
    rows = block.findall("賃金支払状況等1") + block.findall("賃金支払状況等2")
    assert [r.findtext("賃金額計") for r in rows[:4]] == ["300001", "300002", "300003", None]
    # the served skeleton lists the same elements in the same order
    served = sandbox_procedures.find("4950008680035000")
    assert served is not None
    assert list(served.forms[1].fields) == tags


@pytest.mark.parametrize("rows", [14, 20])
def test_more_rows_than_one_sheet_is_refused_before_anything_is_built(rows):
    with pytest.raises(package.PackageError) as e:
        package.form_xml(_rishoku_spec(), {"離職者氏名": "山田", "離職年月日": {"年": "07"},
                                           "賃金支払状況等": [_row(1)] * rows})
    assert e.value.field == "賃金支払状況等" and "続紙" in e.value.message


def test_a_field_the_form_does_not_have_is_refused():
    with pytest.raises(package.PackageError) as e:
        package.form_xml(_rishoku_spec(), {"離職者氏名": "山田", "離職年月日": {"年": "07"}, "続紙枚数": "1"})
    assert e.value.field == "続紙枚数"


def test_the_whole_package_of_the_two_forms_builds():
    proc = procedures.find("4950008680035000", ON)
    assert proc is not None
    built = package.application(proc, {"495008680035800350": {"被保険者氏名": "山田"},
                                       RISHOKU: {"離職者氏名": "山田", "離職年月日": {"年": "07"}}},
                                {"氏名": "社労士 花子"}, now=datetime(2026, 4, 1, tzinfo=UTC))
    assert set(built.files) == {"kousei.xml", "495008680035800350_01.xml", f"{RISHOKU}_01.xml"}


def test_the_sandbox_takes_the_forms_as_the_skeleton_lays_them_out_and_refuses_another_order():
    proc = procedures.find("4950008680035000", ON)
    assert proc is not None
    data = {"495008680035800350": {"被保険者氏名": "山田"},
            RISHOKU: {"離職者氏名": "山田", "離職年月日": {"年": "07"}, "賃金支払状況等": [_row(1), _row(2)]}}
    built = package.application(proc, data, {"氏名": "社労士 花子"}, now=datetime(2026, 4, 1, tzinfo=UTC))
    ok = sandbox_packages.check_single(base64.b64encode(built.zip_bytes).decode(), proc.proc_id, ("新規申請",))
    assert ok.forms == ["雇用保険被保険者資格喪失届", "雇用保険被保険者離職証明書"]
    form = etree.fromstring(built.files[f"{RISHOKU}_01.xml"])
    block = form.find("A-250046-004_1")
    assert block is not None
    block.insert(0, block[1])  # 離職者氏名_フリガナ before 離職者氏名
    swapped = package.zip_folder(proc.proc_id, {**built.files, f"{RISHOKU}_01.xml": etree.tostring(
        form.getroottree(), xml_declaration=True, encoding="UTF-8")})
    with pytest.raises(sandbox_packages.PackageErrors) as e:
        sandbox_packages.check_single(base64.b64encode(swapped).decode(), proc.proc_id, ("新規申請",))
    assert [(r.item, r.file_name) for r in e.value.reports] == [("A-250046-004_1", f"{RISHOKU}_01.xml")]
