"""Linkage quality measures agree with hand-computed values and with brute-force pair counts."""

from __future__ import annotations

import itertools
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fpcredit.errors import FeedError
from fpcredit.link.measure import measure

# A mention: (source, record_key, role, true person, valid-ID key or None).
Mention = tuple[str, str, str, str, str | None]

# Persons A (m1..m3) and B (m4, m5). Record key '000001' checks leading zeros survive the CSV.
MENTIONS: list[Mention] = [
    ("health", "330723000001", "mother", "A", "a"),  # m1
    ("police", "000001", "self", "A", "a"),  # m2
    ("police", "000002", "self", "A", None),  # m3
    ("health", "330723000002", "mother", "B", "b"),  # m4
    ("mch", "M1", "self", "B", None),  # m5
]
LINK_SCHEMA = {
    "source": pl.Utf8,
    "record_key": pl.Utf8,
    "role": pl.Utf8,
    "person_id": pl.Int64,
    "id_key": pl.Utf8,
}


def _truth(folder: Path, mentions: Sequence[tuple[str, str, str, str]]) -> Path:
    """Write truth/mentions.csv and truth/records.csv; return the records.csv path."""
    truth = folder / "truth"
    truth.mkdir(exist_ok=True)
    frame = pl.DataFrame(
        mentions, schema=["source", "record_key", "role", "person_key"], orient="row"
    )
    frame.write_csv(truth / "mentions.csv")
    frame.select("source", "record_key", "person_key", error_kind=pl.lit(None, pl.Utf8)).write_csv(
        truth / "records.csv"
    )
    return truth / "records.csv"


def _links(rows: Sequence[tuple[str, str, str, int | None, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=LINK_SCHEMA, orient="row")


def _run(tmp_path: Path, person_ids: Sequence[int | None]) -> dict[str, Any]:
    records_csv = _truth(tmp_path, [m[:4] for m in MENTIONS])
    links = _links(
        [(s, k, r, p, i) for (s, k, r, _, i), p in zip(MENTIONS, person_ids, strict=True)]
    )
    return measure(links, records_csv)


def _q(true: int, predicted: int, correct: int, records_right: float) -> dict[str, Any]:
    precision = correct / predicted if predicted else 1.0
    recall = correct / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "pairs_true": true,
        "pairs_predicted": predicted,
        "pairs_correct": correct,
        "precision": pytest.approx(precision),
        "recall": pytest.approx(recall),
        "f1": pytest.approx(f1),
        "records_right": pytest.approx(records_right),
    }


def test_perfect_linkage(tmp_path: Path) -> None:
    result = _run(tmp_path, [1, 1, 1, 2, 2])
    assert result["truth"] == "mentions"
    assert (result["mentions"], result["unmatched_truth"], result["unknown_links"]) == (5, 0, 0)
    assert result["overall"] == _q(4, 4, 4, 1.0)
    # Pairs with a mention lacking a valid ID: A has 3 pairs less 1 between m1 and m2; B has 1.
    assert result["without_valid_id"] == _q(3, 3, 3, 1.0)
    assert result["overall"]["f1"] == 1.0


def test_over_merge(tmp_path: Path) -> None:
    result = _run(tmp_path, [1, 1, 1, 1, 1])
    # All 10 pairs predicted, only A's 3 and B's 1 true. Person 1's majority is A, so m4 and m5
    # are linked to the wrong person.
    assert result["overall"] == _q(4, 10, 4, 3 / 5)
    assert result["overall"]["precision"] == pytest.approx(0.4)
    assert result["overall"]["f1"] == pytest.approx(4 / 7)


def test_under_split(tmp_path: Path) -> None:
    result = _run(tmp_path, [1, 1, 2, 3, 3])
    # A split into {m1, m2} and {m3}: 2 of the 4 true pairs found; m3 is not in A's majority.
    assert result["overall"] == _q(4, 2, 2, 4 / 5)
    assert result["overall"]["recall"] == 0.5
    assert result["overall"]["f1"] == pytest.approx(2 / 3)


def test_without_valid_id_scope(tmp_path: Path) -> None:
    result = _run(tmp_path, [1, 1, 1, 1, 1])
    # Predicted: 10 pairs less the 3 among m1, m2, m4 (all with an ID). True: A 3-1, B 1-0.
    # Of the ID-less mentions m3 is right and m5 is not.
    assert result["without_valid_id"] == _q(3, 7, 3, 1 / 2)


def test_by_source_scope(tmp_path: Path) -> None:
    result = _run(tmp_path, [1, 1, 1, 1, 1])
    by_source = result["by_source"]
    assert list(by_source) == ["health", "mch", "police"]
    # health (m1, m4): predicted 10 - C(3,2); true A 3 - C(2,2) + B 1. m1 right, m4 wrong.
    assert by_source["health"] == _q(3, 7, 3, 1 / 2)
    # police (m2, m3): predicted 10 - C(3,2); true A 3 + B 0. Both right.
    assert by_source["police"] == _q(3, 7, 3, 1.0)
    # mch (m5): predicted 10 - C(4,2); true only m4-m5. m5 wrong.
    assert by_source["mch"] == _q(1, 4, 1, 0.0)


def test_baseline_exact_id(tmp_path: Path) -> None:
    baseline = _run(tmp_path, [9, 8, 7, 6, 5])["baseline_exact_id"]
    # Clusters {m1, m2} (ID a), {m4} (ID b), and m3 and m5 alone; whatever person_id says.
    assert baseline["overall"] == _q(4, 1, 1, 3 / 5)
    assert baseline["overall"]["f1"] == pytest.approx(0.4)
    # Without an ID nothing is joined: no pair predicted, none found, both ID-less wrong.
    assert baseline["without_valid_id"] == _q(3, 0, 0, 0.0)
    assert baseline["without_valid_id"]["precision"] == 1.0
    assert baseline["without_valid_id"]["f1"] == 0.0
    # B's tie between {m4} and lone m5 goes to the ID cluster: m4 is right.
    assert baseline["by_source"]["health"] == _q(3, 1, 1, 1.0)
    assert baseline["by_source"]["mch"] == _q(1, 0, 0, 0.0)


def test_unmatched_on_either_side(tmp_path: Path) -> None:
    records_csv = _truth(tmp_path, [*(m[:4] for m in MENTIONS), ("cdc", "V1", "child", "C")])
    links = _links(
        [
            *((s, k, r, 1, i) for s, k, r, _, i in MENTIONS),
            ("police", "R9", "self", 7, None),  # quarantined in truth's eyes: no truth row
            ("police", "000001", "mother", 1, None),  # right record, wrong role
        ]
    )
    result = measure(links, records_csv)
    assert (result["mentions"], result["unmatched_truth"], result["unknown_links"]) == (5, 1, 2)
    assert result["overall"] == _q(4, 10, 4, 3 / 5)


def test_null_person_id_is_a_person_alone(tmp_path: Path) -> None:
    result = _run(tmp_path, [1, 1, None, None, 2])
    # m3 and m4 are not merged with each other: predicted only m1-m2.
    assert result["overall"] == _q(4, 1, 1, 3 / 5)


def test_records_fallback_without_mentions_csv(tmp_path: Path) -> None:
    truth = tmp_path / "truth"
    truth.mkdir()
    (truth / "records.csv").write_text(
        "source,record_key,person_key,error_kind\n"
        "health,330723000001,A,\n"
        "civil,0007058094,B,\n"
        "civil,0007058094,B,duplicate\n"
        "police,000001,A,name_homophone\n",
        encoding="utf-8",
    )
    links = _links(
        [
            ("health", "330723000001", "mother", 1, None),
            ("health", "330723000001", "father", 2, None),
            ("health", "330723000001", "child", 3, None),
            ("civil", "0007058094", "husband", 4, None),
            ("civil", "0007058094", "wife", 5, None),
            ("police", "000001", "self", 5, None),
        ]
    )
    result = measure(links, truth / "records.csv")
    # Only the subjects (health mother, civil wife, police self) have truth; the duplicate
    # row of the civil record is the same mention.
    assert result["truth"] == "records"
    assert (result["mentions"], result["unmatched_truth"], result["unknown_links"]) == (3, 0, 3)
    # Person 5 merges B's wife with A's police record; A's two mentions are split. Person 5's
    # tie goes to A, A's tie to person 1: only the health mother is right.
    assert result["overall"] == _q(1, 1, 0, 1 / 3)
    assert result["overall"]["f1"] == 0.0
    assert list(result["by_source"]) == ["civil", "health", "police"]


def test_records_fallback_rejects_two_persons_for_one_record(tmp_path: Path) -> None:
    truth = tmp_path / "truth"
    truth.mkdir()
    (truth / "records.csv").write_text(
        "source,record_key,person_key,error_kind\npolice,1,A,\npolice,1,B,\n", encoding="utf-8"
    )
    with pytest.raises(FeedError, match="two different persons"):
        measure(_links([]), truth / "records.csv")


def test_missing_truth_file(tmp_path: Path) -> None:
    with pytest.raises(FeedError) as caught:
        measure(_links([]), tmp_path / "truth" / "records.csv")
    assert caught.value.reason == "the truth file does not exist"
    assert caught.value.path.endswith("records.csv")


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("records.csv", "source,record_key,error_kind\n", "lacks the column(s) person_key"),
        ("records.csv", "", "the file is empty"),
        ("mentions.csv", "source,record_key,person_key\n", "lacks the column(s) role"),
        ("mentions.csv", "source,record_key,role,person_key\nmch,M1,self,\n", "no value in"),
    ],
)
def test_unusable_truth_file(tmp_path: Path, name: str, text: str, reason: str) -> None:
    records_csv = _truth(tmp_path, [m[:4] for m in MENTIONS])
    (records_csv.parent / name).write_text(text, encoding="utf-8")
    with pytest.raises(FeedError, match=reason.replace("(", r"\(").replace(")", r"\)")) as caught:
        measure(_links([]), records_csv)
    assert caught.value.path.endswith(name)


def test_links_must_have_each_mention_once(tmp_path: Path) -> None:
    records_csv = _truth(tmp_path, [m[:4] for m in MENTIONS])
    row = ("mch", "M1", "self", 1, None)
    with pytest.raises(ValueError, match="more than one row"):
        measure(_links([row, row]), records_csv)
    with pytest.raises(ValueError, match="lacks the column"):
        measure(_links([row]).drop("id_key"), records_csv)


def test_no_common_mentions_scores_vacuously(tmp_path: Path) -> None:
    result = measure(_links([]), _truth(tmp_path, [m[:4] for m in MENTIONS]))
    assert (result["mentions"], result["unmatched_truth"], result["unknown_links"]) == (0, 5, 0)
    assert result["overall"] == _q(0, 0, 0, 1.0)
    assert result["by_source"] == {}


# --- Property: the set-based counts equal a brute-force pair enumeration. ---

SOURCES = ["health", "mch", "police"]
Row = tuple[str, int, int | None, str | None]  # source, true person, predicted person, id_key


def _from(rows: list[Row], source: str) -> Callable[[int], bool]:
    return lambda i: rows[i][0] == source


def _brute(rows: list[Row], label: Callable[[int, Row], tuple[int, Any]]) -> dict[str, Any]:
    """Every measure by enumerating pairs; `label` gives each mention's predicted cluster."""
    pred = [label(i, r) for i, r in enumerate(rows)]
    truth = [f"P{r[1]:02d}" for r in rows]
    scopes: dict[str, Callable[[int], bool]] = {
        "overall": lambda i: True,
        "without_valid_id": lambda i: rows[i][3] is None,
        **{f"source:{s}": _from(rows, s) for s in SOURCES},
    }
    # Majorities with ties to the smallest key, exactly as the definition reads.
    cells = Counter(zip(pred, truth, strict=True))
    best_truth = {
        p: min((c for c in cells if c[0] == p), key=lambda c: (-cells[c], c[1]))[1]
        for p in set(pred)
    }
    best_pred = {
        t: min((c for c in cells if c[1] == t), key=lambda c: (-cells[c], c[0]))[0]
        for t in set(truth)
    }
    right = [best_truth[p] == t and best_pred[t] == p for p, t in zip(pred, truth, strict=True)]
    out: dict[str, Any] = {}
    for name, in_scope in scopes.items():
        counts = [0, 0, 0]
        for i, j in itertools.combinations(range(len(rows)), 2):
            if in_scope(i) or in_scope(j):
                counts[0] += truth[i] == truth[j]
                counts[1] += pred[i] == pred[j]
                counts[2] += truth[i] == truth[j] and pred[i] == pred[j]
        members = [i for i in range(len(rows)) if in_scope(i)]
        share = sum(right[i] for i in members) / len(members) if members else 1.0
        out[name] = (*counts, share)
    return out


def _measured(rows: list[Row]) -> dict[str, Any]:
    mentions = [(s, f"{i:06d}", "self", f"P{t:02d}") for i, (s, t, _, _) in enumerate(rows)]
    links = _links([(s, f"{i:06d}", "self", p, k) for i, (s, _, p, k) in enumerate(rows)])
    with tempfile.TemporaryDirectory() as folder:
        result = measure(links, _truth(Path(folder), mentions))

    def flat(part: dict[str, Any]) -> dict[str, Any]:
        scoped = {"overall": part["overall"], "without_valid_id": part["without_valid_id"]}
        scoped |= {f"source:{s}": part["by_source"].get(s) for s in SOURCES}
        return {
            name: (
                (q["pairs_true"], q["pairs_predicted"], q["pairs_correct"], q["records_right"])
                if q is not None
                else (0, 0, 0, 1.0)  # a source with no mentions measures as vacuous
            )
            for name, q in scoped.items()
        }

    return {"linked": flat(result), "baseline": flat(result["baseline_exact_id"])}


def _cluster(value: Any, i: int) -> tuple[int, Any]:
    # Real clusters order by value before every lone mention, lone mentions by row.
    return (0, value) if value is not None else (1, i)


rows_strategy = st.lists(
    st.tuples(
        st.sampled_from(SOURCES),
        st.integers(0, 5),
        st.one_of(st.none(), st.integers(-3, 5)),
        st.sampled_from([None, "x", "y", "z"]),
    ),
    max_size=30,
)


@settings(max_examples=120, deadline=None)
@given(rows_strategy)
def test_counts_equal_brute_force(rows: list[Row]) -> None:
    got = _measured(rows)
    assert got["linked"] == _brute(rows, lambda i, r: _cluster(r[2], i))
    assert got["baseline"] == _brute(rows, lambda i, r: _cluster(r[3], i))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 2), st.booleans()), max_size=30),
    st.integers(1, 3),
)
def test_refinement_gives_perfect_precision_or_recall(
    draws: list[tuple[int, int, bool]], coarse: int
) -> None:
    def score(pred: list[int | None]) -> dict[str, Any]:
        rows = [("mch", f"{i:06d}", "self", f"P{t}") for i, (t, _, _) in enumerate(draws)]
        links = _links([(*r[:3], p, None) for r, p in zip(rows, pred, strict=True)])
        with tempfile.TemporaryDirectory() as folder:
            return dict(measure(links, _truth(Path(folder), rows))["overall"])

    # Splitting true persons (or leaving mentions alone) never merges two of them.
    finer = score([None if alone else 10 * t + part for t, part, alone in draws])
    assert finer["precision"] == 1.0
    # Merging whole true persons never splits one.
    coarser = score([t // coarse for t, _, _ in draws])
    assert coarser["recall"] == 1.0
