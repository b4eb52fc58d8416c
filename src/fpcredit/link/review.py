"""Clerical review (人工复核) and manual merge/unmerge, each kept as a decision with who, when, why.

Every decision is replayed by a full relink (`index._replay_decisions`), so a clerk's word
outlives the clusters it was made on.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa

from fpcredit.errors import FpcreditError
from fpcredit.guard.keys.crypto import Vault
from fpcredit.guard.masking import mask_name
from fpcredit.guard.trail.log import record_rows
from fpcredit.guard.trail.sealing import keys_of, lock_tables, sealing
from fpcredit.link.features import compact
from fpcredit.link.write import update_persons
from fpcredit.messages import text
from fpcredit.store import schema as s
from fpcredit.store.bulk import next_id, sync_sequences
from fpcredit.store.db import Store, utc_now

__all__ = [
    "ReviewError",
    "accept",
    "list_reviews",
    "merge",
    "reject",
    "show_review",
    "unmerge",
]

# How many of a person's mentions a decision records to stand for that person on replay.
_REPRESENTATIVES = 200
# The plain fields a clerk compares side by side (the name is shown decrypted besides).
_FIELDS = ("sex", "birth_date", "hukou_region", "residence_region")


class ReviewError(FpcreditError):
    """A review or merge request that cannot be carried out (unknown id, already decided)."""


def _masked_name(name: str | None) -> str | None:
    # The queue is a list a clerk scans: names masked (R28); `show_review` has the full pair.
    return mask_name(name) if name else name


@dataclass
class ReviewItem:
    id: int
    status: str
    probability: float
    mention_id: int
    source: str
    record_key: str
    role: str
    candidate_person_id: int
    name: str | None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _review_query() -> sa.Select[Any]:
    r, m, rec, lk = s.link_reviews, s.mentions, s.records, s.links
    return (
        sa.select(r, rec.c.source, rec.c.record_key, m.c.role, m.c.name_enc, lk.c.person_id)
        .join(m, m.c.id == r.c.mention_id)
        .join(rec, rec.c.id == m.c.record_id)
        .outerjoin(lk, lk.c.mention_id == m.c.id)
    )


def list_reviews(
    store: Store, vault: Vault, status: str = "pending", limit: int = 50
) -> list[ReviewItem]:
    """The queue, most doubtful first (closest to the middle of the two thresholds)."""
    r = s.link_reviews
    q = _review_query().where(r.c.status == status).order_by(r.c.probability.desc(), r.c.id)
    with store.engine.connect() as conn:
        rows = conn.execute(q.limit(limit)).all()
    return [
        ReviewItem(
            id=row.id,
            status=row.status,
            probability=round(row.probability, 4),
            mention_id=row.mention_id,
            source=row.source,
            record_key=row.record_key,
            role=row.role,
            candidate_person_id=row.candidate_person_id,
            name=_masked_name(vault.decrypt(row.name_enc, "name")),
        )
        for row in rows
    ]


def _get(conn: sa.Connection, review_id: int) -> Any:
    row = conn.execute(_review_query().where(s.link_reviews.c.id == review_id)).first()
    if row is None:
        raise ReviewError(text("link.review_unknown", id=review_id))
    return row


def show_review(store: Store, vault: Vault, review_id: int) -> dict[str, Any]:
    """Both sides of a doubtful pair, field by field, with each field's match weight."""
    m, p = s.mentions, s.persons
    with store.engine.connect() as conn:
        row = _get(conn, review_id)
        men = conn.execute(sa.select(m).where(m.c.id == row.mention_id)).one()
        person = conn.execute(sa.select(p).where(p.c.id == row.candidate_person_id)).one()
    weights = json.loads(row.comparison)
    fields: list[dict[str, Any]] = [
        {
            "field": "name",
            "record": vault.decrypt(men.name_enc, "name"),
            "person": vault.decrypt(person.name_enc, "name"),
            "person_source": person.name_source,
        }
    ]
    for f in _FIELDS:
        fields.append(
            {
                "field": f,
                "record": _plain(getattr(men, f)),
                "person": _plain(getattr(person, f)),
                "person_source": getattr(person, f"{f}_source"),
            }
        )
    return {
        "id": row.id,
        "status": row.status,
        "probability": row.probability,
        "model_version": row.model_version,
        "record": {"source": row.source, "record_key": row.record_key, "role": row.role},
        "mention_person_id": row.person_id,
        "candidate_person_id": row.candidate_person_id,
        "fields": fields,
        "weights": weights,
        "decided_by": row.decided_by,
        "decided_at": _plain(row.decided_at),
        "reason": row.reason,
    }


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else value


def _mentions_of(conn: sa.Connection, person_id: int) -> list[int]:
    lk = s.links
    return list(
        conn.scalars(
            sa.select(lk.c.mention_id).where(lk.c.person_id == person_id).order_by(lk.c.mention_id)
        )
    )


def _require_person(conn: sa.Connection, person_id: int) -> None:
    # Unknown, merged and emptied persons alike have no mentions.
    if not _mentions_of(conn, person_id):
        raise ReviewError(text("link.person_unknown", id=person_id))


def _decision(conn: sa.Connection, keys_dir: Path, **values: Any) -> None:
    """Keep a clerk's decision, on the trail in the same transaction (a full relink replays
    it: it must stay the clerk's)."""
    values["left_mentions"] = json.dumps(values["left_mentions"][:_REPRESENTATIVES])
    values["right_mentions"] = json.dumps(values["right_mentions"][:_REPRESENTATIVES])
    made = conn.execute(
        s.link_decisions.insert()
        .values(decided_at=utc_now(), **values)
        .returning(s.link_decisions.c.id)
    ).scalar_one()
    record_rows(
        conn, "link_decisions", made, made, "link_review", values["action"], keys_dir=keys_dir
    )


@contextmanager
def _sealed(
    conn: sa.Connection, keys_dir: Path, mentions: list[int], persons: list[int | None]
) -> Iterator[None]:
    """Keep the digests of `links` (of these mentions) and `persons` (these ids) on the trail
    with a clerk's change."""
    moved = ", ".join(str(int(m)) for m in mentions) or "NULL"
    ids = ", ".join(str(int(p)) for p in persons if p is not None) or "NULL"
    with (
        sealing(conn, "links", f"WHERE mention_id IN ({moved})", {}, keys_dir, "link_review"),
        sealing(conn, "persons", f"WHERE id IN ({ids})", {}, keys_dir, "link_review"),
    ):
        yield


def _move(conn: sa.Connection, mention_ids: list[int], person_id: int) -> None:
    """Link the mentions to `person_id` by a clerk's hand: no run, certain."""
    lk = s.links
    conn.execute(lk.delete().where(lk.c.mention_id.in_(mention_ids)))
    conn.execute(
        lk.insert(),
        [
            {"mention_id": i, "person_id": person_id, "pass": "clerk", "probability": 1.0}
            for i in mention_ids
        ],
    )


def refresh_persons(conn: sa.Connection, vault: Vault, person_ids: list[int]) -> None:
    """Recompute the best values of a few persons after mentions moved between them."""
    m, r, lk = s.mentions, s.records, s.links
    rows = conn.execute(
        sa.select(
            lk.c.person_id.label("cluster"),
            r.c.source,
            sa.cast(r.c.recorded_at, sa.String).label("recorded_at"),
            m.c.name_enc,
            m.c.name_bidx,
            m.c.id_number_enc,
            m.c.id_number_bidx.label("id_bidx"),
            m.c.sex,
            sa.cast(m.c.birth_date, sa.String).label("birth_date"),
            m.c.hukou_region,
            m.c.residence_region,
            m.c.urban_rural,
            m.c.occupation,
        )
        .join(r, r.c.id == m.c.record_id)
        .join(lk, lk.c.mention_id == m.c.id)
        .where(lk.c.person_id.in_(person_ids))
    ).all()
    if rows:
        texts = ("source", "recorded_at", "birth_date", "hukou_region", "residence_region")
        frame = pl.DataFrame(
            [dict(row._mapping) for row in rows],
            schema_overrides={c: pl.String for c in (*texts, "urban_rural", "occupation")},
            infer_schema_length=None,
        )
        update_persons(conn, compact(frame), None, vault)


def _decide(
    store: Store, vault: Vault, review_id: int, by: str, reason: str, same: bool
) -> dict[str, Any]:
    r, keys = s.link_reviews, keys_of(store)
    with store.engine.begin() as conn:
        lock_tables(conn, ["links", "persons"])  # before the trail's lock (the decision's entry)
        row = _get(conn, review_id)
        if row.status != "pending":
            raise ReviewError(text("link.review_decided", id=review_id, status=row.status))
        candidate = row.candidate_person_id
        _require_person(conn, candidate)
        own = row.person_id
        candidate_mentions = _mentions_of(conn, candidate)
        _decision(
            conn,
            keys,
            action="accept" if same else "reject",
            same=same,
            left_mentions=[row.mention_id],
            right_mentions=candidate_mentions,
            person_id=own,
            other_person_id=candidate,
            review_id=review_id,
            decided_by=by,
            reason=reason,
        )
        if same and own != candidate:
            # The whole file the record sits in joins the candidate: the run had already
            # judged its mentions to be one person.
            moving = _mentions_of(conn, own) if own is not None else [row.mention_id]
            with _sealed(conn, keys, moving, [own, candidate]):
                _move(conn, moving, candidate)
                _retire(conn, own, candidate)
                refresh_persons(conn, vault, [candidate])
        conn.execute(
            r.update()
            .where(r.c.id == review_id)
            .values(
                status="accepted" if same else "rejected",
                decided_by=by,
                decided_at=utc_now(),
                reason=reason,
            )
        )
    return {
        "review": review_id,
        "status": "accepted" if same else "rejected",
        "person_id": candidate if same else own,
    }


def _retire(conn: sa.Connection, person_id: int | None, into: int) -> None:
    if person_id is None or person_id == into:
        return
    p = s.persons
    conn.execute(
        p.update()
        .where(p.c.id == person_id)
        .values(merged_into=into, mentions=0, updated_at=utc_now())
    )


def accept(store: Store, vault: Vault, review_id: int, by: str, reason: str) -> dict[str, Any]:
    """The record is the candidate person: its file joins the candidate's."""
    return _decide(store, vault, review_id, by, reason, same=True)


def reject(store: Store, vault: Vault, review_id: int, by: str, reason: str) -> dict[str, Any]:
    """The record is not the candidate person; no relink will join them."""
    return _decide(store, vault, review_id, by, reason, same=False)


def merge(
    store: Store, vault: Vault, keep: int, other: int, by: str, reason: str
) -> dict[str, Any]:
    """Two files are one person: `other`'s mentions join `keep`, and `other` points to it."""
    if keep == other:
        raise ReviewError(text("link.merge_same"))
    keys = keys_of(store)
    with store.engine.begin() as conn:
        lock_tables(conn, ["links", "persons"])  # before the trail's lock (the decision's entry)
        _require_person(conn, keep)
        _require_person(conn, other)
        left, right = _mentions_of(conn, keep), _mentions_of(conn, other)
        _decision(
            conn,
            keys,
            action="merge",
            same=True,
            left_mentions=left,
            right_mentions=right,
            person_id=keep,
            other_person_id=other,
            decided_by=by,
            reason=reason,
        )
        with _sealed(conn, keys, right, [keep, other]):
            _move(conn, right, keep)
            _retire(conn, other, keep)
            refresh_persons(conn, vault, [keep])
    return {"person_id": keep, "merged": other, "mentions_moved": len(right)}


def unmerge(
    store: Store,
    vault: Vault,
    person_id: int,
    records: list[tuple[str, str]],
    by: str,
    reason: str,
) -> dict[str, Any]:
    """Split the mentions in `records` off `person_id` into a new person."""
    m, rec, lk = s.mentions, s.records, s.links
    keys_dir = keys_of(store)
    with store.engine.begin() as conn:
        lock_tables(conn, ["links", "persons"])  # before the trail's lock (the decision's entry)
        _require_person(conn, person_id)
        keys = sa.tuple_(rec.c.source, rec.c.record_key).in_(records)
        moving = list(
            conn.scalars(
                sa.select(m.c.id)
                .join(rec, rec.c.id == m.c.record_id)
                .join(lk, lk.c.mention_id == m.c.id)
                .where(lk.c.person_id == person_id, keys)
                .order_by(m.c.id)
            )
        )
        if not moving:
            raise ReviewError(text("link.unmerge_nothing", id=person_id))
        staying = [i for i in _mentions_of(conn, person_id) if i not in set(moving)]
        if not staying:
            raise ReviewError(text("link.unmerge_everything", id=person_id))
        new_id = next_id(conn, s.persons)
        with _sealed(conn, keys_dir, moving, [person_id, new_id]):
            conn.execute(s.persons.insert().values(id=new_id, created_at=utc_now()))
            _decision(
                conn,
                keys_dir,
                action="unmerge",
                same=False,
                left_mentions=moving,
                right_mentions=staying,
                person_id=person_id,
                other_person_id=new_id,
                decided_by=by,
                reason=reason,
            )
            _move(conn, moving, new_id)
            refresh_persons(conn, vault, [person_id, new_id])
        sync_sequences(conn, [s.persons])
    return {"person_id": person_id, "new_person_id": new_id, "mentions_moved": len(moving)}
