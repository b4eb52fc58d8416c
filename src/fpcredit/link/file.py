"""A person's file (一人一档) as the service shows it: best values, contacts, sources and facts.

Values come back decrypted; masking is the caller's duty (fpcredit.guard.masking), because only
the caller knows who is asking and why.
"""

from __future__ import annotations

import datetime as dt
import enum
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from fpcredit.guard.keys.crypto import Vault
from fpcredit.store import schema as s
from fpcredit.store.db import Store

__all__ = ["Ask", "Located", "Locator", "PersonFile", "find_persons", "locate", "person_file"]

# How many of the newest facts a file shows; the rest are counted.
RECENT_FACTS = 50


@dataclass
class PersonFile:
    """One person: identifiers (decrypted), plain attributes, and what the departments hold."""

    person_id: int
    name: str | None
    id_number: str | None
    phone: str | None
    address: str | None
    sex: int | None
    birth_date: dt.date | None
    hukou_region: str | None
    residence_region: str | None
    urban_rural: str | None
    occupation: str | None
    sources: dict[str, str | None] = field(default_factory=dict)
    records_by_source: dict[str, int] = field(default_factory=dict)
    facts: list[dict[str, Any]] = field(default_factory=list)
    facts_total: int = 0


@dataclass(frozen=True)
class Located:
    """A live person and the regions that decide who may read them."""

    person_id: int
    hukou_region: str | None
    residence_region: str | None


# Built once: the service runs it for every read of a person.
_LOCATE = sa.select(
    s.persons.c.id, s.persons.c.merged_into, s.persons.c.hukou_region, s.persons.c.residence_region
).where(s.persons.c.id == sa.bindparam("pid"))


def locate(store: Store, person_id: int) -> Located | None:
    """The live person an id names (following merges) with its regions, or None."""
    with store.engine.connect() as conn:
        for _ in range(16):  # a merge chain is short; the bound guards against a cycle
            row = conn.execute(_LOCATE, {"pid": person_id}).first()
            if row is None:
                return None
            if row.merged_into is None:
                return Located(int(row.id), row.hukou_region, row.residence_region)
            person_id = int(row.merged_into)
    return None


# What changes persons' ids, merges or regions leaves a row in one of these (or a new person).
_GENERATION = sa.select(
    sa.select(sa.func.max(s.link_runs.c.id)).scalar_subquery(),
    sa.select(sa.func.max(s.link_decisions.c.id)).scalar_subquery(),
    sa.select(sa.func.max(s.persons.c.id)).scalar_subquery(),
)
_ALL = sa.select(
    s.persons.c.id, s.persons.c.merged_into, s.persons.c.hukou_region, s.persons.c.residence_region
).order_by(s.persons.c.id)
_MAX_CHAIN = 16  # as locate: a merge chain is short; the bound guards against a cycle


@dataclass(frozen=True)
class _Snapshot:
    """Every person at one generation: sorted ids, the live person each resolves to (−1: none)
    and that live person's regions as indexes into `regions` (−1: none)."""

    generation: tuple[Any, ...] | None
    ids: npt.NDArray[np.int64]
    live: npt.NDArray[np.int64]
    hukou: npt.NDArray[np.int32]
    residence: npt.NDArray[np.int32]
    regions: list[str]


def _codes(values: list[str | None], regions: dict[str, int]) -> npt.NDArray[np.int32]:
    return np.array(
        [-1 if v is None else regions.setdefault(v, len(regions)) for v in values], dtype=np.int32
    )


def _snapshot(conn: sa.Connection, generation: tuple[Any, ...]) -> _Snapshot:
    rows = conn.execute(_ALL).all()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    into = np.fromiter(
        (-1 if r[1] is None else r[1] for r in rows), dtype=np.int64, count=len(rows)
    )
    regions: dict[str, int] = {}
    hukou = _codes([r[2] for r in rows], regions)
    residence = _codes([r[3] for r in rows], regions)
    # Follow every merge chain at once: pos[i] is the row person i has reached (locate's hops,
    # vectorised); a chain into a missing id or longer than locate follows names nobody.
    n = len(ids)
    pos = np.arange(n)
    alive = np.ones(n, dtype=bool)
    for _ in range(_MAX_CHAIN - 1):
        target = into[pos]
        moving = np.flatnonzero(alive & (target >= 0))
        if not len(moving):
            break
        nxt = np.searchsorted(ids, target[moving])
        ok = nxt < n
        ok[ok] = ids[nxt[ok]] == target[moving][ok]
        pos[moving[ok]] = nxt[ok]
        alive[moving[~ok]] = False
    alive &= into[pos] < 0
    none = np.int32(-1)
    return _Snapshot(
        generation,
        ids,
        np.where(alive, ids[pos], -1),
        np.where(alive, hukou[pos], none).astype(np.int32),
        np.where(alive, residence[pos], none).astype(np.int32),
        list(regions),
    )


class Locator:
    """`locate` from memory, for the service: every person's live id and regions, reloaded when
    a link run, a clerical decision or a new person changes them.

    Whether anything changed is asked at most every `recheck_s` seconds (one small query), so a
    merge or a move takes effect within that time, as a closed session does. An id the snapshot
    does not know (a person newer than it, or nobody) is asked of the store.
    """

    def __init__(
        self, store: Store, recheck_s: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._store = store
        self._clock = clock  # seconds, monotonic; a test moves its own
        self._recheck_s = recheck_s
        self._lock = threading.Lock()
        self._snap: _Snapshot | None = None
        self._checked = -float("inf")

    def _due(self) -> bool:
        return self._clock() - self._checked >= self._recheck_s

    def _current(self) -> _Snapshot | None:
        if self._due() and self._lock.acquire(False):
            try:  # one thread reloads; the others go on with the snapshot they have
                with self._store.engine.connect() as conn:
                    generation = tuple(conn.execute(_GENERATION).one())
                    if self._snap is None or self._snap.generation != generation:
                        self._snap = _snapshot(conn, generation)
                self._checked = self._clock()
            finally:
                self._lock.release()
        return self._snap

    def known(self, person_id: int) -> Located | Literal[Ask.STORE] | None:
        """The live person from memory, never touching the store (safe on the event loop); None
        when the id names nobody live; `Ask.STORE` when only `locate` can tell (nothing loaded,
        a recheck due, or an id newer than the snapshot)."""
        if self._snap is None or self._due():
            return Ask.STORE
        return _lookup(self._snap, person_id)

    def locate(self, person_id: int) -> Located | None:
        """`locate(store, person_id)`, from memory when it can be (may reload first)."""
        snap = self._current()
        found = Ask.STORE if snap is None else _lookup(snap, person_id)
        return locate(self._store, person_id) if found is Ask.STORE else found


class Ask(enum.Enum):
    """What `Locator.known` answers when memory cannot."""

    STORE = "store"


def _lookup(snap: _Snapshot, person_id: int) -> Located | Literal[Ask.STORE] | None:
    at = int(np.searchsorted(snap.ids, person_id))
    if at >= len(snap.ids) or snap.ids[at] != person_id:
        return Ask.STORE
    live = int(snap.live[at])
    if live < 0:
        return None
    h, r = int(snap.hukou[at]), int(snap.residence[at])
    return Located(live, snap.regions[h] if h >= 0 else None, snap.regions[r] if r >= 0 else None)


def find_persons(
    store: Store, vault: Vault, id_number: str | None = None, name: str | None = None
) -> list[int]:
    """Live persons whose best ID number or name is exactly the one given (by blind index)."""
    p = s.persons
    query = sa.select(p.c.id).where(p.c.merged_into.is_(None))
    if id_number:
        query = query.where(p.c.id_number_bidx.in_(vault.blind_indexes(id_number, "id_number")))
    if name:
        query = query.where(p.c.name_bidx.in_(vault.blind_indexes(name, "name")))
    if not id_number and not name:
        return []
    with store.engine.connect() as conn:
        return [int(r[0]) for r in conn.execute(query.order_by(p.c.id).limit(100))]


def person_file(store: Store, vault: Vault, person_id: int) -> PersonFile | None:
    """The file of a live person, or None."""
    p, m, f, r, lk = s.persons, s.mentions, s.facts, s.records, s.links
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(p).where(p.c.id == person_id)).mappings().first()
        if row is None:
            return None
        contact = conn.execute(
            sa.select(m.c.phone_enc, m.c.address_enc)
            .join(r, r.c.id == m.c.record_id)
            .join(lk, lk.c.mention_id == m.c.id)
            .where(lk.c.person_id == person_id)
            .where(sa.or_(m.c.phone_enc.is_not(None), m.c.address_enc.is_not(None)))
            .order_by(r.c.recorded_at.desc(), m.c.id.desc())
            .limit(1)
        ).first()
        by_source = conn.execute(
            sa.select(r.c.source, sa.func.count(sa.distinct(r.c.id)))
            .join(m, m.c.record_id == r.c.id)
            .join(lk, lk.c.mention_id == m.c.id)
            .where(lk.c.person_id == person_id)
            .group_by(r.c.source)
        ).all()
        own = sa.select(lk.c.mention_id).where(lk.c.person_id == person_id).scalar_subquery()
        current = sa.and_(f.c.subject_mention_id.in_(own), f.c.superseded_at.is_(None))
        total = conn.execute(sa.select(sa.func.count()).where(current)).scalar_one()
        facts = conn.execute(
            sa.select(f.c.id, f.c.kind, f.c.source, f.c.event_date, f.c.recorded_at, f.c.disputed)
            .where(current)
            .order_by(f.c.event_date.desc(), f.c.id.desc())
            .limit(RECENT_FACTS)
        ).mappings()
        fact_rows = [dict(x) for x in facts]
    return PersonFile(
        person_id=person_id,
        name=vault.decrypt(row["name_enc"], "name"),
        id_number=vault.decrypt(row["id_number_enc"], "id_number"),
        phone=vault.decrypt(contact.phone_enc, "phone") if contact else None,
        address=vault.decrypt(contact.address_enc, "address") if contact else None,
        sex=row["sex"],
        birth_date=row["birth_date"],
        hukou_region=row["hukou_region"],
        residence_region=row["residence_region"],
        urban_rural=row["urban_rural"],
        occupation=row["occupation"],
        sources={k[: -len("_source")]: v for k, v in row.items() if k.endswith("_source")},
        records_by_source={str(k): int(v) for k, v in by_source},
        facts=fact_rows,
        facts_total=int(total),
    )
