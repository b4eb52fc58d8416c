"""The notifications outbox: a change and the message announcing it commit together (R24).

Every service that changes what a person is owed or told (an evaluation, an eligibility, a case
step, a redemption) calls `enqueue` with the connection of its own transaction, so a message is
never sent for a change that rolled back, and never lost for one that committed. The worker
(`fpcredit notify run`) delivers the rows; `message_id` is what receivers de-duplicate on.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Final

import sqlalchemy as sa

from fpcredit.store import schema as s
from fpcredit.store.db import utc_now

__all__ = [
    "AUDIENCE_PERSON",
    "FORBIDDEN_PARAMS",
    "KINDS",
    "NotificationError",
    "Param",
    "enqueue",
    "enqueue_many",
]

# What a notification can announce. A kind is also the message key `notify.<kind>` the worker
# renders in the receiver's language.
KINDS: Final[frozenset[str]] = frozenset(
    {
        "grade_changed",  # an official evaluation moved the person's grade
        "eligibility",  # the person newly qualifies for an incentive
        "case_opened",  # a case (objection, repair, correction, review) was opened
        "case_step",  # a case moved (assigned, answered, overdue)
        "case_outcome",  # a case closed, with its outcome
        "redemption",  # points redeemed, or a redemption reversed
        "verification",  # a department verified an eligibility (to the person, on request)
    }
)
AUDIENCE_PERSON: Final = "person"
# Placeholders that would carry an identifier: refused, so no row of the outbox holds one.
FORBIDDEN_PARAMS: Final[frozenset[str]] = frozenset(
    {"name", "id_number", "phone", "address", "id_card", "mobile"}
)
Param = str | int | float | bool | None


class NotificationError(ValueError):
    """A notification the code asked for that the outbox cannot hold: a programming error."""


def enqueue(
    conn: sa.Connection,
    kind: str,
    *,
    person_id: int | None = None,
    audience: str = AUDIENCE_PERSON,
    params: Mapping[str, Param] | None = None,
    at: dt.datetime | None = None,
) -> str:
    """Add one message to the outbox inside `conn`'s transaction; its message id.

    `audience` is "person" (the citizen `person_id`, by SMS) or a department's source (its
    webhook). `params` fill the message's placeholders and must not name an identifier.
    """
    values = _checked(kind, audience, person_id, params)
    now = at or utc_now()
    message_id = str(uuid.uuid4())
    conn.execute(sa.insert(s.notifications).values(_row(message_id, kind, person_id, audience,
                                                        values, now)))  # fmt: skip
    return message_id


def enqueue_many(
    conn: sa.Connection,
    kind: str,
    rows: Iterable[tuple[int, Mapping[str, Param]]],
    *,
    at: dt.datetime | None = None,
    chunk: int = 10_000,
) -> int:
    """Add one message of `kind` to each person of `rows` ((person_id, params) pairs) inside
    `conn`'s transaction, in bulk inserts of `chunk` rows; how many were added."""
    now = at or utc_now()
    added = 0
    it = iter(rows)
    while batch := list(itertools.islice(it, chunk)):
        values = [
            _row(str(uuid.uuid4()), kind, pid, AUDIENCE_PERSON,
                 _checked(kind, AUDIENCE_PERSON, pid, params), now)
            for pid, params in batch
        ]  # fmt: skip
        conn.execute(sa.insert(s.notifications), values)
        added += len(values)
    return added


def _checked(
    kind: str, audience: str, person_id: int | None, params: Mapping[str, Param] | None
) -> dict[str, Param]:
    if kind not in KINDS:
        raise NotificationError(f"unknown notification kind {kind!r}")
    values = dict(params or {})
    bad = FORBIDDEN_PARAMS.intersection(values)
    if bad:
        raise NotificationError(f"identifying placeholders {sorted(bad)} in a notification")
    if audience == AUDIENCE_PERSON and person_id is None:
        raise NotificationError("a notification to a person needs its person_id")
    return values


def _row(
    message_id: str,
    kind: str,
    person_id: int | None,
    audience: str,
    values: Mapping[str, Param],
    now: dt.datetime,
) -> dict[str, object]:
    return {
        "message_id": message_id,
        "kind": kind,
        "person_id": person_id,
        "audience": audience,
        "params": json.dumps(values, ensure_ascii=False, sort_keys=True),
        "created_at": now,
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": now,
    }
