"""Cases and their steps are on the trail: an edited row fails `audit verify` (both stores)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from fpcredit.cases.service import Cases
from fpcredit.config import Settings
from fpcredit.evaluate.policy import load_policy
from fpcredit.guard.trail.log import Trail
from fpcredit.guard.trail.verify import verify
from fpcredit.service import initialise
from fpcredit.store import schema as s
from fpcredit.store.db import Store


def test_an_edited_case_or_step_fails_verification(store: Store, settings: Settings) -> None:
    initialise(settings)  # the keys: the trail's MAC, the row seals
    with store.engine.begin() as conn:
        conn.execute(
            s.persons.insert().values(
                id=1, hukou_region="330106", created_at=dt.datetime(2026, 1, 1)
            )
        )
    policy = load_policy().policy
    clock = lambda: dt.datetime(2026, 9, 28, 2)  # noqa: E731
    cases = Cases(Trail(store, settings), lambda: policy, clock=clock)
    case = cases.review(1, "请复核", {"total": "80.00"}, "citizen:1")
    cases.decide(case.id, "confirm", "无误", "county:clerk", {})
    cases.close(case.id, "county:clerk")
    # The person was written here, not by a link run, so the persons' digest fails at the end
    # of the trail (first_bad = the number of entries); the case's own entries come before.
    first = verify(store, settings)
    assert first["first_bad"] == first["entries"], first
    with store.engine.begin() as conn:
        conn.execute(
            sa.update(s.case_steps).where(s.case_steps.c.step == "decided").values(outcome="revise")
        )
    report = verify(store, settings)
    assert not report["ok"] and report["first_bad"] < first["first_bad"], report
