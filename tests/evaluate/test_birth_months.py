"""Scores depend on the month of a birth only (docs/policy.md §1.1), on both evaluators.

A masked file shows a birth year and dates by month; with the sex shown, a masked ID number
still leaves 500 numbers per birth date, so scores that split a birth month on a day (a dose
due at 5 months, a registration within 90 days) would narrow it to 500 (docs/keys.md,
"Masking"). Here: moving any birth date — a person's own or a child's — to another day of its
month changes no result: totals, grades, points, dimension scores, every indicator's status,
value, points and inclusion.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fpcredit.evaluate import reference
from fpcredit.evaluate.compile import facts as compile_facts
from fpcredit.evaluate.engine import evaluate_frame
from fpcredit.evaluate.frame import Frame, Outcome
from fpcredit.evaluate.policy_model import Policy
from tests.evaluate.strategies import frames, moved_births, on_day, person_context, policies
from tests.evaluate.test_reference import child, indicator, make_policy, person

Evaluator = Callable[[Policy, Frame, dt.date], Outcome]
Row = dict[str, Any]
TABLES = ("results", "dimensions", "indicators")
COPY = 10**6  # the moved copy of person (or child, or fact) n is n + COPY
EVALUATORS: dict[str, Evaluator] = {"engine": evaluate_frame, "reference": reference.evaluate}


@st.composite
def _moved(draw: Any, frame: Frame) -> Frame:
    """Each birth date on a day of its month drawn on its own (the first and last most often)."""

    def pick(day: dt.date | None) -> dt.date | None:
        return on_day(day, lambda last: draw(st.sampled_from([1, last]) | st.integers(1, last)))

    return moved_births(frame, pick)


def _shifted(table: pa.Table, columns: tuple[str, ...]) -> list[Row]:
    return [r | {c: r[c] + COPY for c in columns if r[c] is not None} for r in table.to_pylist()]


def side_by_side(frame: Frame, moved: Frame) -> Frame:
    """Both frames in one, the moved one's persons, children and facts renumbered (+COPY):
    one evaluation gives both outcomes."""
    persons = frame.persons.to_pylist() + _shifted(moved.persons, ("person_id",))
    facts = frame.facts.to_pylist() + _shifted(moved.facts, ("fact_id", "person_id"))
    children = frame.children.to_pylist() + _shifted(moved.children, ("parent_id", "child_id"))
    return Frame(
        pa.Table.from_pylist(persons, schema=frame.persons.schema),
        pa.Table.from_pylist(facts, schema=frame.facts.schema),
        pa.Table.from_pylist(children, schema=frame.children.schema),
    )


def day_told(outcome: Outcome) -> list[tuple[int, str]]:
    """(person, what) for each row of the original whose moved copy's row differs."""
    found = []
    for name in TABLES:
        rows = getattr(outcome, name).to_pylist()
        first = [r for r in rows if r["person_id"] < COPY]
        copy = [r | {"person_id": r["person_id"] - COPY} for r in rows if r["person_id"] >= COPY]
        if len(first) != len(copy):
            found.append((0, f"{name}: {len(first)} rows, {len(copy)} with the births moved"))
        for a, b in zip(first, copy, strict=False):
            if a != b:
                found.append((a["person_id"], f"{name}: {a} became {b}"))
    return found


def assert_month_level(policy: Policy, frame: Frame, moved: Frame, cut: dt.date) -> None:
    """Both evaluators give `frame` and `moved` (its births moved in their months) the same."""
    both = side_by_side(frame, moved)
    for name, evaluator in EVALUATORS.items():
        found = day_told(evaluator(policy, both, cut))
        if found:
            lines = [what for _, what in found[:12]]
            for pid in sorted({p for p, _ in found if p})[:2]:
                lines += [f"person {pid}:\n{person_context(frame, pid)}",
                          f"births moved:\n{person_context(moved, pid)}"]  # fmt: skip
            raise AssertionError(
                f"{name}, cut {cut}: the day of a birth changed {len(found)} row(s)\n"
                + "\n".join(lines)
            )


THOROUGH = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
QUICK = settings(THOROUGH, max_examples=20)


def _any_day_of_the_month_gives_the_same_scores(data: st.DataObject) -> None:
    policy = data.draw(policies(), label="policy")
    frame, cut = data.draw(frames(policy), label="frame")
    moved = data.draw(_moved(frame), label="moved")
    assert_month_level(policy, frame, moved, cut)


@QUICK
@given(st.data())
def test_any_day_of_the_birth_month_gives_the_same_scores_quick(data: st.DataObject) -> None:
    _any_day_of_the_month_gives_the_same_scores(data)


@pytest.mark.slow  # two evaluations of twice the frame per example: a few minutes
@THOROUGH
@given(st.data())
def test_any_day_of_the_birth_month_gives_the_same_scores(data: st.DataObject) -> None:
    _any_day_of_the_month_gives_the_same_scores(data)


# -- the property catches scores read from the day -------------------------------------------

CUT = dt.date(2024, 6, 30)


def _family(born: dt.date, registered: dt.date) -> Frame:
    """A mother and one child, for the policy below."""
    return Frame.from_rows(
        [person(1)],
        [],
        [child(1, 1000, born, dt.datetime.combine(registered, dt.time(9)))],
        ["vaccine"],
    )


def _policy() -> Policy:
    bands: list[Row] = [{"at_least": 1, "points": 100}]
    dose = {"type": "schedule", "kind": "vaccination", "items": [{"due_months": 5}]}
    timely = {"type": "registration_timeliness", "within_days": 90}
    return make_policy(
        [indicator("K1", dose, bands, weight="0.5"), indicator("K2", timely, bands, weight="0.5")]
    )


@pytest.mark.parametrize(
    ("born", "moved", "registered"),
    [
        # The example: by the day, the 5-month dose is due at 30 June for a child born
        # on 30 January and not for one born on 31 January.
        (dt.date(2024, 1, 30), dt.date(2024, 1, 31), dt.date(2024, 2, 1)),
        # Registered on 1 May: within 90 days of 31 January, not of 30 January.
        (dt.date(2024, 1, 31), dt.date(2024, 1, 30), dt.date(2024, 5, 1)),
    ],
)
def test_day_level_scores_are_caught(
    born: dt.date, moved: dt.date, registered: dt.date, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check fails for an engine reading birth dates to the day (before issue 21's fix)."""
    frame = _family(born, registered)
    other = moved_births(frame, lambda d: moved if d == born else d)
    assert_month_level(_policy(), frame, other, CUT)
    monkeypatch.setattr(compile_facts, "_birth", lambda expr: expr)  # read the day, as before
    with pytest.raises(AssertionError, match="engine, cut 2024-06-30: the day of a birth"):
        assert_month_level(_policy(), frame, other, CUT)
