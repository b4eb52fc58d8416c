"""A person's best value for each field, and the department that supplied it (the crosswalk)."""

from __future__ import annotations

import polars as pl

from fpcredit.store.schema import PLAIN_PERSON_FIELDS

__all__ = ["AUTHORITY", "best_values", "kin", "mention_rows", "parents", "person_rows"]

# The standard names public security (hukou) the authoritative department for person fields.
AUTHORITY = "police"
# field -> (the column whose equality means "same value", payload columns carried along)
_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "name": ("name_bidx", ("name_enc",)),
    "id_number": ("id_bidx", ("id_number_enc",)),
    **{f: (f, ()) for f in PLAIN_PERSON_FIELDS},
}


def _best(men: pl.DataFrame, field: str) -> pl.DataFrame:
    key, payload = _FIELDS[field]
    votes = (
        men.filter(pl.col(key).is_not_null())
        .group_by("cluster", key)
        .agg(
            pl.len().alias("_n"),
            (pl.col("source") == AUTHORITY).any().alias("_auth"),
            pl.col("recorded_at").max().alias("_last"),
            pl.col("source").sort_by("recorded_at").last().alias("_latest_source"),
            *[pl.col(p).first() for p in payload],
        )
    )
    # Most mentions win; the authoritative department's value counts one vote more; then the
    # most recently recorded value.
    score = pl.col("_n") + pl.col("_auth").cast(pl.Int64)
    source = pl.when("_auth").then(pl.lit(AUTHORITY)).otherwise(pl.col("_latest_source"))
    return (
        votes.with_columns(score.alias("_score"), source.alias(f"{field}_source"))
        .sort(["cluster", "_score", "_last", key], descending=[False, True, True, False])
        .unique("cluster", keep="first", maintain_order=True)
        .select("cluster", key, *payload, f"{field}_source")
    )


def best_values(men: pl.DataFrame) -> pl.DataFrame:
    """One row per cluster: best value and source of every person field, and mention count.

    `men` needs `cluster, source, recorded_at` and the mention columns of `_FIELDS`.
    """
    out = men.group_by("cluster").agg(pl.len().alias("mentions"))
    for field in _FIELDS:
        out = out.join(_best(men, field), on="cluster", how="left")
    return out.sort("cluster")


def parents(men: pl.DataFrame, parent: str = "mother") -> pl.DataFrame:
    """For each child mention, the cluster of the parent (`mother` or `father`) named in the
    same record, in a column named after the parent."""
    named = men.filter(pl.col("role") == parent).select(
        "record_id", pl.col("cluster").alias(parent)
    )
    return (
        men.filter(pl.col("role") == "child")
        .select("id", "record_id", "cluster")
        .join(named.unique("record_id"), on="record_id", how="inner")
        .filter(pl.col(parent).is_not_null())
        .select("id", "cluster", parent)
    )


def kin(men: pl.DataFrame) -> pl.DataFrame:
    """A hint for parent mentions: the person other records name as this child's parent.

    A vaccination record names the mother only by name; if the child is known, and the
    child's birth registration names its mother with a valid ID, that mother is the hint.
    """
    child = men.filter(pl.col("role") == "child").select(
        "record_id", pl.col("cluster").alias("_child")
    )
    hints = []
    for parent in ("mother", "father"):
        of_child = (
            parents(men, parent)
            .filter(pl.col("cluster").is_not_null())
            .group_by("cluster")
            .agg(pl.col(parent).mode().min().alias("kin"))
        )
        hint = (
            men.filter(pl.col("role") == parent)
            .select("id", "record_id")
            .join(child.unique("record_id"), on="record_id", how="inner")
            .join(of_child, left_on="_child", right_on="cluster", how="inner")
            .select("id", "kin")
        )
        hints.append(hint)
    return pl.concat(hints)


def person_rows(men: pl.DataFrame) -> pl.DataFrame:
    """Best values of each cluster of `men`, with its mother, in the shape `features` reads."""
    best = best_values(men)
    mom = parents(men).group_by("cluster").agg(pl.col("mother").mode().min())
    return (
        best.join(mom, on="cluster", how="left")
        .with_columns(pl.col("cluster").alias("kin"))
        .rename({"cluster": "unique_id"})
    )


def mention_rows(men: pl.DataFrame, ids: pl.Series) -> pl.DataFrame:
    """The mentions `ids` in the shape `features` reads, their own ID number withheld."""
    mom = parents(men).select("id", "mother")
    rows = (
        men.filter(pl.col("id").is_in(ids.implode()))
        .join(mom, on="id", how="left")
        .join(kin(men), on="id", how="left")
    )
    return rows.with_columns(
        pl.col("id").alias("unique_id"), pl.lit(None, pl.Binary).alias("id_bidx")
    )
