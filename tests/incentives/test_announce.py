"""New eligibility: one `eligibility` notification per incentive a grade change opens."""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.evaluate.policy import load_policy
from fpcredit.incentives.announce import enqueue_new_eligibility, gained
from fpcredit.notify.grades import grade_changes
from fpcredit.store import schema as s
from fpcredit.store.db import Store, utc_now
from tests.notify.test_grades import _evaluation

ON = dt.date(2026, 6, 30)
# The default catalogue's incentives without conditions, by the grades they admit.
A_ONLY = {"maternity_green_channel"}
A_OR_B = {"free_prepregnancy_check", "free_reproductive_check", "family_doctor_priority"}


def test_gained_admits_the_new_grade_and_not_the_old() -> None:
    incentives = load_policy().policy.incentives
    assert {i.id for i in gained(incentives, "A", "B", ON)} == set()  # every B one admits A
    up = {i.id for i in gained(incentives, "B", "A", ON)}
    assert up >= A_ONLY and not (A_OR_B & up)
    assert "maternity_insurance_grace" not in {i.id for i in gained(incentives, "C", "A", ON)}
    assert gained(incentives, "C", "A", dt.date(2030, 1, 1)) == []  # outside every window


def test_a_grade_change_announces_exactly_the_incentives_it_opens(
    settings: Settings, store: Store
) -> None:
    home = settings.home
    policy = load_policy()
    with store.engine.begin() as conn:
        conn.execute(s.persons.insert(), [{"id": i, "created_at": utc_now()} for i in range(1, 8)])
        before: dict[int, str | None] = {1: "C", 2: "B", 3: "A", 4: "D", 6: "A", 7: "B"}
        after: dict[int, str | None] = {1: "A", 2: "A", 3: "B", 4: "C", 5: "B", 6: "A", 7: "B"}
        _evaluation(conn, home, "2026-03-31", before)
        second = _evaluation(conn, home, "2026-06-30", after)
        changes = grade_changes(conn, home, second)
        assert sorted(changes) == [(1, "C", "A"), (2, "B", "A"), (3, "A", "B"), (4, "D", "C"),
                                   (5, None, "B")]  # fmt: skip
        told = enqueue_new_eligibility(conn, store, policy, changes, ON, second)
        rows = conn.execute(
            sa.select(s.notifications.c.person_id, s.notifications.c.params).where(
                s.notifications.c.kind == "eligibility"
            )
        ).all()
    got: dict[int, set[str]] = {}
    for pid, params in rows:
        values = json.loads(params)
        assert values["evaluation_id"] == second and values["as_of"] == "2026-06-30"
        got.setdefault(pid, set()).add(values["incentive_id"])
    # Conditions are judged too: these persons have no children and no known region or
    # occupation, so only the incentives without conditions open.
    assert got == {1: A_ONLY | A_OR_B, 2: A_ONLY, 5: A_OR_B}
    assert told == len(rows) == 8


def test_nothing_is_announced_without_a_grade_change(settings: Settings, store: Store) -> None:
    with store.engine.begin() as conn:
        assert enqueue_new_eligibility(conn, store, load_policy(), [], ON, 1) == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(s.notifications)).scalar() == 0
