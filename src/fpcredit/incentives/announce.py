"""New eligibility (R24): after an official evaluation, who has come to qualify for an incentive.

A grade change is what moves most people into an incentive, so the persons whose grade changed
(notify/grades.py) are judged against every incentive in force whose grades admit the new grade
but not the old one; each who now qualifies — conditions included, a disputed fact left out as
verification leaves it out — is sent one `eligibility` notification per incentive, in the
transaction that records the evaluation. A person who comes to qualify without a grade change
(a child reaching an age) is not announced: `GET /v1/me/incentives` shows it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa

from fpcredit.evaluate.policy import LoadedPolicy
from fpcredit.evaluate.policy_incentives import Incentive
from fpcredit.incentives.eligibility import judge, needs_conditions, profiles
from fpcredit.notify.grades import Change
from fpcredit.notify.outbox import Param, enqueue_many
from fpcredit.store.db import Store

__all__ = ["enqueue_new_eligibility", "gained"]


def gained(
    incentives: Sequence[Incentive], old: str | None, new: str, on: dt.date
) -> list[Incentive]:
    """The incentives in force on `on` whose grades admit `new` and did not admit `old`."""
    return [i for i in incentives if i.valid_on(on) and new in i.grades and old not in i.grades]


def enqueue_new_eligibility(
    conn: sa.Connection,
    store: Store,
    policy: LoadedPolicy,
    changes: Sequence[Change],
    on: dt.date,
    evaluation_id: int,
) -> int:
    """In the evaluation's transaction `conn`: an `eligibility` notification for each person of
    `changes` and each incentive the grade change lets them into. Returns how many."""
    candidates = {
        pid: found
        for pid, old, new in changes
        if (found := gained(policy.policy.incentives, old, new, on))
    }
    if not candidates:
        return 0
    conditions = needs_conditions(i for found in candidates.values() for i in found)
    new_grade = {pid: new for pid, _old, new in changes if pid in candidates}
    rows = {pid: {"grade": new_grade[pid]} for pid in candidates}
    people = profiles(store, policy, rows, on, conditions=conditions)
    told: list[tuple[int, dict[str, Param]]] = []
    for profile in people:
        for incentive in candidates[profile.person_id]:
            if judge(incentive, profile, on).eligible:
                told.append(
                    (
                        profile.person_id,
                        {
                            "incentive": incentive.name.zh,
                            "incentive_id": incentive.id,
                            "as_of": on.isoformat(),
                            "evaluation_id": evaluation_id,
                        },
                    )
                )
    return enqueue_many(conn, "eligibility", told)
