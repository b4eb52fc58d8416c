"""The points ledger (R21): double-entry postings, redemptions, reversals, balances.

Accounts: a person's (`person`), the earnings source (`earnings`, one) and each providing
department's (`provider`). A posting is one transaction of ≥ 2 entries (legs) whose amounts sum
to zero: an earning moves points from the earnings source to persons, a redemption from a
person to the providing department, a reversal back. Balances are sums of entries. Rows are
only ever inserted, under the trail's write lock, and each insert is a change entry of the
trail in the same transaction (`audit verify` finds an edited amount).

Concurrency: a redemption locks the person's account row (SELECT … FOR NO KEY UPDATE) on PostgreSQL
and opens its transaction with BEGIN IMMEDIATE on SQLite (one writer at a time), then reads the
balance: two redemptions of one balance never both see the points they spend.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa

from fpcredit.errors import FpcreditError
from fpcredit.evaluate.policy_points import Redeemable
from fpcredit.guard.trail.entries import lock
from fpcredit.guard.trail.log import record_rows
from fpcredit.messages import text
from fpcredit.notify.outbox import Param, enqueue
from fpcredit.store import schema as s
from fpcredit.store.bulk import bulk_insert
from fpcredit.store.db import Store, utc_now

__all__ = [
    "EARNING",
    "KINDS",
    "REDEMPTION",
    "REVERSAL",
    "Cancellation",
    "Line",
    "PointsError",
    "Redemption",
    "account_of",
    "balance",
    "balances_agree",
    "cancel",
    "check_legs",
    "covered_insert",
    "lines",
    "post",
    "redeem",
    "request_digest",
    "writing",
]

EARNING: Final = "earning"
REDEMPTION: Final = "redemption"
REVERSAL: Final = "reversal"
KINDS: Final = (EARNING, REDEMPTION, REVERSAL)
_A, _P, _E, _R = s.points_accounts, s.points_postings, s.points_entries, s.points_redemptions
_BULK: Final = 1000  # rows from which an insert goes through the driver


class PointsError(FpcreditError):
    """A redemption or cancellation refused; `.code` says why (web/api/points.py maps it)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Redemption:
    """A redemption as first answered: the same on every replay of its idempotency key."""

    id: int
    redeemable: str
    department: str
    price: int
    txn_id: str
    created_at: dt.datetime


@dataclass(frozen=True)
class Cancellation:
    """A redemption's reversal (the same however often the cancellation is asked for)."""

    redemption_id: int
    txn_id: str
    cancelled_at: dt.datetime
    refunded: int


@dataclass(frozen=True)
class Line:
    """One entry of a person's account, with its posting."""

    entry_id: int
    txn_id: str
    kind: str
    amount: int
    at: dt.datetime
    evaluation_id: int | None
    redemption_id: int | None


def _txn_id() -> str:
    """A transaction id: 24 base32 characters (few digits: never mistaken for a phone)."""
    return base64.b32encode(secrets.token_bytes(15)).decode().lower()


def check_legs(amounts: Sequence[int]) -> None:
    """The posting rule: at least two legs, none zero, summing to zero (ValueError if not)."""
    if len(amounts) < 2 or any(a == 0 for a in amounts) or sum(amounts) != 0:
        raise ValueError(text("points.unbalanced", legs=len(amounts), total=sum(amounts)))


@contextmanager
def writing(store: Store) -> Iterator[sa.Connection]:
    """A write transaction of the ledger: BEGIN IMMEDIATE on SQLite (the store's one writer,
    waiting up to its busy timeout), an ordinary transaction on PostgreSQL (rows are locked)."""
    with store.engine.connect() as conn, conn.begin():
        if conn.dialect.name == "sqlite":
            raw: Any = conn.connection.driver_connection
            if not raw.in_transaction:
                raw.execute("BEGIN IMMEDIATE")
        yield conn


def _top(conn: sa.Connection, table: sa.Table) -> int:
    return int(conn.scalar(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))) or 0)


def _plain(conn: sa.Connection, value: Any) -> Any:
    """A value as SQLAlchemy would store it: SQLite gets its text form of a timestamp."""
    if isinstance(value, dt.datetime) and conn.dialect.name == "sqlite":
        return value.isoformat(sep=" ", timespec="microseconds")
    return value


def covered_insert(
    conn: sa.Connection,
    table: sa.Table,
    rows: list[dict[str, Any]],
    actor: str,
    action: str,
    keys_dir: Path | None,
) -> tuple[int, int]:
    """Insert rows of a ledger table and put them on the trail; their first and last id. The
    caller holds the trail's lock, so the ids are contiguous and no one else's."""
    before = _top(conn, table)
    if len(rows) < _BULK:
        conn.execute(table.insert(), rows)
    else:  # an evaluation's earnings: through the driver (COPY on PostgreSQL)
        columns = list(rows[0])
        bulk_insert(conn, table, columns, ([_plain(conn, r[c]) for c in columns] for r in rows))
    last = _top(conn, table)
    first = int(conn.scalar(sa.select(sa.func.min(table.c.id)).where(table.c.id > before)))
    record_rows(conn, table.name, first, last, actor, action, keys_dir=keys_dir)
    return first, last


def post(
    conn: sa.Connection,
    kind: str,
    legs: Sequence[tuple[int, int]],
    *,
    actor: str,
    keys_dir: Path | None,
    evaluation_id: int | None = None,
    redemption_id: int | None = None,
    at: dt.datetime | None = None,
) -> tuple[int, str]:
    """Append one posting of (account id, amount) legs in `conn`'s transaction; its id and
    transaction id. Refuses a posting that does not balance (`check_legs`)."""
    if kind not in KINDS:
        raise ValueError(kind)
    check_legs([amount for _, amount in legs])
    lock(conn)
    txn_id = _txn_id()
    posting = {
        "txn_id": txn_id,
        "kind": kind,
        "evaluation_id": evaluation_id,
        "redemption_id": redemption_id,
        "actor": actor,
        "created_at": at or utc_now(),
    }
    posting_id, _ = covered_insert(conn, _P, [posting], actor, kind, keys_dir)
    rows = [{"posting_id": posting_id, "account_id": a, "amount": n} for a, n in legs]
    covered_insert(conn, _E, rows, actor, kind, keys_dir)
    return posting_id, txn_id


def account_of(
    conn: sa.Connection,
    *,
    person_id: int | None = None,
    department: str | None = None,
    create: bool = False,
    keys_dir: Path | None = None,
    for_update: bool = False,
) -> int | None:
    """The account of a person, of a providing department, or (neither named) the earnings
    source; created on the trail when `create` (the caller holds the trail's lock)."""
    if person_id is not None:
        where, values = _A.c.person_id == person_id, {"kind": "person", "person_id": person_id}
    elif department is not None:
        where, values = (
            _A.c.department == department,
            {"kind": "provider", "department": department},
        )
    else:
        where, values = _A.c.kind == "earnings", {"kind": "earnings"}
    query = sa.select(_A.c.id).where(where)
    if for_update and conn.dialect.name == "postgresql":
        # FOR NO KEY UPDATE: serialises the person's redemptions, yet lets an earning insert
        # entries that refer to the row (a foreign key takes KEY SHARE): no deadlock with it.
        query = query.with_for_update(key_share=True)
    found = conn.scalar(query)
    if found is not None or not create:
        return None if found is None else int(found)
    lock(conn)
    first, _ = covered_insert(
        conn, _A, [{**values, "created_at": utc_now()}], "points", "account", keys_dir
    )
    return first


def balance(conn: sa.Connection, account_id: int | None) -> int:
    """An account's balance: the sum of its entries (0 for no account)."""
    if account_id is None:
        return 0
    total = conn.scalar(sa.select(sa.func.sum(_E.c.amount)).where(_E.c.account_id == account_id))
    return int(total or 0)


def lines(
    conn: sa.Connection, account_id: int | None, limit: int, before: int | None = None
) -> list[Line]:
    """An account's entries, newest first: `limit` of them, with ids below `before` if given."""
    if account_id is None:
        return []
    query = (
        sa.select(_E.c.id, _P.c.txn_id, _P.c.kind, _E.c.amount, _P.c.created_at,
                  _P.c.evaluation_id, _P.c.redemption_id)
        .join(_P, _P.c.id == _E.c.posting_id)
        .where(_E.c.account_id == account_id)
        .order_by(_E.c.id.desc())
        .limit(limit)
    )  # fmt: skip
    if before is not None:
        query = query.where(_E.c.id < before)
    return [Line(int(r[0]), r[1], r[2], int(r[3]), r[4], r[5], r[6]) for r in conn.execute(query)]


def balances_agree(conn: sa.Connection) -> bool:
    """The ledger's invariants: every posting's legs sum to zero, and so do all balances."""
    unbalanced = conn.scalar(
        sa.select(sa.func.count()).select_from(
            sa.select(_E.c.posting_id)
            .group_by(_E.c.posting_id)
            .having(sa.or_(sa.func.sum(_E.c.amount) != 0, sa.func.count() < 2))
            .subquery()
        )
    )
    total = conn.scalar(sa.select(sa.func.coalesce(sa.func.sum(_E.c.amount), 0)))
    return unbalanced == 0 and int(total or 0) == 0


def request_digest(redeemable_id: str) -> str:
    """The SHA-256 of a redemption request's body in canonical form (what a key binds)."""
    body = json.dumps({"redeemable": redeemable_id}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def _redemption(conn: sa.Connection, row: Any) -> Redemption:
    txn = conn.scalar(
        sa.select(_P.c.txn_id).where(_P.c.redemption_id == row.id, _P.c.kind == REDEMPTION)
    )
    return Redemption(
        int(row.id), row.redeemable_id, row.department, int(row.price), str(txn), row.created_at
    )


def redeem(
    store: Store,
    person_id: int,
    redeemable_id: str,
    key: str,
    catalogue: Iterable[Redeemable],
    *,
    actor: str,
    today: dt.date | None = None,
) -> tuple[Redemption, bool]:
    """Redeem a catalogue service for a person under an idempotency key: the redemption and
    whether it was a replay of the key (the first answer, unchanged). PointsError: the key was
    used with another body, the service is unknown or closed, or the balance is short."""
    digest = request_digest(redeemable_id)
    with writing(store) as conn:
        account = account_of(conn, person_id=person_id, for_update=True)
        lock(conn)
        first = conn.execute(
            sa.select(_R).where(_R.c.person_id == person_id, _R.c.idempotency_key == key)
        ).first()
        if first is not None:
            if first.request_sha256 != digest:
                raise PointsError("key_reused", text("points.key_reused"))
            return _redemption(conn, first), True
        item = next((r for r in catalogue if r.id == redeemable_id), None)
        if item is None:
            raise PointsError("unknown", text("points.unknown_redeemable", id=redeemable_id))
        now = utc_now()
        if not item.open_on(today or now.date()):
            raise PointsError("closed", text("points.closed", id=redeemable_id))
        have = balance(conn, account)
        if account is None or have < item.price:
            raise PointsError(
                "insufficient", text("points.insufficient", balance=have, price=item.price)
            )
        row = {
            "person_id": person_id,
            "redeemable_id": item.id,
            "department": item.department,
            "price": item.price,
            "idempotency_key": key,
            "request_sha256": digest,
            "created_at": now,
        }
        rid, _ = covered_insert(conn, _R, [row], actor, REDEMPTION, store.keys_dir)
        provider = account_of(
            conn, department=item.department, create=True, keys_dir=store.keys_dir
        )
        assert provider is not None
        legs = [(account, -item.price), (provider, item.price)]
        _, txn = post(conn, REDEMPTION, legs, actor=actor, keys_dir=store.keys_dir,
                      redemption_id=rid, at=now)  # fmt: skip
        params: dict[str, Param] = {
            "redemption_id": rid,
            "redeemable": item.id,
            "points": -item.price,
            "balance": have - item.price,
        }
        enqueue(conn, "redemption", person_id=person_id, params=params, at=now)
        return Redemption(rid, item.id, item.department, item.price, txn, now), False


def cancel(store: Store, redemption_id: int, department: str | None, *, actor: str) -> Cancellation:
    """Reverse a redemption by a new posting, on the request of its providing department;
    asked again, the same reversal. PointsError: no such redemption, or another department's."""
    with writing(store) as conn:
        row = conn.execute(sa.select(_R).where(_R.c.id == redemption_id)).first()
        if row is None:
            raise PointsError("not_found", text("points.no_redemption", id=redemption_id))
        if row.department != department:
            raise PointsError("not_provider", text("points.not_provider", id=redemption_id))
        account = account_of(conn, person_id=int(row.person_id), for_update=True)
        lock(conn)
        done = conn.execute(
            sa.select(_P.c.txn_id, _P.c.created_at).where(
                _P.c.redemption_id == redemption_id, _P.c.kind == REVERSAL
            )
        ).first()
        if done is not None:
            return Cancellation(redemption_id, done.txn_id, done.created_at, int(row.price))
        provider = account_of(conn, department=row.department)
        assert account is not None and provider is not None
        now = utc_now()
        legs = [(provider, -int(row.price)), (account, int(row.price))]
        _, txn = post(conn, REVERSAL, legs, actor=actor, keys_dir=store.keys_dir,
                      redemption_id=redemption_id, at=now)  # fmt: skip
        params = {"redemption_id": redemption_id, "redeemable": row.redeemable_id,
                  "points": int(row.price), "balance": balance(conn, account)}  # fmt: skip
        enqueue(conn, "redemption", person_id=int(row.person_id), params=params, at=now)
        return Cancellation(redemption_id, txn, now, int(row.price))
