"""Hard properties 4 and 5: the seed's error rates, and each injected error is what it says."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from pypinyin import lazy_pinyin

from fpcredit.errors import InvalidIdNumber
from fpcredit.standard import idcard
from tests.synth.conftest import FILES, LATE, Run, run_for
from tests.synth.rows import Row, rows
from tests.synth.spec import BIRTH_KINDS, SPECS, VOCABULARY, Spec, parse_date
from tests.synth.test_clean_rows import problems


def test_error_kinds_are_the_contracts_vocabulary(run: Run) -> None:
    kinds = set(run.truth("records")["error_kind"].unique()) - {""}
    assert kinds <= VOCABULARY
    assert kinds >= VOCABULARY - {"births_gt_pregnancies"}  # rare: health only


def test_error_rate_and_birth_date_share_are_the_seeds(run: Run) -> None:
    kinds = Counter(run.truth("records")["error_kind"].to_list())
    total = sum(kinds.values())
    errors = total - kinds[""] - kinds["id_15"]
    assert 0.080 <= errors / total <= 0.094
    assert 0.40 <= sum(kinds[k] for k in BIRTH_KINDS) / errors <= 0.50
    assert 0.004 <= kinds["id_15"] / total <= 0.03  # 4 % of the rows of persons born < 1985


@pytest.mark.parametrize("source", ["police", "hrss", "cdc", "mch"])
def test_each_big_feed_has_the_seeds_rate(run: Run, source: str) -> None:
    kinds = Counter(run.truth("records").filter(source=source)["error_kind"].to_list())
    total = sum(kinds.values())
    assert 0.07 <= (total - kinds[""] - kinds["id_15"]) / total <= 0.105


def test_credit_decisions_have_a_quarter_of_the_rate(large: Run) -> None:
    kinds = Counter(large.truth("records").filter(source="credit")["error_kind"].to_list())
    total = sum(kinds.values())
    assert total > 500
    assert 0.01 <= (total - kinds[""] - kinds["id_15"]) / total <= 0.04


def test_summary_counts_match_the_files(run: Run) -> None:
    records = run.truth("records")
    assert run.summary.rows == {s: run.feed(s).height for s in FILES}
    kinds = Counter(records["error_kind"].to_list())
    assert run.summary.errors == {k: kinds[k] for k in run.summary.errors}
    assert set(run.summary.errors) == VOCABULARY


def _id_reason(value: str) -> str:
    try:
        idcard.parse(value, today=LATE)
    except InvalidIdNumber as error:
        return error.reason
    return "valid"


def _same_sound(wrong: str, right: str) -> bool:
    differs = [(a, b) for a, b in zip(wrong, right, strict=True) if a != b]
    return len(differs) == 1 and lazy_pinyin(differs[0][0]) == lazy_pinyin(differs[0][1])


def _true_births(spec: Spec, row: Row) -> list[tuple[str, dt.date, dt.date | None]]:
    out = []
    for column, (role, fmt) in spec.births.items():
        true = dt.date.fromisoformat(row.who[role]["birth_date"])
        out.append((row.values[column], true, parse_date(row.values[column], fmt)))
    return out


def _shows(source: str, row: Row) -> bool:
    """Whether the row shows its injected error as docs/feeds.md describes it."""
    spec, v, kind = SPECS[source], row.values, row.kind
    ids = [v[c] for c in spec.ids]
    if kind == "id_check_digit":
        return any(len(i) == 18 and _id_reason(i) == "check_digit" for i in ids)
    if kind == "id_missing":
        return any(v[c] == "" and c not in spec.optional_ids for c in spec.ids)
    if kind == "id_15":
        truth = {p["id_number"] for p in row.who.values()}
        return any(len(i) == 15 and idcard.upgrade15(i) in truth for i in ids)
    if kind == "name_homophone":
        pairs = [(v[c], row.who[r]["name"]) for c, r in spec.names.items() if r in row.who]
        return any(len(a) == len(b) and _same_sound(a, b) for a, b in pairs)
    if kind == "birth_day_month_swap":
        return any(d and (d.month, d.day) == (t.day, t.month) != (t.month, t.day)
                   for _, t, d in _true_births(spec, row))  # fmt: skip
    if kind == "birth_year_wrong":
        return any(d and 1 <= abs(d.year - t.year) <= 3 and (d.month, d.day) == (t.month, t.day)
                   for _, t, d in _true_births(spec, row))  # fmt: skip
    if kind == "event_date_impossible":
        return parse_date(v[spec.event[0]], spec.event[1]) is None
    if kind == "code_unknown":
        return v[spec.code[0]] not in spec.code[1]
    if kind == "births_gt_pregnancies":
        return int(v["孩次"]) > int(v["孕次"])
    return kind == "duplicate" and row.previous == v


@pytest.mark.parametrize("source", list(FILES))
def test_each_injected_error_shows_as_described(
    request: pytest.FixtureRequest, source: str
) -> None:
    seen: Counter[str] = Counter()
    for row in rows(run_for(request, source), source):
        if row.kind:
            assert _shows(source, row), (row.kind, row.values)
            seen[row.kind] += 1
    assert len(seen) >= 5


@pytest.mark.parametrize("source", list(FILES))
def test_each_error_row_differs_from_clean_in_one_place(
    request: pytest.FixtureRequest, source: str
) -> None:
    # The clean-row checks find something wrong in every erroneous row (not id_15/duplicate;
    # nor an ID left out where leaving it out is also normal).
    exempt = {"id_15", "duplicate"} | ({"id_missing"} if SPECS[source].sometimes_empty else set())
    for row in rows(run_for(request, source), source):
        if row.kind and row.kind not in exempt:
            assert problems(source, row), (row.kind, row.values)
