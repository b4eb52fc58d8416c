"""One link run: the ID pass, the Splink pass, clerks' decisions, stable ids, and write-back.

A run works on *clusters*: positive labels are existing person ids, negative labels are
persons this run would create. Only the write step turns them into ids, inside one
transaction, so a failed run changes nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from fpcredit.errors import StoreError
from fpcredit.guard.keys.crypto import Vault
from fpcredit.link.config import LinkConfig
from fpcredit.link.crosswalk import crosswalk_pass
from fpcredit.link.features import aligned, features, load_mentions, placed
from fpcredit.link.model import LinkModel
from fpcredit.link.persons import mention_rows, person_rows, without_id_number
from fpcredit.link.registry import current_model, train_model
from fpcredit.link.write import PASS_ID, PASS_SINGLE, PASS_SPLINK, LinkReport, Writer, write_run
from fpcredit.messages import text
from fpcredit.store import schema as s
from fpcredit.store.db import Store

__all__ = ["LinkReport", "link"]
Progress = Callable[[str], None]


class _Labels:
    """Hands out the negative labels of persons-to-be."""

    def __init__(self) -> None:
        self.last = 0

    def take(self, n: int) -> pl.Series:
        out = pl.Series("cluster", range(self.last - 1, self.last - 1 - n, -1), pl.Int64)
        self.last -= n
        return out


def _id_pass(base: pl.DataFrame, labels: _Labels) -> pl.DataFrame:
    """Mentions with a valid ID number and no cluster yet: join the person holding that
    number, or start one."""
    with_id = base.select("id", "id_bidx", "cluster").filter(pl.col("id_bidx").is_not_null())
    valid = with_id.filter(pl.col("cluster").is_null()).select("id", "id_bidx")
    owners = (
        with_id.filter(pl.col("cluster").is_not_null())
        .group_by("id_bidx")
        .agg(pl.col("cluster").mode().min())
    )
    joined = valid.join(owners, on="id_bidx", how="left")
    fresh = joined.filter(pl.col("cluster").is_null()).select("id_bidx").unique(maintain_order=True)
    fresh = fresh.with_columns(labels.take(fresh.height))
    joined = joined.drop("cluster").join(pl.concat([owners, fresh]), on="id_bidx", how="left")
    return joined.select(
        "id", "cluster", pl.lit(PASS_ID).alias("pass"), pl.lit(1.0).alias("probability")
    )


def _components(pairs: pa.Table, ids: list[int]) -> dict[int, int]:
    """Connected components (union-find) over mention pairs: mention -> smallest member."""
    parent = {i: i for i in ids}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in zip(pairs.column(0).to_pylist(), pairs.column(1).to_pylist(), strict=True):
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {i: root(i) for i in ids}


@dataclass
class _Run:
    vault: Vault
    config: LinkConfig
    model: LinkModel
    progress: Progress
    labels: _Labels = field(default_factory=_Labels)
    reviews: list[dict[str, Any]] = field(default_factory=list)

    def splink_pass(self, men: pl.DataFrame, pending: pl.DataFrame) -> pl.DataFrame:
        """Link mentions without a usable ID to persons; cluster what is left among itself.

        A second round retries the parents named in records whose child the first round
        linked: only then does the relatives' hint (`kin`) exist for them.
        """
        persons = self._persons(men)
        linked, doubtful, mentions = self._round(men, pending, persons)
        rest = pending.filter(~pl.col("id").is_in(linked["id"].implode()))
        retry = rest.filter(pl.col("role").is_in(["mother", "father"]))
        if retry.height and linked.height:
            # The persons as the first round saw them: what the retry needs is the children's
            # links (the parents' hints), not best values refreshed by a few more records.
            again, doubtful2, _ = self._round(_apply(men, linked), retry, persons)
            linked = pl.concat([linked, again])
            doubtful = pl.concat(
                [doubtful.filter(~pl.col("mention_id").is_in(retry["id"].implode())), doubtful2]
            )
            rest = rest.filter(~pl.col("id").is_in(again["id"].implode()))
        done = linked["id"].implode()
        self.reviews.extend(doubtful.filter(~pl.col("mention_id").is_in(done)).to_dicts())
        return pl.concat([linked, self._cluster_rest(mentions, rest["id"])])

    def adopt(self, men: pl.DataFrame) -> pl.DataFrame:
        """Fresh ID clusters that are persons already filed without an ID number.

        A newborn is filed from its birth registration before its hukou brings an ID number;
        in an incremental run that number would otherwise start a second person. Matching
        the newcomer to the existing person instead keeps every existing id.
        Returns `cluster` (fresh label), `person_id`, `probability`.
        """
        fresh = men.select("cluster").filter(pl.col("cluster") < 0)
        idless = without_id_number(men)
        if fresh.is_empty() or idless.is_empty():
            return pl.DataFrame(
                schema={"cluster": pl.Int64, "person_id": pl.Int64, "probability": pl.Float64}
            )
        self.progress(text("link.stage_adopt", n=fresh["cluster"].n_unique()))
        rows = person_rows(
            men.filter(pl.col("cluster").is_in(pl.concat([fresh["cluster"], idless]).implode())),
            self.vault,
        )
        persons = features(rows.filter(pl.col("unique_id") > 0), self.vault)
        # `kin` names a person by its own id: between two persons it would always disagree.
        newcomers = features(
            rows.filter(pl.col("unique_id") < 0).with_columns(pl.lit(None).alias("kin")),
            self.vault,
        )
        pairs = pl.from_arrow(self.model.link(persons, newcomers, self.config.thresholds.link))
        assert isinstance(pairs, pl.DataFrame)
        # One person per newcomer and one newcomer per person: the strongest pair wins.
        best = (
            pairs.sort("probability", "mention_id", descending=[True, False])
            .unique("mention_id", keep="first", maintain_order=True)
            .unique("person_id", keep="first", maintain_order=True)
        )
        return best.select(pl.col("mention_id").alias("cluster"), "person_id", "probability")

    def _persons(self, men: pl.DataFrame) -> pa.Table:
        """Every cluster's best values as the linker compares them."""
        self.progress(text("link.stage_persons"))
        return features(person_rows(men, self.vault), self.vault)

    def _round(
        self, men: pl.DataFrame, pending: pl.DataFrame, persons: pa.Table
    ) -> tuple[pl.DataFrame, pl.DataFrame, pa.Table]:
        th = self.config.thresholds
        mentions = features(mention_rows(men, pending["id"]), self.vault)
        self.progress(text("link.stage_splink", n=pending.height, persons=persons.num_rows))
        pairs = pl.from_arrow(self.model.link(persons, mentions, th.review))
        assert isinstance(pairs, pl.DataFrame)
        best = pairs.sort(["mention_id", "probability"], descending=[False, True]).unique(
            "mention_id", keep="first", maintain_order=True
        )
        linked = best.filter(pl.col("probability") >= th.link).select(
            pl.col("mention_id").alias("id"),
            pl.col("person_id").alias("cluster"),
            pl.lit(PASS_SPLINK).alias("pass"),
            "probability",
        )
        return linked, best.filter(pl.col("probability") < th.link), mentions

    def _cluster_rest(self, mentions: pa.Table, rest: pl.Series) -> pl.DataFrame:
        ids = rest.sort().to_list()
        if not ids:
            return pl.DataFrame(schema=_ASSIGN_SCHEMA)
        subset = mentions.filter(pc.is_in(mentions["unique_id"], value_set=pa.array(ids)))
        self.progress(text("link.stage_dedupe", n=len(ids)))
        pairs = self.model.dedupe(subset, self.config.thresholds.link)
        comp = _components(pairs, ids)
        roots = sorted(set(comp.values()))
        label = dict(zip(roots, self.labels.take(len(roots)).to_list(), strict=True))
        top = pl.from_arrow(pairs.select([0, 1, 2]))
        assert isinstance(top, pl.DataFrame)
        strongest = (
            pl.concat(
                [
                    top.select(pl.col("mention_id_l").alias("id"), "probability"),
                    top.select(pl.col("mention_id_r").alias("id"), "probability"),
                ]
            )
            .group_by("id")
            .agg(pl.col("probability").max())
        )
        frame = pl.DataFrame(
            {"id": ids, "cluster": [label[comp[i]] for i in ids]},
            schema={"id": pl.Int64, "cluster": pl.Int64},
        ).join(strongest, on="id", how="left")
        return frame.select(
            "id",
            "cluster",
            pl.when(pl.col("probability").is_null())
            .then(pl.lit(PASS_SINGLE))
            .otherwise(pl.lit(PASS_SPLINK))
            .alias("pass"),
            "probability",
        )


_ASSIGN_SCHEMA = {"id": pl.Int64, "cluster": pl.Int64, "pass": pl.String, "probability": pl.Float64}


def link(
    store: Store,
    vault: Vault,
    config: LinkConfig,
    *,
    full: bool = False,
    apply: bool = True,
    train: bool = False,
    progress: Progress | None = None,
    writer: Writer | None = None,
) -> LinkReport:
    """Link every mention without a person (or, with `full`, relink everything); `writer`
    writes the result (by default a `Writer()`)."""
    vault.refuse_during_move()  # mixed blind indexes would split one person in two
    note = progress or (lambda _m: None)
    note(text("link.stage_read"))
    men = load_mentions(store.engine.url)
    if men.is_empty():
        raise StoreError(text("link.nothing"))
    with store.engine.connect() as conn:
        last_run = conn.scalar(sa.select(sa.func.max(s.link_runs.c.id)))
    full = full or men["person_id"].is_null().all()
    model = None if train else current_model(store, config)
    if model is None:
        note(text("link.stage_train"))
        model = train_model(store, vault, config, men)
    run = _Run(vault, config, model, note)
    base = aligned(men.with_columns(pl.lit(None, pl.Int64).alias("cluster")))
    if not full:
        base = base.with_columns(pl.col("person_id").alias("cluster"))
    note(text("link.stage_id", n=base["cluster"].null_count()))
    by_id = _id_pass(base, run.labels)
    by_id = crosswalk_pass(store, config, base, by_id, note)
    if not full:
        by_id = _adopted(by_id, run.adopt(_apply(base, by_id)))
    men2 = _apply(base, by_id)
    # Narrow: the pass reads only these of the pending mentions, and a filter copies what it keeps.
    pending = men2.select("id", "role", "cluster").filter(pl.col("cluster").is_null())
    by_splink = (
        run.splink_pass(men2, pending) if pending.height else pl.DataFrame(schema=_ASSIGN_SCHEMA)
    )
    assigned = pl.concat([by_id, by_splink])
    men3 = _apply(men2, assigned)
    if full:
        men3 = _replay_decisions(store, men3, run.labels)
    return write_run(
        store,
        vault,
        men,
        men3,
        assigned,
        run.reviews,
        model,
        mode="full" if full else "incremental",
        apply=apply,
        last_run=last_run,
        progress=note,
        writer=writer,
    )


def _adopted(by_id: pl.DataFrame, adopted: pl.DataFrame) -> pl.DataFrame:
    """The ID pass's assignments with adopted fresh clusters moved to their existing person:
    the ID grouped these mentions, the model put the group into an existing file."""
    return (
        by_id.join(adopted.rename({"probability": "_p"}), on="cluster", how="left")
        .with_columns(
            pl.coalesce("person_id", "cluster").alias("cluster"),
            pl.when(pl.col("_p").is_null())
            .then(pl.col("pass"))
            .otherwise(pl.lit(PASS_SPLINK))
            .alias("pass"),
            pl.coalesce("_p", "probability").alias("probability"),
        )
        .drop("person_id", "_p")
    )


def _apply(men: pl.DataFrame, assigned: pl.DataFrame) -> pl.DataFrame:
    """`men` with the clusters of `assigned` (by id) set; only the `cluster` column is new, so
    the frame's other columns are shared, not copied."""
    given = assigned.select("id", "cluster").filter(pl.col("cluster").is_not_null())
    if given.is_empty():
        return men
    new = placed(men["id"], given).to_series()
    return aligned(men.with_columns(pl.coalesce(new, "cluster").alias("cluster")))


def _replay_decisions(store: Store, men: pl.DataFrame, labels: _Labels) -> pl.DataFrame:
    """Clerks' decisions, oldest first, override what the passes found."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                s.link_decisions.c.same,
                s.link_decisions.c.left_mentions,
                s.link_decisions.c.right_mentions,
            ).order_by(s.link_decisions.c.id)
        ).all()
    if not rows:
        return men
    cluster = dict(zip(men["id"].to_list(), men["cluster"].to_list(), strict=True))
    sizes = Counter(cluster.values())
    for same, left_json, right_json in rows:
        left = [m for m in json.loads(left_json) if m in cluster]
        right = [m for m in json.loads(right_json) if m in cluster]
        if not left or not right:
            continue
        if same:
            # The largest group stays where it is and the others join it: only the mentions
            # the decision moved carry the clerk's pass; the rest keep the pass that linked
            # them.
            groups = {cluster[m] for m in left + right}
            target = max(groups, key=lambda c: (sizes[c], -c))
            merging = groups - {target}
            for m, c in cluster.items():
                if c in merging:
                    cluster[m] = target
            sizes[target] += sum(sizes.pop(c) for c in merging)
        else:
            shared = {cluster[m] for m in left} & {cluster[m] for m in right}
            for c in shared:
                new = labels.take(1)[0]
                for m in left:
                    if cluster[m] == c:
                        cluster[m] = new
                        sizes[c] -= 1
                        sizes[new] += 1
    moved = pl.DataFrame(
        {"id": list(cluster), "cluster": list(cluster.values())},
        schema={"id": pl.Int64, "cluster": pl.Int64},
    )
    out = men.rename({"cluster": "_before"}).join(moved, on="id", how="left")
    return out.with_columns((pl.col("cluster") != pl.col("_before")).alias("_clerk")).drop(
        "_before"
    )
