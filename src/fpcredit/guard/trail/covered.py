"""The covered tables: rows the trail vouches for, their canonical form, digest and check.

A change entry holds the number and the SHA-256 of rows first_id..last_id of a covered table, in
canonical form (a compact JSON array of the never-changing columns, one line each). `verify_rows`
holds every change entry against the rows now, `verify_superseded` the derived column of facts.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import json
from array import array
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

import sqlalchemy as sa

from fpcredit.guard.trail.entries import stream
from fpcredit.messages import text
from fpcredit.store import schema as s

__all__ = [
    "COVERED",
    "Findings",
    "canonical",
    "rows_digest",
    "rows_query",
    "verify_rows",
    "verify_superseded",
    "vouched",
]

# The columns of a covered table that never change after insert, in the order they are hashed.
# facts.disputed is replayed from state entries; facts.superseded_at is derived (docs/trail.md).
COVERED: Final[dict[str, tuple[str, ...]]] = {
    "records": tuple(
        "id source record_key row_hash kind event_date recorded_at ingestion_id row_number".split()
    ),
    "facts": tuple(
        "id record_id subject_mention_id kind source record_key row_hash event_date recorded_at "
        "attrs".split()
    ),
    # A clerk's decision, replayed by every full relink: it must be the clerk's.
    "link_decisions": tuple(
        "id action same left_mentions right_mentions person_id other_person_id review_id "
        "decided_by decided_at reason".split()
    ),
    # An evaluation and the SHA-256 of its results file, checked before the file is served.
    "evaluations": tuple(
        "id kind as_of score_date grade_date known_at policy_id policy_version policy_sha256 "
        "persons path summary created_at results_sha256".split()
    ),
    # Policy activations (evaluate/active.py): every column, none ever changes.
    "policies": tuple("id policy_id version sha256 text activated_by activated_at reason".split()),
    # The points ledger (incentives/points.py): append-only; balances are sums of entries.
    "points_accounts": tuple("id kind person_id department created_at".split()),
    "points_redemptions": tuple(
        "id person_id redeemable_id department price idempotency_key request_sha256 "
        "created_at".split()
    ),
    "points_postings": tuple("id txn_id kind evaluation_id redemption_id actor created_at".split()),
    "points_entries": tuple("id posting_id account_id amount".split()),
    # Subsidy rolls (incentives/subsidy.py): every column, none ever changes; the file's SHA-256
    # is among them, so a roll paid out of a changed file is found.
    "subsidy_rolls": tuple(
        "id period incentive_id evaluation_id policy_sha256 budget_fen amount_fen total_fen "
        "held_fen paid held unfunded file_name file_sha256 created_by created_at".split()
    ),
    # Department verifications (incentives/verification.py): every column, none ever changes.
    "verifications": tuple(
        "id verification_id client_id department incentive person_id eligible purpose "
        "created_at expires_at".split()
    ),
    # The incentives a department client was registered to verify (guard/auth/clients.py).
    "client_incentives": tuple("id client_id incentive created_at".split()),
    # Cases (cases/store.py): every column but the derived `state`; their steps, all columns.
    "cases": tuple("id kind person_id fact_id source region opened_at due_on detail".split()),
    "case_steps": tuple("id case_id step outcome actor at note".split()),
    # The cross-province exchange (exchange/): append-only, a message's state its newest row.
    "exchange_partners": tuple("id province verify_key seal_key added_by added_at".split()),
    "exchange_outbox": tuple(
        "id message_id to_province kind record_id envelope created_at".split()
    ),
    "exchange_sent": tuple("id message_id stream_seq published_at".split()),
    "exchange_inbox": tuple(
        "id sender message_id stream_seq outcome reason record_id person_id body_enc sent_at "
        "received_at".split()
    ),
}
_E = s.ledger_entries
# A JSON string as json.dumps(..., ensure_ascii=False) writes it, in C.
_quote: Final[Callable[[str], str]] = json.encoder.encode_basestring


class Findings:
    """The first bad entry found so far and why."""

    def __init__(self) -> None:
        self.first: int | None = None
        self.reason: str | None = None

    def add(self, idx: int, reason: str) -> None:
        if self.first is None or idx < self.first:
            self.first, self.reason = idx, reason


def _value(v: Any) -> str:
    """One column value as the canonical row writes it (JSON)."""
    kind = type(v)
    if kind is str:
        return _quote(v)
    if kind is int:
        return str(v)
    if kind is bool:  # PostgreSQL's booleans; SQLite hands over 0 and 1
        return "1" if v else "0"
    if v is None:
        return "null"
    if kind is dt.datetime:
        return f'"{v.isoformat(sep=" ", timespec="microseconds")}"'
    if kind is dt.date:
        return f'"{v.isoformat()}"'
    if kind is bytes:  # the exchange's sealed envelopes and bodies
        return f'"{v.hex()}"'
    # Not a type these columns hold (a value written behind the store's back): still hashed.
    return _quote(repr(v))


def canonical(row: Sequence[Any]) -> bytes:
    """One row of a covered table as hashed: a compact JSON array and a newline."""
    return f"[{','.join(map(_value, row))}]\n".encode()


def rows_query(table: str, *extra: str, where: str = "") -> sa.TextClause:
    """The hashed columns of a covered table in id order, as the driver returns them: SQL text
    has no result types, which saves parsing SQLite's dates (SQLite stores SQLAlchemy's own
    text form, PostgreSQL returns date objects; both canonicalise the same)."""
    return sa.text(
        f"SELECT {', '.join((*COVERED[table], *extra))} FROM {table} {where} ORDER BY id"
    )


def rows_digest(conn: sa.Connection, table: str, first_id: int, last_id: int) -> tuple[int, str]:
    """How many rows of a covered table have ids first_id..last_id, and their SHA-256."""
    query = rows_query(table, where="WHERE id BETWEEN :first AND :last")
    digest, count = hashlib.sha256(), 0
    for row in stream(conn, query.bindparams(first=first_id, last=last_id)):
        digest.update(canonical(row))
        count += 1
    return count, digest.hexdigest()


def vouched(conn: sa.Connection, table: str, row_id: int) -> bool:
    """Whether the change entry that covers row `row_id` of an append-only covered table still
    matches the rows it covers (the check of one row when it is used, not only at `verify`)."""
    entry = conn.execute(
        sa.select(_E.c.first_id, _E.c.last_id, _E.c.row_count, _E.c.rows_sha256)
        .where(
            _E.c.table_name == table,
            _E.c.rows_sha256.is_not(None),
            _E.c.first_id <= row_id,
            _E.c.last_id >= row_id,
        )
        .order_by(_E.c.idx.desc())
        .limit(1)
    ).first()
    if entry is None:
        return False
    count, digest = rows_digest(conn, table, int(entry.first_id), int(entry.last_id))
    return (count, digest) == (entry.row_count, entry.rows_sha256)


def change_ranges(
    conn: sa.Connection, table: str
) -> Iterator[tuple[int, int, int, int | None, str | None]]:
    query = (
        sa.select(_E.c.idx, _E.c.first_id, _E.c.last_id, _E.c.row_count, _E.c.rows_sha256)
        .where(_E.c.table_name == table, _E.c.rows_sha256.is_not(None))
        .order_by(_E.c.first_id, _E.c.idx)
    )
    for idx, first, last, count, digest in stream(conn, query):
        yield int(idx), int(first), int(last), count, digest


def verify_rows(conn: sa.Connection, table: str, entries: int, found: Findings) -> None:
    """Each change entry's row count and hash against the table's rows now; every row covered;
    for facts, `disputed` as the state entries left it."""
    facts = table == "facts"
    states: dict[int, tuple[bool, int]] = {}
    if facts:
        replay = (
            sa.select(_E.c.idx, _E.c.first_id, _E.c.state)
            .where(_E.c.table_name == "facts", _E.c.state.is_not(None))
            .order_by(_E.c.idx)
        )
        for idx, fact_id, state in conn.execute(replay):
            states[int(fact_id)] = (state == "disputed", int(idx))
    query = rows_query(table, *(["disputed"] if facts else []))
    width = len(COVERED[table])
    ranges = change_ranges(conn, table)
    current = next(ranges, None)
    digest, count, covered_to = hashlib.sha256(), 0, -1

    def close(r: tuple[int, int, int, int | None, str | None]) -> None:
        idx, first, last, want_count, want_digest = r
        if first <= covered_to or count != want_count or digest.hexdigest() != want_digest:
            key = "audit.rows_overlap" if first <= covered_to else "audit.rows_changed"
            found.add(idx, text(key, idx=idx, table=table, first=first, last=last))

    for row in stream(conn, query):
        row_id = int(row[0])
        while current is not None and current[2] < row_id:
            close(current)
            covered_to = max(covered_to, current[2])
            current = next(ranges, None)
            digest, count = hashlib.sha256(), 0
        if current is not None and current[1] <= row_id:
            digest.update(canonical(row[:width]))
            count += 1
            owner = current[0]
        else:
            found.add(entries, text("audit.rows_uncovered", table=table, id=row_id))
            owner = entries
        if facts:
            disputed, by = states.get(row_id, (False, owner))
            if bool(row[width]) != disputed:
                found.add(by, text("audit.fact_state", id=row_id))
    while current is not None:
        close(current)
        covered_to = max(covered_to, current[2])
        current = next(ranges, None)
        digest, count = hashlib.sha256(), 0


def verify_superseded(conn: sa.Connection, entries: int, found: Findings) -> None:
    """superseded_at of each fact version against the later versions of its source record: set
    only to the recorded_at of a later version, and set whenever a later ingestion brought one.
    (Two versions in one file supersede nothing: ingestion compares with earlier files only.)"""
    firsts, lasts, owners = array("q"), array("q"), array("q")
    for idx, first, last, _count, _digest in change_ranges(conn, "facts"):
        firsts.append(first)
        lasts.append(last)
        owners.append(idx)

    def owner(fact_id: int) -> int:
        at = bisect.bisect_right(firsts, fact_id) - 1
        return owners[at] if at >= 0 and lasts[at] >= fact_id else entries

    # Untyped like the rows: the times are compared, not read (SQLite text, PostgreSQL objects).
    query = sa.text(
        "SELECT source, record_key, id, recorded_at, superseded_at FROM facts"
        " ORDER BY source, record_key, id"
    )
    group: list[tuple[int, Any, Any]] = []
    key: tuple[str, str] | None = None

    def check(versions: list[tuple[int, Any, Any]]) -> None:
        later_times: set[Any] = set()
        later_owners: set[int] = set()
        for fact_id, recorded, superseded in reversed(versions):
            mine = owner(fact_id)
            if superseded is not None:
                bad = superseded not in later_times
            else:
                bad = bool(later_owners - {mine})
            if bad:
                found.add(mine, text("audit.superseded", id=fact_id))
            later_times.add(recorded)
            later_owners.add(mine)

    for source, record_key, fact_id, recorded, superseded in stream(conn, query):
        if (source, record_key) != key:
            if group:
                check(group)
            key, group = (source, record_key), []
        group.append((int(fact_id), recorded, superseded))
    if group:
        check(group)
