"""Certificate crosswalks: a code one department records that is another department's record key.

A child's hukou registration (落户) cites the health birth registration certificate it was made
on; a wedding's new household cites the marriage certificate. Such a code says outright that
the person named here is the person named there, so it links with probability 1, right after
the ID pass: a mention without a person joins the person of the mention its code ties it to.
The rules are data (`crosswalks:` in linkage.yaml). A valid ID number outranks a code: when the
tied mentions belong to persons with different ID numbers, that is a conflict and nothing moves.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from fpcredit.link.config import Crosswalk, LinkConfig
from fpcredit.link.persons import without_id_number
from fpcredit.link.write import PASS_XWALK
from fpcredit.messages import text
from fpcredit.store import schema as s
from fpcredit.store.db import Store

__all__ = ["PAIR_SCHEMA", "Applied", "apply_crosswalks", "crosswalk_pairs", "crosswalk_pass"]

PAIR_SCHEMA = {"mention_a": pl.Int64, "mention_b": pl.Int64, "rule": pl.String}
_ASSIGN_SCHEMA = {"id": pl.Int64, "cluster": pl.Int64, "pass": pl.String, "probability": pl.Float64}


def _attr_text(column: sa.ColumnElement[str], key: str, dialect: str) -> sa.ColumnElement[str]:
    """The text value of one key of a JSON object stored as text (NULL when absent or null)."""
    value: sa.ColumnElement[str]
    if dialect == "postgresql":
        value = sa.cast(column, postgresql.JSONB)[key].astext
    else:
        value = sa.func.json_extract(column, f"$.{key}", type_=sa.String)
    return value


def _rule_query(rule: Crosswalk, dialect: str) -> sa.Select[int, int]:
    """The current version of every citing record joined to the current version of the record
    it cites, as (citing mention, cited mention)."""
    f, fm = s.facts.alias("f"), s.mentions.alias("fm")
    tf, tm = s.facts.alias("tf"), s.mentions.alias("tm")
    src, dst = rule.from_, rule.to
    if dst.role is not None:
        role = tm.c.role == dst.role
    else:
        by_sex = sorted((dst.role_by_sex or {}).items())
        role = sa.or_(*(sa.and_(fm.c.sex == sex, tm.c.role == r) for sex, r in by_sex))
    code = _attr_text(f.c.attrs, src.attr, dialect)
    joined = (
        f.join(fm, sa.and_(fm.c.record_id == f.c.record_id, fm.c.role == src.role))
        .join(
            tf,
            sa.and_(
                tf.c.source == dst.source, tf.c.record_key == code, tf.c.superseded_at.is_(None)
            ),
        )
        .join(tm, sa.and_(tm.c.record_id == tf.c.record_id, role))
    )
    return (
        sa.select(fm.c.id, tm.c.id)
        .select_from(joined)
        .where(f.c.source == src.source, f.c.superseded_at.is_(None))
    )


def crosswalk_pairs(store: Store, config: LinkConfig) -> pl.DataFrame:
    """Every (citing mention, cited mention, rule name) the crosswalk rules find in the store.

    Only current record versions count on either side; a code whose record has not arrived
    (or never will) gives no pair.
    """
    frames = []
    with store.engine.connect() as conn:
        for rule in config.crosswalks:
            rows = conn.execute(_rule_query(rule, store.dialect)).all()
            frames.append(
                pl.DataFrame(
                    {
                        "mention_a": [r[0] for r in rows],
                        "mention_b": [r[1] for r in rows],
                        "rule": [rule.name] * len(rows),
                    },
                    schema=PAIR_SCHEMA,
                )
            )
    if not frames:
        return pl.DataFrame(schema=PAIR_SCHEMA)
    return pl.concat(frames).unique(maintain_order=True).sort("mention_a", "mention_b", "rule")


# A node of the pair graph: a person (cluster label) or a mention that has none yet.
_Node = tuple[bool, int]  # (is a cluster, label or mention id)


@dataclass(frozen=True)
class Applied:
    """What the pairs did."""

    placed: pl.DataFrame  # id, cluster, pass, probability: mentions that joined a person
    adopted: dict[int, int]  # fresh label of this run → existing person without an ID number
    conflicts: int  # pairs tying together persons that must stay apart
    deferred: int  # pairs with no person on either side yet


def apply_crosswalks(
    clusters: pl.DataFrame, pairs: pl.DataFrame, idless: Collection[int] = ()
) -> Applied:
    """Place the mentions the pairs tie to a person.

    `clusters` has `id, cluster`: null for no person yet, negative for a person this run would
    create (fresh), positive for an existing person; `idless` lists the existing persons that
    have no valid ID number. Pairs chain, and so do mentions of one person: everything they tie
    together (a group) is one person. A group holding

    - one person gives it to its mentions without one;
    - a fresh person and an existing person without an ID number: the fresh one is that person
      (a child filed from its birth registration, whose 落户 now brings the ID number), so it is
      adopted and the mentions without a person join too;
    - any other several persons is a conflict: two ID numbers, or two existing persons. A valid
      ID number outranks a code and existing persons are merged only by a clerk, so nothing
      moves;
    - no person is left to the probabilistic pass: made a new person here, it could no longer
      join the person its other records (with an ID number) already form.

    Pairs naming a mention that is not in `clusters` are ignored. Existing persons never change.
    """
    cluster_of = dict(zip(clusters["id"].to_list(), clusters["cluster"].to_list(), strict=True))
    usable = [
        (a, b)
        for a, b in pairs.select("mention_a", "mention_b").iter_rows()
        if a != b and a in cluster_of and b in cluster_of
    ]
    parent: dict[_Node, _Node] = {}

    def node(mention: int) -> _Node:
        label = cluster_of[mention]
        return (False, mention) if label is None else (True, label)

    def root(n: _Node) -> _Node:
        parent.setdefault(n, n)
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for a, b in usable:
        ra, rb = root(node(a)), root(node(b))
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[_Node, list[_Node]] = {}
    for n in sorted(parent):
        groups.setdefault(root(n), []).append(n)
    target: dict[_Node, int | None] = {}  # per group root; None: nothing joins
    adopted: dict[int, int] = {}
    conflicted: set[_Node] = set()
    placed: list[tuple[int, int]] = []
    for top, nodes in groups.items():
        held = sorted(label for is_cluster, label in nodes if is_cluster)
        person: int | None = None
        if len(held) == 1:
            person = held[0]
        elif len(held) == 2 and held[0] < 0 < held[1] and held[1] in idless:
            person = adopted[held[0]] = held[1]
        elif held:
            conflicted.add(top)
        target[top] = person
        if person is not None:
            placed.extend((label, person) for is_cluster, label in nodes if not is_cluster)
    tops = [root(node(a)) for a, _ in usable]
    frame = pl.DataFrame(
        {"id": [m for m, _ in placed], "cluster": [c for _, c in placed]},
        schema={"id": pl.Int64, "cluster": pl.Int64},
    )
    return Applied(
        placed=frame.sort("id").with_columns(
            pl.lit(PASS_XWALK).alias("pass"), pl.lit(1.0).alias("probability")
        ),
        adopted=adopted,
        conflicts=sum(t in conflicted for t in tops),
        deferred=sum(target[t] is None and t not in conflicted for t in tops),
    )


def crosswalk_pass(
    store: Store,
    config: LinkConfig,
    base: pl.DataFrame,
    by_id: pl.DataFrame,
    progress: Callable[[str], None] | None = None,
) -> pl.DataFrame:
    """`by_id` (the ID pass's `id, cluster, pass, probability`) with the crosswalk's links.

    `base` has every mention's `id`, `id_bidx` and `cluster` at the start of the run (null: to
    be linked now). Only pairs with a side to be linked now are applied, so old conflicts are
    not counted again. Mentions the ID pass grouped under a fresh label that is adopted by an
    existing person move with it (`pass = crosswalk`).
    """
    if not config.crosswalks:
        return by_id
    pending = base.filter(pl.col("cluster").is_null())["id"].implode()
    pairs = crosswalk_pairs(store, config).filter(
        pl.col("mention_a").is_in(pending) | pl.col("mention_b").is_in(pending)
    )
    now = base.select("id", "cluster").join(
        by_id.select("id", pl.col("cluster").alias("_id")), on="id", how="left"
    )
    idless = without_id_number(base)
    applied = apply_crosswalks(
        now.select("id", pl.coalesce("_id", "cluster").alias("cluster")),
        pairs,
        set(idless.to_list()),
    )
    adopted = pl.DataFrame(
        {"cluster": list(applied.adopted), "_person": list(applied.adopted.values())},
        schema={"cluster": pl.Int64, "_person": pl.Int64},
    )
    moved = pl.col("_person").is_not_null()
    out = (
        by_id.join(adopted, on="cluster", how="left")
        .with_columns(
            pl.coalesce("_person", "cluster").alias("cluster"),
            pl.when(moved).then(pl.lit(PASS_XWALK)).otherwise(pl.col("pass")).alias("pass"),
            pl.when(moved).then(pl.lit(1.0)).otherwise(pl.col("probability")).alias("probability"),
        )
        .drop("_person")
    )
    if progress is not None:
        adopted_mentions = by_id.join(adopted, on="cluster", how="semi").height
        progress(
            text(
                "link.stage_crosswalk",
                pairs=pairs.height,
                linked=applied.placed.height + adopted_mentions,
                conflicts=applied.conflicts,
                deferred=applied.deferred,
            )
        )
    return pl.concat([out, applied.placed.select(out.columns)])
