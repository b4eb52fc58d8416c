"""Linkage quality against the synthetic province's ground truth: pairwise precision and recall."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import polars as pl

from fpcredit.errors import FeedError

__all__ = ["measure"]

# A mention is one person named in one department record, in one role.
MENTION_KEY: Final = ["source", "record_key", "role"]
LINK_COLUMNS: Final[dict[str, type[pl.DataType]]] = {
    "source": pl.Utf8,
    "record_key": pl.Utf8,
    "role": pl.Utf8,
    "person_id": pl.Int64,
    "id_key": pl.Utf8,
}
RECORDS_COLUMNS: Final = ["source", "record_key", "person_key"]
MENTIONS_COLUMNS: Final = ["source", "record_key", "role", "person_key"]
# records.csv names only each record's subject (the synthesiser's "principal" role); without
# mentions.csv that is all the truth there is, so only subject mentions can be measured.
SUBJECT_ROLE: Final = {"health": "mother", "cdc": "child", "civil": "wife"}
DEFAULT_SUBJECT_ROLE: Final = "self"

# Internal column names; the leading underscore keeps them clear of the caller's columns.
PRED: Final = "_pred"
TRUTH: Final = "person_key"
COUNT: Final = "_n"


def measure(links: pl.DataFrame, truth_records_csv: Path) -> dict[str, Any]:
    """Pairwise and per-mention linkage quality of `links`, and of an exact ID-number join.

    `links` has one row per mention: source, record_key, role, the predicted person_id and
    id_key (equal for mentions carrying the same valid ID number, null without one). The truth
    is `mentions.csv` beside `truth_records_csv`; when that is absent, `truth_records_csv`
    itself, which gives only each record's subject (mother for health, child for cdc, wife for
    civil, self elsewhere), so then every other mention counts among `unknown_links`.

    A pair of mentions is predicted when both have one person_id, true when both have one
    person_key, correct when both. Only mentions in both `links` and the truth are measured.
    Scopes restrict to the pairs with at least one mention in scope: `without_valid_id` (a
    mention whose id_key is null) and `by_source[S]` (a mention from S). `records_right` is the
    share of in-scope mentions whose predicted person and true person are each other's
    majority (ties go to the smallest key). A mention with a null person_id is a person alone.
    `baseline_exact_id` scores the clustering an exact join on ID number gives: one person per
    id_key, and every mention without one alone. `truth` says which file was used.
    """
    truth, truth_kind, truth_path = _read_truth(Path(truth_records_csv))
    links = _check_links(links)
    frame = links.with_row_index("_l").join(truth.with_row_index("_t"), on=MENTION_KEY, how="inner")
    # With each mention at most once on either side, every joined row is one measured mention
    # and the rest of each side is simply its unmatched part.
    links_rows, truth_rows = frame.select(pl.col("_l").n_unique(), pl.col("_t").n_unique()).row(0)
    if links_rows < frame.height:
        raise FeedError(str(truth_path), "a mention is listed more than once")
    if truth_rows < frame.height:
        raise ValueError("links has more than one row for the same mention")
    unknown_links = links.height - frame.height
    unmatched_truth = truth.height - frame.height

    sources = sorted(frame["source"].unique().to_list())
    scopes = _scopes(sources)
    linked = _quality(_labels(frame, "person_id"), scopes)
    exact = _quality(_labels(frame, "id_key"), scopes)
    return {
        "truth": truth_kind,
        "mentions": frame.height,
        "unmatched_truth": unmatched_truth,
        "unknown_links": unknown_links,
        **_arrange(linked, sources),
        "baseline_exact_id": _arrange(exact, sources),
    }


def _read_truth(records_csv: Path) -> tuple[pl.DataFrame, str, Path]:
    """The truth person of every mention, which kind of file gave it, and that file."""
    if not records_csv.is_file():
        raise FeedError(str(records_csv), "the truth file does not exist")
    # Checking the named file's header even when mentions.csv is used catches a wrong path early.
    _header(records_csv, RECORDS_COLUMNS)
    mentions_csv = records_csv.with_name("mentions.csv")
    if mentions_csv.is_file():
        return _read_csv(mentions_csv, MENTIONS_COLUMNS), "mentions", mentions_csv

    records = _read_csv(records_csv, RECORDS_COLUMNS).unique()
    # A record is listed twice when the feed repeats it (error_kind "duplicate"); the copies
    # name the same person. Two different persons for one record would make the truth ambiguous.
    if records.select(pl.struct("source", "record_key").is_duplicated().any()).item():
        raise FeedError(str(records_csv), "a record is listed with two different persons")
    role = pl.col("source").replace_strict(
        SUBJECT_ROLE, default=DEFAULT_SUBJECT_ROLE, return_dtype=pl.Utf8
    )
    subjects = records.with_columns(role.alias("role")).select(MENTIONS_COLUMNS)
    return subjects, "records", records_csv


def _header(path: Path, needed: list[str]) -> None:
    try:
        columns = pl.read_csv(path, n_rows=0, infer_schema=False).columns
    except pl.exceptions.NoDataError:
        raise FeedError(str(path), "the file is empty") from None
    except (pl.exceptions.PolarsError, OSError) as e:
        raise FeedError(str(path), f"the file cannot be read as CSV ({type(e).__name__})") from None
    missing = [c for c in needed if c not in columns]
    if missing:
        raise FeedError(str(path), f"the file lacks the column(s) {', '.join(missing)}")


def _read_csv(path: Path, needed: list[str]) -> pl.DataFrame:
    _header(path, needed)
    try:
        # All text: record keys such as '330723000001' must keep their leading digits.
        frame = pl.read_csv(path, columns=needed, infer_schema=False)
    except (pl.exceptions.PolarsError, OSError) as e:
        raise FeedError(str(path), f"the file cannot be read as CSV ({type(e).__name__})") from None
    empty = [c for c in needed if frame[c].null_count()]
    if empty:
        raise FeedError(str(path), f"some rows have no value in {', '.join(empty)}")
    return frame


def _check_links(links: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in LINK_COLUMNS if c not in links.columns]
    if missing:
        raise ValueError(f"links lacks the column(s) {', '.join(missing)}")
    return links.select(pl.col(c).cast(t) for c, t in LINK_COLUMNS.items())


def _labels(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """`frame` with cluster labels from `column`: equal values share one, each null is alone.

    Labels keep the values' order, and the lone mentions follow every real value in the order
    of the caller's rows, so the "smallest key" tie-break is deterministic and prefers a real
    cluster to a lone mention.
    """
    key = frame[column]
    present = key.drop_nulls().unique().sort()
    if key.dtype == pl.Utf8:
        # An enum over the sorted values numbers them in order by hashing, far faster than
        # ranking the strings themselves.
        codes = key.cast(pl.Enum(present)).to_physical().cast(pl.Int64)
    else:
        codes = key.rank("dense").cast(pl.Int64) - 1
    lone = pl.col("_l").cast(pl.Int64) + present.len()
    return frame.with_columns(codes.alias(PRED)).with_columns(pl.col(PRED).fill_null(lone))


def _scopes(sources: list[str]) -> dict[str, pl.Expr]:
    """Per scope, the aggregation counting a group's in-scope mentions."""
    scopes = {
        "overall": pl.len(),
        "without_valid_id": pl.col("id_key").is_null().sum(),
        **{f"source:{s}": (pl.col("source") == s).sum() for s in sources},
    }
    return {name: e.cast(pl.Int64) for name, e in scopes.items()}


def _pairs_in_scope(n: pl.Expr, n_in: pl.Expr) -> pl.Expr:
    """Pairs with at least one in-scope mention: all pairs less those wholly out of scope."""
    return _choose2(n) - _choose2(n - n_in)


def _choose2(n: pl.Expr) -> pl.Expr:
    return n * (n - 1) // 2


def _quality(frame: pl.DataFrame, scopes: dict[str, pl.Expr]) -> dict[str, dict[str, Any]]:
    """Every measure of every scope, from the contingency table of (predicted, true) person."""
    names = list(scopes)
    columns = [f"_s{i}" for i in range(len(names))]
    # One row per (predicted, true) person: every count below is a sum over these cells, so
    # no pair is ever enumerated.
    cells = (
        frame.lazy()
        .group_by(PRED, TRUTH)
        .agg(
            pl.len().cast(pl.Int64).alias(COUNT),
            *(e.alias(c) for e, c in zip(scopes.values(), columns, strict=True)),
        )
        .collect()
        .lazy()
    )

    def pairs(table: pl.LazyFrame, by: str | None) -> pl.LazyFrame:
        if by is not None:
            table = table.group_by(by).agg(pl.col(COUNT, *columns).sum())
        return table.select(
            _pairs_in_scope(pl.col(COUNT), pl.col(c)).sum().alias(c) for c in columns
        )

    # A cell is right when it is the largest of its predicted person's cells and of its true
    # person's cells; equal sizes go to the smallest key so the result never depends on order.
    best_truth = (
        cells.filter(pl.col(COUNT) == pl.col(COUNT).max().over(PRED))
        .group_by(PRED)
        .agg(pl.col(TRUTH).min())
    )
    best_pred = (
        cells.filter(pl.col(COUNT) == pl.col(COUNT).max().over(TRUTH))
        .group_by(TRUTH)
        .agg(pl.col(PRED).min())
    )
    right = cells.join(best_truth, on=[PRED, TRUTH], how="semi").join(
        best_pred, on=[PRED, TRUTH], how="semi"
    )
    correct, predicted, true, right_n, total_n = pl.collect_all(
        [
            pairs(cells, None),
            pairs(cells, PRED),
            pairs(cells, TRUTH),
            right.select(pl.col(columns).sum()),
            cells.select(pl.col(columns).sum()),
        ]
    )
    return {
        name: _q(
            true=int(true[c].item()),
            predicted=int(predicted[c].item()),
            correct=int(correct[c].item()),
            right=int(right_n[c].item()),
            total=int(total_n[c].item()),
        )
        for name, c in zip(names, columns, strict=True)
    }


def _q(*, true: int, predicted: int, correct: int, right: int, total: int) -> dict[str, Any]:
    # With nothing to get wrong the score is perfect: no predicted pair is a wrong merge, no
    # true pair is a missed one, and no in-scope mention is misplaced.
    precision = correct / predicted if predicted else 1.0
    recall = correct / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "pairs_true": true,
        "pairs_predicted": predicted,
        "pairs_correct": correct,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "records_right": right / total if total else 1.0,
    }


def _arrange(quality: dict[str, dict[str, Any]], sources: list[str]) -> dict[str, Any]:
    return {
        "overall": quality["overall"],
        "without_valid_id": quality["without_valid_id"],
        "by_source": {s: quality[f"source:{s}"] for s in sources},
    }
