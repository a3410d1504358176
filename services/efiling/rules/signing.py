"""When a package is signed (XMLDSig with the office's certificate), from the procedure's data.

`signature` in data/procedures.json:

* `required` — always signed; without a certificate the send is refused before anything goes out.
* `required_unless_gbizid` — e-Gov asks for a certificate for 雇用保険 / 社会保険 procedures, except
  (since April 2020, by a secondary source) for gBizID accounts; which procedures accept unsigned
  gBizID filings is unconfirmed (EGOV-API.md §3). Signed whenever the e-Gov account has a
  certificate (its own or the tenant's default); sent unsigned otherwise, and e-Gov's
  /apply/check (run before every send) reports a missing signature as a format problem.
* anything else — unsigned.

A filing drafted with `sign: true` is always signed (refused without a certificate)."""

from __future__ import annotations

from enum import Enum


class Need(Enum):
    REQUIRED = "required"  # sign; refuse without a certificate
    IF_AVAILABLE = "if_available"  # sign when a certificate is set up
    NONE = "none"


def need(procedure_signature: str, requested: bool) -> Need:
    if requested or procedure_signature == "required":
        return Need.REQUIRED
    if procedure_signature == "required_unless_gbizid":
        return Need.IF_AVAILABLE
    return Need.NONE
