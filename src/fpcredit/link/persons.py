"""A person's best value for each field, and the department that supplied it (the crosswalk)."""

from __future__ import annotations

import polars as pl

from fpcredit.guard.keys.crypto import Vault
from fpcredit.standard import idcard
from fpcredit.store.schema import PLAIN_PERSON_FIELDS

__all__ = [
    "AUTHORITY",
    "best_values",
    "kin",
    "mention_rows",
    "parents",
    "person_rows",
    "without_id_number",
]

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
    # Project before filtering: a filter copies every column it keeps.
    votes = (
        men.select("cluster", key, "source", "recorded_at", *payload)
        .filter(pl.col(key).is_not_null() & pl.col("cluster").is_not_null())
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


def best_values(men: pl.DataFrame, vault: Vault) -> pl.DataFrame:
    """One row per cluster: best value and source of every person field, and mention count.

    `men` needs `cluster, source, recorded_at` and the mention columns of `_FIELDS`; mentions
    without a cluster are left out.

    A province's mentions are taken a share of the persons at a time (by cluster number, so
    that each person's mentions are all in one share): the votes of all of them at once held
    some 2 GB more at a million persons. No person's values depend on another's.
    """
    shares = -(-men.height // _SHARE_ROWS)
    if shares < 2:
        return _from_id_number(_best_of_all(men).sort("cluster"), vault)
    # Projected first: a filter copies every column it keeps.
    voting = men.select(_VOTING)
    parts = [_best_of_all(voting.filter((pl.col("cluster") % shares) == k)) for k in range(shares)]
    return _from_id_number(pl.concat(parts).sort("cluster"), vault)


# Mentions voted on at once, at most (see `best_values`).
_SHARE_ROWS = 4_000_000
_VOTING = sorted(
    {"cluster", "source", "recorded_at"}
    | {c for key, payload in _FIELDS.values() for c in (key, *payload)}
)


def _best_of_all(men: pl.DataFrame) -> pl.DataFrame:
    out = (
        men.select("cluster")
        .filter(pl.col("cluster").is_not_null())
        .group_by("cluster")
        .agg(pl.len().alias("mentions"))
    )
    for field in _FIELDS:
        out = out.join(_best(men, field), on="cluster", how="left")
    return out


def _from_id_number(best: pl.DataFrame, vault: Vault) -> pl.DataFrame:
    """A valid ID number encodes birth date and sex (GB 11643): they override the vote.

    Mistyped birth dates are common enough (about 1 in 60 records) that a person with few
    records can be outvoted by its own typo; the checked number cannot.
    """
    has_id = best.filter(pl.col("id_bidx").is_not_null())
    if has_id.is_empty():
        return best
    numbers = pl.Series(
        "_n", vault.decrypt_many(has_id["id_number_enc"].to_list(), "id_number"), pl.String
    )
    # Numbers as written may be 15-digit or carry a lower-case x: normalise only those.
    odd = (numbers.str.len_chars() != 18) | numbers.str.contains("x")
    if odd.any():
        fixed = [idcard.normalize(n) for n in numbers.filter(odd).to_list()]
        numbers = numbers.scatter(odd.arg_true(), fixed)
    # A normalised number holds the birth date at 7–14 and the sex in the 17th digit's parity.
    coded = has_id.select("cluster", numbers).select(
        "cluster",
        pl.col("_n").str.slice(6, 8).str.to_date("%Y%m%d").alias("_dob"),
        (2 - pl.col("_n").str.slice(16, 1).cast(pl.Int64) % 2)
        .cast(best.schema["sex"])
        .alias("_sex"),
    )
    out = best.join(coded, on="cluster", how="left")
    changes = []
    for field, derived in (("birth_date", "_dob"), ("sex", "_sex")):
        differs = pl.col(derived).is_not_null() & pl.col(field).ne_missing(pl.col(derived))
        changes += [
            pl.when(differs).then(pl.col(derived)).otherwise(pl.col(field)).alias(field),
            pl.when(differs)
            .then(pl.col("id_number_source"))
            .otherwise(pl.col(f"{field}_source"))
            .alias(f"{field}_source"),
        ]
    return out.with_columns(changes).drop("_dob", "_sex")


def without_id_number(men: pl.DataFrame) -> pl.Series:
    """Existing persons (positive clusters) none of whose mentions has a valid ID number."""
    return (
        men.select("cluster", "id_bidx")
        .filter(pl.col("cluster") > 0)
        .group_by("cluster")
        .agg(pl.col("id_bidx").is_not_null().any().alias("_has_id"))
        .filter(~pl.col("_has_id"))["cluster"]
    )


def parents(men: pl.DataFrame, parent: str = "mother") -> pl.DataFrame:
    """For each child mention, the cluster of the parent (`mother` or `father`) named in the
    same record, in a column named after the parent."""
    named = (
        men.select("role", "record_id", pl.col("cluster").alias(parent))
        .filter(pl.col("role") == parent)
        .drop("role")
    )
    return (
        men.select("id", "record_id", "cluster", "role")
        .filter(pl.col("role") == "child")
        .join(named.unique("record_id"), on="record_id", how="inner")
        .filter(pl.col(parent).is_not_null())
        .select("id", "cluster", parent)
    )


def _links(men: pl.DataFrame, records: pl.Series) -> pl.DataFrame:
    """The link columns of the mentions in `records`."""
    return men.select("id", "record_id", "cluster", "role").filter(
        pl.col("record_id").is_in(records.implode())
    )


def kin(men: pl.DataFrame, near: pl.DataFrame | None = None) -> pl.DataFrame:
    """A hint for parent mentions: the person other records name as this child's parent.

    A vaccination record names the mother only by name; if the child is known, and the
    child's birth registration names its mother with a valid ID, that mother is the hint.

    Hints are given to the parent mentions in `near` (default: all of `men`); only the records
    of the children named there are read, so a few mentions cost little in a large province.
    """
    near = men if near is None else near
    child = (
        near.select("role", "record_id", pl.col("cluster").alias("_child"))
        .filter(pl.col("role") == "child")
        .drop("role")
    )
    wanted = child["_child"].drop_nulls().unique()
    of_children = men.select("record_id", "role", "cluster").filter(
        (pl.col("role") == "child") & pl.col("cluster").is_in(wanted.implode())
    )
    lineage = _links(men, of_children["record_id"].unique())
    hints = []
    for parent in ("mother", "father"):
        of_child = (
            parents(lineage, parent)
            .filter(pl.col("cluster").is_not_null())
            .group_by("cluster")
            .agg(pl.col(parent).mode().min().alias("kin"))
        )
        hint = (
            near.select("id", "record_id", "role")
            .filter(pl.col("role") == parent)
            .select("id", "record_id")
            .join(child.unique("record_id"), on="record_id", how="inner")
            .join(of_child, left_on="_child", right_on="cluster", how="inner")
            .select("id", "kin")
        )
        hints.append(hint)
    return pl.concat(hints)


def person_rows(men: pl.DataFrame, vault: Vault) -> pl.DataFrame:
    """Best values of each cluster of `men`, with its mother, in the shape `features` reads."""
    best = best_values(men, vault)
    mom = parents(men).group_by("cluster").agg(pl.col("mother").mode().min())
    return (
        best.join(mom, on="cluster", how="left")
        .with_columns(pl.col("cluster").alias("kin"))
        .rename({"cluster": "unique_id"})
    )


def mention_rows(men: pl.DataFrame, ids: pl.Series) -> pl.DataFrame:
    """The mentions `ids` in the shape `features` reads, their own ID number withheld."""
    picked = men.filter(pl.col("id").is_in(ids.implode()))
    # Mother and kin hints come from the mentions' own records (and their children's).
    near = _links(men, picked["record_id"].unique())
    mom = parents(near).select("id", "mother")
    rows = picked.join(mom, on="id", how="left").join(kin(men, near), on="id", how="left")
    return rows.with_columns(
        pl.col("id").alias("unique_id"), pl.lit(None, pl.Binary).alias("id_bidx")
    )
