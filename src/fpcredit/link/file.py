"""A person's file (一人一档) as the service shows it: best values, contacts, sources and facts.

Values come back decrypted; masking is the caller's duty (fpcredit.guard.masking), because only
the caller knows who is asking and why.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from fpcredit.guard.crypto import Vault
from fpcredit.store import schema as s
from fpcredit.store.db import Store

__all__ = ["Located", "PersonFile", "find_persons", "locate", "person_file"]

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


def find_persons(
    store: Store, vault: Vault, id_number: str | None = None, name: str | None = None
) -> list[int]:
    """Live persons whose best ID number or name is exactly the one given (by blind index)."""
    p = s.persons
    query = sa.select(p.c.id).where(p.c.merged_into.is_(None))
    if id_number:
        query = query.where(p.c.id_number_bidx == vault.blind_index(id_number, "id_number"))
    if name:
        query = query.where(p.c.name_bidx == vault.blind_index(name, "name"))
    if not id_number and not name:
        return []
    with store.engine.connect() as conn:
        return [int(r[0]) for r in conn.execute(query.order_by(p.c.id).limit(100))]


def person_file(store: Store, vault: Vault, person_id: int) -> PersonFile | None:
    """The file of a live person, or None."""
    p, m, f, r = s.persons, s.mentions, s.facts, s.records
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(p).where(p.c.id == person_id)).mappings().first()
        if row is None:
            return None
        contact = conn.execute(
            sa.select(m.c.phone_enc, m.c.address_enc)
            .join(r, r.c.id == m.c.record_id)
            .where(m.c.person_id == person_id)
            .where(sa.or_(m.c.phone_enc.is_not(None), m.c.address_enc.is_not(None)))
            .order_by(r.c.recorded_at.desc(), m.c.id.desc())
            .limit(1)
        ).first()
        by_source = conn.execute(
            sa.select(r.c.source, sa.func.count(sa.distinct(r.c.id)))
            .join(m, m.c.record_id == r.c.id)
            .where(m.c.person_id == person_id)
            .group_by(r.c.source)
        ).all()
        own = sa.select(m.c.id).where(m.c.person_id == person_id).scalar_subquery()
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
