"""Packages built from the skeleton `GET /procedure/{proc_id}` hands out, the way real clients do:
our e-Gov client fetches it from the sandbox (its requests checked against e-Gov's spec), the
package builder fills it in, the sandbox's format check and xmlsec1 accept the result, and a form
whose version differs from e-Gov's is refused before anything is sent."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import httpx
import pytest
from lxml import etree

from services.efiling.egov import package
from services.efiling.egov.client import EgovClient
from services.efiling.rules.procedures import find
from tests.services.efiling.test_xmldsig_interop import FORM, KOUSEI_ID, PROC, _shutoku, raw_fragment, signer
from tests.services.egov_support import new_account
from tests.support import xmlsec1

__all__ = ["raw_fragment", "signer"]  # fixtures shared with the interop tests


class Tokens:
    def __init__(self, token: str) -> None:
        self.token = token

    def access_token(self) -> str:
        return self.token

    def refreshed_token(self) -> str:
        return self.token


@pytest.fixture
def client(sandbox):
    http = httpx.Client(timeout=30)
    yield EgovClient(sandbox.api, Tokens(sandbox.token_for(new_account())["access_token"]), http)
    http.close()


def _proc():
    proc = find(PROC, date(2026, 1, 1))
    assert proc is not None
    return proc


def test_a_package_built_from_the_skeleton_passes_the_check_and_xmlsec1(client, signer, raw_fragment):
    skeleton, info = client.procedure(PROC)
    assert info["file_info"][0]["apply_file_name"] == f"{FORM}_01.xml"
    built = package.application(
        _proc(), _shutoku(), {"氏名": "社労士 花子", "法人団体名": "株式会社サンプル"},
        now=datetime(2026, 4, 1, 9, 0, tzinfo=UTC), signer=signer, skeleton=skeleton,
        attachments=[package.Attachment("提出代行証明書", "daikou.pdf", b"%PDF-1.4\n")])
    kousei = etree.fromstring(built.files[package.KOUSEI])
    assert kousei.findtext("構成情報/管理情報/手続名称") == _proc().proc_name
    assert kousei.findtext("構成情報/管理情報/申請者連絡先情報/申請者情報/氏名") == "社労士 花子"
    children = [c.tag for c in kousei.find("構成情報")]
    assert children[:2] == ["管理情報", "添付書類属性情報"]
    assert {"999000000000000001.xsl", f"{FORM}.xsl", f"{FORM}check.xml"} <= set(built.files)
    result = client.check(PROC, built.file_name, built.file_data)
    assert result["error_count"] == 0, result
    others = {n: b for n, b in built.files.items() if n != package.KOUSEI}
    res = xmlsec1.verify(built.files[package.KOUSEI], id_attr=KOUSEI_ID, trusted=[signer.cert], files=others)
    assert res.ok, res.output


def test_a_form_version_other_than_e_govs_is_refused(client):
    skeleton, _ = client.procedure(PROC)
    proc = _proc()
    revised = dataclasses.replace(proc, forms=(dataclasses.replace(proc.forms[0], form_version="0002"),))
    with pytest.raises(package.PackageError) as exc:
        package.application(revised, _shutoku(), {"氏名": "社労士 花子"}, now=datetime(2026, 4, 1, tzinfo=UTC),
                            skeleton=skeleton)
    assert exc.value.field == "申請書様式バージョン"
    other, _ = client.procedure("4950008680034000")
    with pytest.raises(package.PackageError) as exc:
        package.application(proc, _shutoku(), {"氏名": "社労士 花子"}, now=datetime(2026, 4, 1, tzinfo=UTC),
                            skeleton=other)
    assert exc.value.field == "手続ID"
