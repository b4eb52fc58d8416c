"""Turning a run's clusters into person ids and writing them, all in one transaction."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl
import sqlalchemy as sa

from fpcredit.errors import StoreError
from fpcredit.guard.keys.crypto import Vault
from fpcredit.guard.trail.sealing import lock_tables
from fpcredit.link.features import aligned, placed
from fpcredit.link.model import LinkModel
from fpcredit.link.persons import best_values
from fpcredit.link.sealed import LinkSeal, ids_table
from fpcredit.link.stage import STAGE_MIN, Stage, insert_from, rows, update_from
from fpcredit.messages import text
from fpcredit.store import schema as s
from fpcredit.store.bulk import lock_for_ingestion, next_id, sync_sequences
from fpcredit.store.db import Store, utc_now

__all__ = ["Changes", "LinkReport", "Writer", "stable_ids", "update_persons", "write_run"]

PASS_ID, PASS_SPLINK, PASS_SINGLE, PASS_CLERK = "id", "splink", "single", "clerk"
PASS_XWALK = "crosswalk"  # a certificate code that is another department's record key


@dataclass
class LinkReport:
    """What a run did (or, for an unapplied full relink, would do)."""

    mode: str
    applied: bool
    model_version: str
    records: int = 0
    mentions: int = 0
    persons: int = 0
    linked_now: int = 0
    by_pass: dict[str, int] = field(default_factory=dict)
    persons_created: int = 0
    review_added: int = 0
    review_pending: int = 0
    # Full relink only: how existing links would change.
    mentions_moved: int = 0
    persons_retired: int = 0

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


_BEST_COLUMNS = (
    "mentions",
    "name_enc",
    "name_bidx",
    "id_number_enc",
    "id_number_bidx",
    *s.PLAIN_PERSON_FIELDS,
    *[f"{f}_source" for f in s.PERSON_FIELDS],
)


def stable_ids(men: pl.DataFrame, first_new: int) -> tuple[dict[int, int], int]:
    """Map each cluster to a person id, keeping old ids where the mentions stay together.

    Greedy by overlap: the cluster holding most of an old person's mentions keeps its id.
    Returns the map and how many old ids are left without a cluster (retired).
    """
    old = men.select("cluster", "person_id").filter(pl.col("person_id").is_not_null())
    overlap = (
        old.group_by("cluster", "person_id")
        .agg(pl.len().alias("n"))
        .sort(["n", "person_id", "cluster"], descending=[True, False, False])
    )
    mapping: dict[int, int] = {}
    used: set[int] = set()
    for cluster, person, _n in overlap.iter_rows():
        if cluster not in mapping and person not in used:
            mapping[cluster] = person
            used.add(person)
    fresh = sorted(set(men["cluster"].unique().to_list()) - set(mapping))
    mapping.update({c: first_new + i for i, c in enumerate(fresh)})
    retired = old["person_id"].n_unique() - len(used)
    return mapping, retired


def _person_best(men: pl.DataFrame, persons: pl.Series | None, vault: Vault) -> pl.DataFrame:
    """Best values of the clusters (= person ids) of `men`, in the persons table's columns."""
    chosen = men if persons is None else men.filter(pl.col("cluster").is_in(persons.implode()))
    best = best_values(chosen, vault).rename({"cluster": "id", "id_bidx": "id_number_bidx"})
    return best.select("id", *_BEST_COLUMNS)


def update_persons(
    conn: sa.Connection, men: pl.DataFrame, persons: pl.Series | None, vault: Vault
) -> None:
    """Rewrite the best values of existing persons from their mentions."""
    best = _person_best(men, persons, vault)
    update_from(conn, "persons", best, consts={"updated_at": utc_now()})


@dataclass(frozen=True)
class Changes:
    """What an applied run writes, inside its transaction."""

    fresh: pl.DataFrame  # best values of the persons the run creates
    known: pl.DataFrame  # refreshed best values of persons that exist
    links: pl.DataFrame  # the links the run changes
    final: pl.DataFrame  # every mention's link after the run (where retired ids point)
    retired: int
    now: dt.datetime


class Writer:
    """How a run's result reaches the store, one step a method. `link` takes one (`writer=`);
    a test hands it a subclass that fails or watches at one step, a real writer otherwise.

    `stage_min`: the fewest rows of a set that go through the side file (`stage.Stage`)."""

    def __init__(self, stage_min: int = STAGE_MIN) -> None:
        self.stage_min = stage_min

    def ids(self, men: pl.DataFrame, first_new: int) -> tuple[dict[int, int], int]:
        """A full relink's person id of each cluster, and how many old ids are retired."""
        return stable_ids(men, first_new)

    def stage(self, store: Store) -> Stage:
        return Stage(store, self.stage_min)

    def write(
        self, conn: sa.Connection, stage: Stage, changes: Changes, run_id: int, seal: LinkSeal
    ) -> None:
        """New persons, refreshed best values, retired ids and the changed links."""
        self.insert_persons(conn, stage, changes.fresh, changes.now)
        update_from(
            conn,
            "persons",
            changes.known,
            stage=stage,
            name="persons",
            consts={"updated_at": changes.now},
        )
        if changes.retired:
            _retire(conn, changes.final, changes.now)
        # Rewriting most links (a first or full link) is faster with the person index rebuilt
        # once afterwards than maintained row by row.
        rebuild = changes.links.height > changes.final.height // 4
        (person_index,) = s.links.indexes
        if rebuild:
            person_index.drop(conn)
        _upsert_links(conn, changes.links, stage, run_id, seal)
        if rebuild:
            person_index.create(conn)
        stage.check_links(conn)

    def insert_persons(
        self, conn: sa.Connection, stage: Stage, fresh: pl.DataFrame, now: dt.datetime
    ) -> None:
        """The persons the run creates, with their best values."""
        consts = {"created_at": now, "updated_at": now}
        insert_from(conn, s.persons, fresh, stage=stage, name="new_persons", consts=consts)


def write_run(
    store: Store,
    vault: Vault,
    before: pl.DataFrame,
    after: pl.DataFrame,
    assigned: pl.DataFrame,
    reviews: list[dict[str, Any]],
    model: LinkModel,
    *,
    mode: str,
    apply: bool,
    last_run: int | None,
    progress: Callable[[str], None],
    writer: Writer | None = None,
) -> LinkReport:
    """Allocate ids, count the changes and (when `apply`) write them with `writer` (by default
    a `Writer()`); return the LinkReport."""
    writer = writer or Writer()
    with store.engine.connect() as conn:
        first_new = next_id(conn, s.persons)
    if mode == "full":
        mapping, retired = writer.ids(after, first_new)
    else:
        fresh = sorted(c for c in after["cluster"].unique().to_list() if c is not None and c < 0)
        mapping = {c: first_new + i for i, c in enumerate(fresh)}
        retired = 0
    # Only the cluster column is new here; every other column stays shared with `after`.
    after = aligned(
        after.with_columns(
            pl.col("cluster").replace_strict(
                pl.Series(list(mapping), dtype=pl.Int64),
                pl.Series(list(mapping.values()), dtype=pl.Int64),
                default=pl.col("cluster"),
            )
        )
    )
    final = _finalise(after, assigned)
    new_persons = pl.Series(
        sorted(set(mapping.values()) - set(before["person_id"].drop_nulls().unique().to_list())),
        dtype=pl.Int64,
    )
    report = LinkReport(
        mode=mode,
        applied=apply,
        model_version=model.version,
        records=before["record_id"].n_unique(),
        mentions=before.height,
        persons=final["cluster"].n_unique(),
        linked_now=int(before["person_id"].is_null().sum()),
        by_pass=dict(sorted(final.group_by("_pass").len().iter_rows())),
        persons_created=new_persons.len(),
        mentions_moved=final.filter(_moved).height,
        persons_retired=retired,
    )
    pending_reviews = _review_rows(final, reviews, mapping, model)
    if not apply:
        report.review_added = len(pending_reviews)
        return report
    differs = final.select(
        pl.col("person_id").is_null()
        | (pl.col("person_id") != pl.col("cluster"))
        | (pl.col("_pass") != pl.col("link_pass")).fill_null(True)
    ).to_series()
    # A first link changes every link: no need for a copy of them all.
    changed = final if differs.all() else final.filter(differs)
    progress(text("link.stage_write", n=changed.height))
    now = utc_now()
    touched = None if mode == "full" else changed["cluster"].unique()
    best = _person_best(after, touched, vault)
    del after
    links = changed.select(
        pl.col("id").alias("mention_id"),
        pl.col("cluster").alias("person_id"),
        pl.col("_pass").alias("pass"),
        pl.col("_p").alias("probability"),
    )
    is_new = pl.col("id").is_in(new_persons.implode())
    inserted, updated = best.filter(is_new), best.filter(~is_new)
    del best
    stage = writer.stage(store)
    stage.put("new_persons", inserted)
    stage.put("persons", updated)
    stage.put_links(links)
    with stage.writing(store) as conn:
        lock_for_ingestion(conn)
        if conn.scalar(sa.select(sa.func.max(s.link_runs.c.id))) != last_run:
            raise StoreError(text("link.concurrent"))
        if next_id(conn, s.persons) != first_new:
            raise StoreError(text("link.concurrent"))
        # The run's row comes first: its links name it. Its report is written last.
        run_id = conn.execute(
            s.link_runs.insert()
            .values(
                mode=mode, model_version=model.version, started_at=now, finished_at=now, report="{}"
            )
            .returning(s.link_runs.c.id)
        ).scalar_one()
        lock_tables(conn, ["persons", "links"])  # a clerk's decision waits (PostgreSQL)
        seal = LinkSeal(store)
        # The persons the run changes that exist already: refreshed ones, and retired ones.
        existing = [updated["id"], *([_retired(final)["id"]] if retired else [])]
        changed_ids = pl.concat([t.cast(pl.Int64) for t in existing])
        with ids_table(conn, "_fp_touched", changed_ids) as src:
            where = f"WHERE id IN (SELECT id FROM {src})"
            seal.persons_before(conn, where)
            changes = Changes(inserted, updated, links, final, retired, now)
            writer.write(conn, stage, changes, run_id, seal)
            seal.persons_after(conn, f"{where} OR id >= {int(first_new)}")
        seal.record(conn, mode)
        report.review_added = _store_reviews(conn, pending_reviews, mode, now)
        report.review_pending = int(
            conn.scalar(
                sa.select(sa.func.count())
                .select_from(s.link_reviews)
                .where(s.link_reviews.c.status == "pending")
            )
            or 0
        )
        conn.execute(
            s.link_runs.update()
            .where(s.link_runs.c.id == run_id)
            .values(finished_at=utc_now(), report=json.dumps(report.as_json(), ensure_ascii=False))
        )
        sync_sequences(conn, [s.persons, s.link_reviews, s.link_runs])
    return report


# A mention that had a person and now has another.
_moved = pl.col("person_id").is_not_null() & (pl.col("person_id") != pl.col("cluster"))


def _finalise(after: pl.DataFrame, assigned: pl.DataFrame) -> pl.DataFrame:
    """The link columns of every mention, with its pass (`_pass`) and probability (`_p`): from
    this run, from a clerk's decision, or unchanged. Narrow: a join copies what it keeps."""
    clerk = ["_clerk"] if "_clerk" in after.columns else []
    now = placed(
        after["id"],
        assigned.select("id", pl.col("pass").alias("_pass"), pl.col("probability").alias("_p")),
    )
    final = after.select("id", "cluster", "person_id", "link_pass", "link_probability", *clerk)
    final = aligned(final.with_columns(now))
    is_clerk = pl.col("_clerk") if clerk else pl.lit(False)
    return final.with_columns(
        pl.when(is_clerk)
        .then(pl.lit(PASS_CLERK))
        .otherwise(pl.coalesce("_pass", "link_pass"))
        .alias("_pass"),
        pl.when(is_clerk)
        .then(pl.lit(1.0))
        .otherwise(pl.coalesce("_p", "link_probability"))
        .alias("_p"),
    )


def _upsert_links(
    conn: sa.Connection, links: pl.DataFrame, stage: Stage, run_id: int, seal: LinkSeal
) -> None:
    """Insert the changed links, or replace a mention's link where it has one. SQLite and
    PostgreSQL both know INSERT … ON CONFLICT; SQLite needs the WHERE to parse it after a
    SELECT. The links digest follows: the replaced links out, the written ones in."""
    if links.is_empty():
        return
    with rows(conn, links, stage, "links") as src:
        seal.links_before(conn, src)
        seal.links_written(links, run_id)
        conn.execute(
            sa.text(
                "INSERT INTO links (mention_id, person_id, pass, probability, run_id) "
                f"SELECT mention_id, person_id, pass, probability, :run_id FROM {src} WHERE true "
                "ON CONFLICT (mention_id) DO UPDATE SET person_id = excluded.person_id, "
                "pass = excluded.pass, probability = excluded.probability, "
                "run_id = excluded.run_id"
            ),
            {"run_id": run_id},
        )


def _retired(final: pl.DataFrame) -> pl.DataFrame:
    """Old ids no cluster kept, each pointed at the person that received most of their
    mentions (`id`, `merged_into`, `mentions` = 0)."""
    kept = set(final["cluster"].unique().to_list())
    return (
        final.filter(
            pl.col("person_id").is_not_null()
            & ~pl.col("person_id").is_in(pl.Series(sorted(kept), dtype=pl.Int64).implode())
        )
        .group_by("person_id", "cluster")
        .len()
        .sort(["person_id", "len"], descending=[False, True])
        .unique("person_id", keep="first", maintain_order=True)
        .select(
            pl.col("person_id").alias("id"),
            pl.col("cluster").alias("merged_into"),
            pl.lit(0).alias("mentions"),
        )
    )


def _retire(conn: sa.Connection, final: pl.DataFrame, now: dt.datetime) -> None:
    """Point the ids no cluster kept at where their mentions went."""
    update_from(conn, "persons", _retired(final), name="retired", consts={"updated_at": now})


def _review_rows(
    final: pl.DataFrame, reviews: list[dict[str, Any]], mapping: dict[int, int], model: LinkModel
) -> list[dict[str, Any]]:
    """Doubtful pairs whose mention did not end up with the candidate anyway."""
    if not reviews:
        return []
    ids = pl.Series([r["mention_id"] for r in reviews], dtype=pl.Int64)
    mentions = final.select("id", "cluster").filter(pl.col("id").is_in(ids.implode()))
    where = dict(zip(mentions["id"].to_list(), mentions["cluster"].to_list(), strict=True))
    candidates = pl.Series([mapping.get(r["person_id"], r["person_id"]) for r in reviews])
    alive = set(candidates.filter(candidates.is_in(final["cluster"].implode())).to_list())
    out = []
    for r, candidate in zip(reviews, candidates.to_list(), strict=True):
        # A candidate the decisions dissolved, or the mention's own person, needs no clerk.
        if candidate not in alive or where.get(r["mention_id"]) == candidate:
            continue
        gammas = {k[7:]: round(v, 2) for k, v in r.items() if k.startswith("weight_")}
        out.append(
            {
                "mention_id": r["mention_id"],
                "candidate_person_id": candidate,
                "probability": r["probability"],
                "model_version": model.version,
                "comparison": json.dumps(gammas),
            }
        )
    return out


def _store_reviews(
    conn: sa.Connection, rows: list[dict[str, Any]], mode: str, now: dt.datetime
) -> int:
    """Queue the new doubtful pairs; a pair a clerk already decided is never asked again."""
    t = s.link_reviews
    if mode == "full":
        conn.execute(t.update().where(t.c.status == "pending").values(status="stale"))
    decided = {
        (m, p)
        for m, p in conn.execute(
            sa.select(t.c.mention_id, t.c.candidate_person_id).where(t.c.status != "stale")
        ).all()
    }
    fresh = [r for r in rows if (r["mention_id"], r["candidate_person_id"]) not in decided]
    if fresh:
        conn.execute(t.insert(), [{**r, "status": "pending", "created_at": now} for r in fresh])
    return len(fresh)
