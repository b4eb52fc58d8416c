"""SPEC §0 as counterfactuals under the default policy, on the reference and on the engine.

(a) Health facts only help: one more vaccination, check-up, contraception or infant-care fact
    about a person or their child never lowers anyone's total or grade.
(b) The number of children is never held against anyone: one more child (registered in time,
    with no facts yet) never lowers the parent's total or grade.
(c) Differentiated standards: of two persons identical but for rural vs urban, the rural one's
    total is never below the urban one's; and the coefficient lets a rural woman reach a
    contraception band an urban woman with the same record does not.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fpcredit.evaluate import reference
from fpcredit.evaluate.engine import evaluate_frame
from fpcredit.evaluate.frame import CHILDREN_SCHEMA, PERSON_SCHEMA, Frame, Outcome
from fpcredit.evaluate.policy import load_policy
from fpcredit.evaluate.policy_model import FLAGS, CoverageMeasure, Policy
from tests.evaluate.strategies import HEALTH_KINDS, facts_about, frames, person_context

# Hypothesis on both evaluators takes minutes: in CI, not in a quick local run.
pytestmark = pytest.mark.slow
Evaluator = Callable[[Policy, Frame, dt.date], Outcome]
Row = dict[str, Any]
PRINCIPLES = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass(frozen=True)
class Subject:
    """An evaluator and the default policy (a short repr keeps Hypothesis' reports readable)."""

    name: str
    evaluate: Evaluator
    policy: Policy

    def __repr__(self) -> str:
        return f"<{self.name} under {self.policy.id}@{self.policy.version}>"


@pytest.fixture(scope="module", params=["reference", "engine"])
def subject(request: pytest.FixtureRequest) -> Subject:
    evaluate: Evaluator = evaluate_frame if request.param == "engine" else reference.evaluate
    return Subject(request.param, evaluate, load_policy().policy)


# -- comparing outcomes -----------------------------------------------------------------------


def standing(policy: Policy, outcome: Outcome) -> dict[int, tuple[int, int]]:
    """Each person's (total, grade rank) where larger is better; no total ranks lowest."""
    order = policy.grade_order
    out = {}
    for row in outcome.results.to_pylist():
        total = -1 if row["total_centi"] is None else row["total_centi"]
        grade = -1 if row["grade"] is None else len(order) - order.index(row["grade"])
        out[row["person_id"]] = (total, grade)
    return out


def assert_not_lower(
    policy: Policy,
    frame: Frame,
    before: Outcome,
    after: Outcome,
    persons: Iterable[int],
    what: str,
) -> None:
    was, now = standing(policy, before), standing(policy, after)
    for pid in persons:
        if pid not in was:
            continue
        assert now[pid][0] >= was[pid][0], (
            f"{what} lowered person {pid}'s total from {was[pid][0]} to {now[pid][0]}"
            f"\nbefore: {_explain(before, pid)}\nafter: {_explain(after, pid)}"
            f"\nthe person before:\n{person_context(frame, pid)}"
        )
        assert now[pid][1] >= was[pid][1], f"{what} lowered person {pid}'s grade"


def _explain(outcome: Outcome, pid: int) -> str:
    dims = [r for r in outcome.dimensions.to_pylist() if r["person_id"] == pid]
    inds = [
        (r["indicator"], r["status"], r["num"], r["den"], r["points"], r["included"])
        for r in outcome.indicators.to_pylist()
        if r["person_id"] == pid and r["status"] != "not_applicable"
    ]
    return f"{dims}\n  {inds}"


def with_rows(
    frame: Frame,
    persons: Sequence[Row] = (),
    facts: Sequence[Row] = (),
    children: Sequence[Row] = (),
) -> Frame:
    """The frame with more rows appended."""

    def more(table: pa.Table, rows: Sequence[Row], schema: pa.Schema) -> pa.Table:
        return pa.concat_tables([table, pa.Table.from_pylist(list(rows), schema=schema)])

    return Frame(
        more(frame.persons, persons, PERSON_SCHEMA),
        more(frame.facts, facts, frame.facts.schema),
        more(frame.children, children, CHILDREN_SCHEMA),
    )


def _evaluated(policy: Policy, frame: Frame, cut: dt.date) -> list[int]:
    """The persons of age at `cut`, a birth read as the end of its month (docs/policy.md §1.1)."""
    return [
        r["person_id"]
        for r in frame.persons.to_pylist()
        if r["birth_date"] is None
        or reference.age(reference.birth_month_end(r["birth_date"]), cut)
        >= policy.population.min_age
    ]


def _next_id(table: pa.Table, column: str) -> int:
    return max(table.column(column).to_pylist(), default=0) + 1


# -- (a) health facts only help ---------------------------------------------------------------


@PRINCIPLES
@given(data=st.data())
def test_a_health_fact_never_lowers_a_total(subject: Subject, data: st.DataObject) -> None:
    evaluate, policy = subject.evaluate, subject.policy
    frame, cut = data.draw(frames(policy), label="frame")
    people = _evaluated(policy, frame, cut)
    if not people:
        return
    pid = data.draw(st.sampled_from(people), label="person")
    kids = [
        r["child_id"]
        for r in frame.children.to_pylist()
        if r["parent_id"] == pid and r["birth_date"] <= cut
    ]
    owner = data.draw(st.sampled_from([pid, *kids]), label="owner")
    first = _next_id(frame.facts, "fact_id")
    extra = data.draw(facts_about(policy, cut, owner, HEALTH_KINDS, first), label="facts")
    before = evaluate(policy, frame, cut)
    after = evaluate(policy, with_rows(frame, facts=extra), cut)
    assert_not_lower(policy, frame, before, after, people, f"adding {extra}")


# -- (b) a birth never lowers -----------------------------------------------------------------


@PRINCIPLES
@given(data=st.data())
def test_b_a_birth_never_lowers_a_total(subject: Subject, data: st.DataObject) -> None:
    evaluate, policy = subject.evaluate, subject.policy
    frame, cut = data.draw(frames(policy), label="frame")
    people = _evaluated(policy, frame, cut)
    if not people:
        return
    pid = data.draw(st.sampled_from(people), label="parent")
    # A new birth is the parent's latest: it follows every child already born by the cut.
    earlier = [
        c["birth_date"]
        for c in frame.children.to_pylist()
        if c["parent_id"] == pid and c["birth_date"] <= cut
    ]
    room = (cut - max(earlier)).days - 1 if earlier else 3650
    if room < 0:
        return
    back = data.draw(st.sampled_from([0, 1, 28, 200]) | st.integers(0, 3650), label="age")
    back = min(back, room)
    born = cut - dt.timedelta(days=back)
    delay = data.draw(st.integers(0, min(90, back)), label="registered after")
    birth = {
        "parent_id": pid,
        "child_id": max(_next_id(frame.children, "child_id"), 50_000),
        "birth_date": born,
        "registered_at": dt.datetime.combine(born, dt.time(9)) + dt.timedelta(days=delay),
    }
    before = evaluate(policy, frame, cut)
    after = evaluate(policy, with_rows(frame, children=[birth]), cut)
    assert_not_lower(policy, frame, before, after, [pid], f"the birth {birth}")


# -- (c) rural and urban ----------------------------------------------------------------------


def twins(frame: Frame, pid: int) -> tuple[Frame, int, int]:
    """The frame plus an urban and a rural copy of person `pid` (facts, children, their facts)."""
    urban_id, rural_id = 90_001, 90_002
    (row,) = [r for r in frame.persons.to_pylist() if r["person_id"] == pid]
    facts = frame.facts.to_pylist()
    next_fact = _next_id(frame.facts, "fact_id")
    persons, new_facts, children = [], [], []
    for copy_id, group in ((urban_id, "urban"), (rural_id, "rural")):
        persons.append(row | {"person_id": copy_id, "group": group})
        owners = {pid: copy_id}
        for i, kid in enumerate(r for r in frame.children.to_pylist() if r["parent_id"] == pid):
            owners[kid["child_id"]] = copy_id * 10 + i
            children.append(kid | {"parent_id": copy_id, "child_id": copy_id * 10 + i})
        for f in facts:
            if f["person_id"] in owners:
                new_facts.append(f | {"fact_id": next_fact, "person_id": owners[f["person_id"]]})
                next_fact += 1
    return with_rows(frame, persons, new_facts, children), urban_id, rural_id


@PRINCIPLES
@given(data=st.data())
def test_c_rural_never_below_urban(subject: Subject, data: st.DataObject) -> None:
    evaluate, policy = subject.evaluate, subject.policy
    frame, cut = data.draw(frames(policy), label="frame")
    people = _evaluated(policy, frame, cut)
    if not people:
        return
    pid = data.draw(st.sampled_from(people), label="person")
    both, urban, rural = twins(frame, pid)
    outcome = evaluate(policy, both, cut)
    got = standing(policy, outcome)
    assert got[rural][0] >= got[urban][0], (
        f"rural total {got[rural][0]} < urban total {got[urban][0]} for a copy of person {pid}"
        f"\nurban: {_explain(outcome, urban)}\nrural: {_explain(outcome, rural)}"
        f"\nthe person:\n{person_context(frame, pid)}"
    )


CUT = dt.date(2024, 6, 30)


def _contraception_indicator(policy: Policy) -> tuple[str, Fraction, Fraction]:
    """The default policy's regional contraception coverage indicator, for everyone."""
    for ind in policy.indicators:
        m = ind.measure
        if (
            isinstance(m, CoverageMeasure)
            and m.kind == "contraception"
            and ind.regional
            and ind.applies.groups is None
        ):
            top = ind.scoring.bands[0]
            assert top.at_least is not None
            return ind.id, top.at_least, policy.coefficients.get("rural", Fraction(1))
    pytest.skip("the default policy has no regional contraception coverage indicator")


def test_c_rural_reaches_a_contraception_band_urban_does_not(subject: Subject) -> None:
    """Two women of 30, identical but for rural vs urban, each with contraception covering
    10 of the 12 months July 2023 … April 2024 (oral pill, 6 months each: May 2023 → Jul–Oct
    in the window, Nov 2023 → Nov–Apr): value 10/12 = 0.833. The default policy's top band is
    "at least 0.90"; the rural coefficient 0.9 makes it 0.81 ≤ 0.833 for the rural woman only.
    A child registered late (F01 below 100) makes the contraception bonus count in the
    fertility dimension, so the totals differ too.
    """
    evaluate, policy = subject.evaluate, subject.policy
    ident, top, coefficient = _contraception_indicator(policy)
    value = Fraction(10, 12)
    assert top * coefficient <= value < top, (top, coefficient)
    persons: list[Row] = []
    facts: list[Row] = []
    children: list[Row] = []
    for pid, group in ((1, "urban"), (2, "rural")):
        persons.append(
            {
                "person_id": pid,
                "sex": 2,
                "birth_date": dt.date(1994, 3, 15),
                "group": group,
                "occupation": None,
                **dict.fromkeys(FLAGS, True),
            }
        )
        for day in (dt.date(2023, 5, 5), dt.date(2023, 11, 5)):
            facts.append(
                {
                    "fact_id": len(facts) + 1,
                    "person_id": pid,
                    "kind": "contraception",
                    "event_date": day,
                    "recorded_at": dt.datetime.combine(day, dt.time(9)),
                    "contraception_method": "oral_pill",
                }
            )
        born = dt.date(2022, 1, 10)  # within F01's 36-month window of CUT
        children.append(
            {
                "parent_id": pid,
                "child_id": 100 + pid,
                "birth_date": born,
                "registered_at": dt.datetime(2022, 6, 1),  # 142 days: late
            }
        )
    frame = Frame.from_rows(persons, facts, children, attributes=policy.attributes())
    outcome = evaluate(policy, frame, CUT)
    rows = {r["person_id"]: r for r in outcome.indicators.to_pylist() if r["indicator"] == ident}
    assert Fraction(rows[1]["num"], rows[1]["den"]) == Fraction(rows[2]["num"], rows[2]["den"])
    assert Fraction(rows[2]["num"], rows[2]["den"]) == value
    (indicator,) = [i for i in policy.indicators if i.id == ident]
    assert rows[2]["points"] == indicator.scoring.bands[0].points
    assert rows[1]["points"] < rows[2]["points"]
    totals = {r["person_id"]: r["total_centi"] for r in outcome.results.to_pylist()}
    assert totals[2] > totals[1], (totals, _explain(outcome, 1), _explain(outcome, 2))
