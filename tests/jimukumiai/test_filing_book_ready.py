"""The 処理簿 line of a procedure handed to e-filing says 提出準備完了 (issue 29 item 13): the
roumu.koyo_hoken.procedure.ready event names its state by its type (its data has no `state`), and
the line stayed 点検済."""

from __future__ import annotations

import uuid
from datetime import date

from services.koyo_hoken import events as koyo_events
from services.koyo_hoken.models import Procedure
from shared.events import Actor
from tests.jimukumiai.test_books import apply, export, jst, procedure_event, rows


def test_ready_moves_the_line_to_ready(api):
    api.member(jigyosho_id="js-1")
    pid = str(uuid.uuid4())
    # The ready event exactly as koyo_hoken makes it.
    pr = Procedure(id=pid, tenant_id=api.tenant, jigyosho_id="js-1", insured_person_id="ip-1",
                   kind="shikaku_shutoku", state="ready", event_date=date(2025, 6, 1), due_date=date(2025, 7, 10),
                   proc_id="4950008680033000")
    ready = koyo_events.procedure_ready(pr, Actor(kind="user", id="u-1"),
                                        [{"form_id": "f1", "version": "0001"}], f"/api/v1/koyo-hoken/procedures/{pid}")
    assert "state" not in ready.data
    ready = ready.model_copy(update={"occurred_at": jst(2025, 6, 4)})
    apply(api, procedure_event(api.tenant, "created", pid, jst(2025, 6, 2)),
          procedure_event(api.tenant, "status_changed", pid, jst(2025, 6, 3), state="checked", from_state="draft"),
          ready)
    [line] = rows(export(api, "filing-register", "2025-06-01", "2025-06-30"))[1:]
    assert line[8] == "提出準備完了", line
    # An older event arriving late does not set it back.
    apply(api, procedure_event(api.tenant, "status_changed", pid, jst(2025, 6, 3, 12), state="checked",
                               from_state="draft"))
    [line] = rows(export(api, "filing-register", "2025-06-01", "2025-06-30"))[1:]
    assert line[8] == "提出準備完了", line
