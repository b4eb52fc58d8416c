"""The reference evaluator pinned to docs/policy.md §1 by small hand-computed examples.

Each test states the arithmetic in its comments; the numbers come from the document, not from
running the code. Cut date 30 June 2024 unless a test says otherwise.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Any

import pytest

from fpcredit.evaluate.frame import Frame, Outcome
from fpcredit.evaluate.policy_checks import check
from fpcredit.evaluate.policy_model import FLAGS, Policy
from fpcredit.evaluate.reference import (
    add_months,
    age,
    evaluate,
    month_number,
    months_between,
    parse_period,
    round_half_up,
)

Row = dict[str, Any]
D = dt.date
CUT = D(2024, 6, 30)


# -- builders ---------------------------------------------------------------------------------


def text(label: str) -> Row:
    return {"zh": label, "en": label}


def indicator(
    ident: str,
    measure: Row,
    bands: Sequence[Row],
    *,
    weight: str = "1",
    dimension: str = "basic",
    otherwise: int = 0,
    **extra: Any,
) -> Row:
    return {
        "id": ident,
        "name": text(ident),
        "dimension": dimension,
        "weight": weight,
        "rationale": text("test"),
        "measure": measure,
        "scoring": {"bands": list(bands), "otherwise": otherwise},
        **extra,
    }


def flag_indicator(ident: str, points: int, field: str = "id_valid", **extra: Any) -> Row:
    """A flag indicator worth `points` when the flag is true (0 otherwise)."""
    band = {"at_least": 1, "points": points}
    return indicator(ident, {"type": "flag", "field": field}, [band], **extra)


def make_policy(
    indicators: Sequence[Row],
    dimensions: Sequence[tuple[str, str]] = (("basic", "1"),),
    **extra: Any,
) -> Policy:
    raw: Row = {
        "id": "test",
        "version": "1.0.0",
        "effective": "2020-01-01",
        "title": text("test"),
        "population": {"min_age": 0},
        "dimensions": [{"id": d, "name": text(d), "weight": w} for d, w in dimensions],
        "indicators": list(indicators),
        "grades": {"cutoffs": {"A": 85, "B": 70, "C": 60}, "lowest": "D"},
        **extra,
    }
    policy = Policy.model_validate(raw)
    assert check(policy) == []
    return policy


def person(pid: int = 1, **fields: Any) -> Row:
    row: Row = {
        "person_id": pid,
        "sex": 2,
        "birth_date": D(1990, 5, 1),
        "group": "urban",
        "occupation": None,
        **dict.fromkeys(FLAGS, True),
    }
    return row | fields


_fact_ids = iter(range(1, 1_000_000))


def fact(pid: int, kind: str, day: dt.date, **attrs: Any) -> Row:
    return {
        "fact_id": next(_fact_ids),
        "person_id": pid,
        "kind": kind,
        "event_date": day,
        "recorded_at": dt.datetime.combine(day, dt.time(12)),
        **attrs,
    }


def child(parent: int, cid: int, born: dt.date, registered: dt.datetime | None = None) -> Row:
    when = registered or dt.datetime.combine(born, dt.time(10)) + dt.timedelta(days=5)
    return {"parent_id": parent, "child_id": cid, "birth_date": born, "registered_at": when}


def run(
    policy: Policy,
    persons: Iterable[Row],
    facts: Iterable[Row] = (),
    children: Iterable[Row] = (),
    cut: dt.date = CUT,
) -> Outcome:
    frame = Frame.from_rows(persons, facts, children, attributes=policy.attributes())
    return evaluate(policy, frame, cut)


def ind(outcome: Outcome, pid: int, ident: str) -> Row:
    rows = [
        r
        for r in outcome.indicators.to_pylist()
        if r["person_id"] == pid and r["indicator"] == ident
    ]
    assert len(rows) == 1
    row: Row = rows[0]
    return row


def value(outcome: Outcome, pid: int, ident: str) -> Fraction | None:
    row = ind(outcome, pid, ident)
    return None if row["num"] is None else Fraction(row["num"], row["den"])


def dim(outcome: Outcome, pid: int, ident: str) -> Row:
    (row,) = [
        r
        for r in outcome.dimensions.to_pylist()
        if r["person_id"] == pid and r["dimension"] == ident
    ]
    found: Row = row
    return found


def result(outcome: Outcome, pid: int) -> Row:
    (row,) = [r for r in outcome.results.to_pylist() if r["person_id"] == pid]
    found: Row = row
    return found


# -- 1.1 dates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "months"),
    [
        (D(2024, 1, 31), D(2024, 2, 29), 0),  # 1 month, minus 1 as 29 < 31
        (D(2024, 1, 29), D(2024, 2, 29), 1),
        (D(2024, 1, 31), D(2024, 3, 31), 2),
        (D(2020, 2, 29), D(2021, 2, 28), 11),
        (D(2020, 2, 29), D(2021, 3, 1), 12),
        (D(2023, 12, 31), D(2024, 1, 1), 0),
        (D(2024, 1, 15), D(2024, 1, 14), -1),
        (D(2024, 6, 30), D(2024, 6, 30), 0),
    ],
)
def test_months_between(a: dt.date, b: dt.date, months: int) -> None:
    assert months_between(a, b) == months


@pytest.mark.parametrize(
    ("d", "n", "expected"),
    [
        (D(2023, 1, 31), 1, D(2023, 2, 28)),  # clamped to the end of February
        (D(2024, 1, 31), 1, D(2024, 2, 29)),  # leap year
        (D(2024, 2, 29), 12, D(2025, 2, 28)),
        (D(2024, 2, 29), -48, D(2020, 2, 29)),
        (D(2024, 3, 31), -1, D(2024, 2, 29)),
        (D(2024, 5, 31), -3, D(2024, 2, 29)),
        (D(2024, 12, 15), 1, D(2025, 1, 15)),
        (D(2024, 1, 10), -13, D(2022, 12, 10)),
        (D(2024, 6, 30), 0, D(2024, 6, 30)),
    ],
)
def test_add_months_clamps_to_the_month_end(d: dt.date, n: int, expected: dt.date) -> None:
    assert add_months(d, n) == expected


@pytest.mark.parametrize(
    ("born", "cut", "years"),
    [
        (D(2000, 2, 29), D(2018, 2, 28), 17),  # 215 whole months
        (D(2000, 2, 29), D(2018, 3, 1), 18),  # 216
        (D(1990, 6, 30), D(2024, 6, 30), 34),
        (D(1990, 6, 30), D(2024, 6, 29), 33),
        (D(2024, 6, 30), D(2024, 6, 30), 0),
        (D(2024, 7, 1), D(2024, 6, 30), -1),  # born after the cut: floor(-1 / 12)
    ],
)
def test_age(born: dt.date, cut: dt.date, years: int) -> None:
    assert age(born, cut) == years


def test_month_number_and_period() -> None:
    assert month_number(D(2024, 3, 5)) == 12 * 2024 + 3 == 24291
    may = 12 * 2024 + 5
    assert parse_period("2024-05") == parse_period("202405") == parse_period("2024-05-01") == may
    assert parse_period(None) is None
    assert parse_period("2024") is None
    assert parse_period("2024-13") is None


@pytest.mark.parametrize(
    ("x", "n"),
    [
        (Fraction(0), 0),
        (Fraction(1, 3), 0),
        (Fraction(1, 2), 1),
        (Fraction(2, 3), 1),
        (Fraction(3, 2), 2),
        (Fraction(5, 2), 3),  # not banker's rounding
        (Fraction(4985, 10), 499),
        (Fraction(4984, 10), 498),
        (Fraction(999_999, 2), 500_000),
    ],
)
def test_round_half_up(x: Fraction, n: int) -> None:
    assert round_half_up(x) == n


# -- 1.2 who is evaluated ---------------------------------------------------------------------


def test_who_is_evaluated() -> None:
    policy = make_policy([flag_indicator("K1", 100)], population={"min_age": 18})
    out = run(
        policy,
        [
            person(1, birth_date=D(2006, 6, 30)),  # 18 on the cut date
            person(2, birth_date=D(2006, 7, 1)),  # 17
            person(3, birth_date=None),  # unknown: evaluated
            person(4, birth_date=D(2024, 1, 1)),
        ],
    )
    assert out.results.column("person_id").to_pylist() == [1, 3]
    assert sorted(set(out.indicators.column("person_id").to_pylist())) == [1, 3]
    assert out.dimensions.column("person_id").to_pylist() == [1, 3]


def test_a_birth_is_read_as_the_last_day_of_its_month() -> None:
    """1.1: at a mid-month cut (15 June 2024) a person born on 1 June 2006 is read as born on
    30 June 2006: months_between(2006-06-30, 2024-06-15) = 215, 17 years, so not evaluated yet
    (18 by the day); born in May 2006 (read as 31 May): 216 months, evaluated. At the month's
    end both are."""
    policy = make_policy([flag_indicator("K1", 100)], population={"min_age": 18})
    born = [person(1, birth_date=D(2006, 6, 1)), person(2, birth_date=D(2006, 5, 31))]
    assert run(policy, born, cut=D(2024, 6, 15)).results.column("person_id").to_pylist() == [2]
    assert run(policy, born, cut=D(2024, 6, 30)).results.column("person_id").to_pylist() == [1, 2]


def test_a_child_born_this_month_counts_once_the_month_is_over() -> None:
    """1.1, 1.4: born 1 June 2024 is read as 30 June: not yet a child at 15 June."""
    policy = make_policy([flag_indicator("K1", 100, applies={"has_children": True})])
    children = [child(1, 1000, D(2024, 6, 1))]
    assert ind(run(policy, [person(1)], [], children, D(2024, 6, 15)), 1, "K1")["status"] == (
        "not_applicable"
    )
    assert ind(run(policy, [person(1)], [], children, D(2024, 6, 30)), 1, "K1")["status"] == (
        "scored"
    )


def test_a_due_dose_does_not_split_a_birth_month() -> None:
    """The 5-month dose at a 30 June cut. By the day it was due for a child born on 30 January
    (5 months) and not on 31 January (4), which told the day of the birth; read as born on 31
    January (1.1) neither has it due (4 months: not applicable, nothing due). Born in December
    (read as 31 Dec): 5 months, due."""
    policy = _schedule_policy([{"due_months": 5, "where": HEPB}])
    children = [
        child(1, 1000, D(2024, 1, 30)),
        child(2, 1001, D(2024, 1, 31)),
        child(3, 1002, D(2023, 12, 1)),
    ]
    out = run(policy, [person(1), person(2), person(3)], [], children)
    assert ind(out, 1, "K1")["status"] == ind(out, 2, "K1")["status"] == "not_applicable"
    assert (ind(out, 3, "K1")["num"], ind(out, 3, "K1")["den"]) == (0, 1)


# -- 1.5 measures -----------------------------------------------------------------------------


def test_flag() -> None:
    policy = make_policy(
        [
            indicator(
                "K1",
                {"type": "flag", "field": "phone_known"},
                [{"at_least": 1, "points": 100}],
                otherwise=30,
            )
        ]
    )
    out = run(
        policy,
        [person(1), person(2, phone_known=False), person(3, phone_known=None)],
    )
    assert (value(out, 1, "K1"), ind(out, 1, "K1")["points"]) == (Fraction(1), 100)
    assert (value(out, 2, "K1"), ind(out, 2, "K1")["points"]) == (Fraction(0), 30)
    assert (value(out, 3, "K1"), ind(out, 3, "K1")["points"]) == (
        Fraction(0),
        30,
    )  # null is not true
    assert ind(out, 1, "K1")["den"] == 1


def _count_policy(**measure: Any) -> Policy:
    m = {"type": "count", "kinds": ["vaccination"], **measure}
    return make_policy([indicator("K1", m, [{"at_least": 2, "points": 100}], otherwise=10)])


@pytest.mark.parametrize(
    ("cut", "edge"),
    [(D(2024, 6, 30), D(2023, 6, 30)), (D(2024, 2, 29), D(2023, 2, 28))],
)
def test_count_in_a_window(cut: dt.date, edge: dt.date) -> None:
    """A 12-month window holds add_months(C, −12) < t ≤ C."""
    policy = _count_policy(where={"vaccine": ["HepB"]}, window_months=12)
    facts = [
        fact(1, "vaccination", edge, vaccine="HepB"),  # on the boundary: outside
        fact(1, "vaccination", edge + dt.timedelta(days=1), vaccine="HepB"),
        fact(1, "vaccination", cut, vaccine="HepB"),
        fact(1, "vaccination", cut + dt.timedelta(days=1), vaccine="HepB"),  # after C
        fact(1, "vaccination", cut, vaccine="BCG"),  # filtered out
        fact(1, "vaccination", cut, vaccine=None),
        fact(1, "child_health_check", cut),
        fact(2, "vaccination", cut, vaccine="HepB"),  # someone else's
    ]
    out = run(policy, [person(1)], facts, cut=cut)
    assert value(out, 1, "K1") == 2
    assert (ind(out, 1, "K1")["num"], ind(out, 1, "K1")["den"]) == (2, 1)
    assert ind(out, 1, "K1")["points"] == 100
    unwindowed = run(_count_policy(where={"vaccine": ["HepB"]}), [person(1)], facts, cut=cut)
    assert value(unwindowed, 1, "K1") == 3  # every date ≤ C


def test_count_of_children() -> None:
    policy = _count_policy(of="children")
    children = [
        child(1, 1000, D(2023, 1, 10)),
        child(2, 1000, D(2023, 1, 10)),  # the same child, the other parent
        child(1, 1001, D(2024, 8, 1)),  # born after the cut: not a child yet
    ]
    facts = [
        fact(1000, "vaccination", D(2023, 2, 1), vaccine="HepB"),
        fact(1000, "vaccination", D(2023, 3, 1), vaccine="DTaP"),
        fact(1001, "vaccination", D(2024, 6, 1), vaccine="HepB"),
        fact(1, "vaccination", D(2024, 6, 1), vaccine="HepB"),  # the parent's own
    ]
    out = run(policy, [person(1), person(2), person(3)], facts, children)
    assert value(out, 1, "K1") == value(out, 2, "K1") == 2
    assert value(out, 3, "K1") == 0  # a count is never not applicable
    assert ind(out, 3, "K1")["points"] == 10


def _schedule_policy(items: list[Row], grace: int = 0) -> Policy:
    m = {"type": "schedule", "kind": "vaccination", "items": items, "grace_months": grace}
    bands: list[Row] = [{"at_least": 1, "points": 100}, {"at_least": "0.75", "points": 80}]
    return make_policy([indicator("K1", m, bands, otherwise=20)])


HEPB = {"vaccine": ["HepB"]}
SCHEDULE = [
    {"due_months": 6, "where": HEPB},  # 3rd HepB
    {"due_months": 0, "where": HEPB},  # 1st
    {"due_months": 3, "where": {"vaccine": ["DTaP"]}},
    {"due_months": 1, "where": HEPB},  # 2nd
    {"due_months": 12, "where": HEPB},  # 4th, not due at 6 months
]


def test_schedule_ranks_items_with_the_same_where() -> None:
    # Born in January, read as 31 Jan (1.1): 6 months old at a 31 July cut,
    # months_between(2024-01-31, 2024-07-31) = 6. Due: HepB at 0, 1, 6 and DTaP at 3 (4 items).
    # Two HepB doses → the 1st and 2nd HepB are done, the 3rd is not; one DTaP → done.
    # 3 / 4 = 0.75 → exactly the 80-point band.
    cut = D(2024, 7, 31)
    facts = [
        fact(1000, "vaccination", D(2024, 1, 15), vaccine="HepB"),
        fact(1000, "vaccination", D(2024, 3, 1), vaccine="HepB"),
        fact(1000, "vaccination", D(2024, 8, 2), vaccine="HepB"),  # after C
        fact(1000, "vaccination", D(2024, 5, 1), vaccine="DTaP"),
    ]
    children = [child(1, 1000, D(2024, 1, 15))]
    out = run(_schedule_policy(SCHEDULE), [person(1)], facts, children, cut)
    assert (ind(out, 1, "K1")["num"], ind(out, 1, "K1")["den"]) == (3, 4)
    assert ind(out, 1, "K1")["points"] == 80
    # With one month's grace the 6-month dose is not due yet (6 < 6 + 1): 3 / 3.
    out = run(_schedule_policy(SCHEDULE, grace=1), [person(1)], facts, children, cut)
    assert (ind(out, 1, "K1")["num"], ind(out, 1, "K1")["den"]) == (3, 3)


def test_schedule_done_but_not_due_does_not_count_and_children_add_up() -> None:
    items = [{"due_months": 0, "where": HEPB}, {"due_months": 12, "where": HEPB}]
    facts = [fact(1000, "vaccination", D(2024, 1, d), vaccine="HepB") for d in range(1, 6)]
    children = [child(1, 1000, D(2023, 12, 30)), child(1, 1001, D(2024, 6, 1))]
    # Child 1000: HepB at 0 due and done; at 12 done but not due → 1/1. Child 1001 (0 months):
    # HepB at 0 due, not done → 0/1. Summed: 1/2.
    out = run(_schedule_policy(items), [person(1)], facts, children)
    assert (ind(out, 1, "K1")["num"], ind(out, 1, "K1")["den"]) == (1, 2)
    assert ind(out, 1, "K1")["points"] == 20


def test_schedule_not_applicable_when_nothing_is_due() -> None:
    items = [{"due_months": 1, "where": HEPB}]
    children = [child(1, 1000, D(2024, 6, 1)), child(1, 1001, D(2024, 7, 1))]
    out = run(_schedule_policy(items), [person(1), person(2)], [], children)
    assert ind(out, 1, "K1")["status"] == "not_applicable"  # 0 months old, due at 1
    assert ind(out, 2, "K1")["status"] == "not_applicable"  # no child
    assert ind(out, 1, "K1")["points"] is ind(out, 1, "K1")["num"] is None


def test_registration_timeliness() -> None:
    m = {"type": "registration_timeliness", "within_days": 30}
    bands: list[Row] = [{"at_least": 1, "points": 100}, {"at_least": "0.5", "points": 70}]
    policy = make_policy([indicator("K1", m, bands)])
    children = [
        # Born in January, read as 31 Jan (1.1): 31 Jan → 1 Mar 2024 is 30 days (the time of
        # day does not matter) → timely
        child(1, 1000, D(2024, 1, 1), dt.datetime(2024, 3, 1, 23, 59)),
        # Born in February, read as 29 Feb: → 31 Mar 2024 is 31 days → late
        child(1, 1001, D(2024, 2, 1), dt.datetime(2024, 3, 31, 0, 0)),
        child(1, 1002, D(2024, 7, 2), dt.datetime(2024, 7, 3)),  # born after C
    ]
    out = run(policy, [person(1), person(2)], [], children)
    assert (ind(out, 1, "K1")["num"], ind(out, 1, "K1")["den"]) == (1, 2)
    assert ind(out, 1, "K1")["points"] == 70
    assert ind(out, 2, "K1")["status"] == "not_applicable"


def test_birth_spacing() -> None:
    m = {"type": "birth_spacing", "min_months": 24}
    bands = [{"at_least": 2, "points": 100}, {"at_least": 1, "points": 80}]
    policy = make_policy([indicator("K1", m, bands, otherwise=60)])
    children = [
        child(1, 1000, D(2020, 1, 31)),
        child(1, 1001, D(2022, 3, 15)),  # twins
        child(1, 1002, D(2022, 3, 15)),
        child(1, 1003, D(2024, 2, 29)),
        child(2, 1004, D(2022, 3, 15)),
        child(2, 1005, D(2022, 3, 15)),
        child(3, 1006, D(2022, 3, 15)),
        child(3, 1007, D(2024, 8, 1)),  # after the cut
    ]
    out = run(policy, [person(1), person(2), person(3)], [], children)
    # Between birth months (1.5): January 2020 → March 2022 is 26 months (≥ 24); March 2022 →
    # February 2024 is 23.
    assert (ind(out, 1, "K1")["num"], ind(out, 1, "K1")["den"]) == (1, 1)
    assert ind(out, 1, "K1")["points"] == 80
    assert ind(out, 2, "K1")["status"] == "not_applicable"  # twins only
    assert ind(out, 3, "K1")["status"] == "not_applicable"


def _payments_policy(**measure: Any) -> Policy:
    m = {
        "type": "coverage",
        "kind": "maternity_insurance_payment",
        "where": {"insured_status": ["1"]},
        "month_from": "period",
        "window_months": 6,
        **measure,
    }
    return make_policy([indicator("K1", m, [{"at_least": "0.5", "points": 100}])], **POLICY_BUFFER)


POLICY_BUFFER: Row = {"buffer": {"occupations": ["F"], "months_after_birth": 3}}


PAID_ON = D(2024, 6, 10)


def pay(pid: int, period: str | None, day: dt.date = PAID_ON, status: str = "1") -> Row:
    return fact(pid, "maternity_insurance_payment", day, period=period, insured_status=status)


def test_coverage_by_period() -> None:
    # Cut 15 June 2024, window 6: January … June 2024.
    cut = D(2024, 6, 15)
    facts = [
        pay(1, "2024-01"),
        pay(1, "202403"),
        pay(1, "2024-06-01"),
        pay(1, "2023-12"),  # before the window
        pay(1, "2024-05", day=D(2024, 6, 16)),  # dated after C: ignored
        pay(1, None),  # covers nothing
        pay(1, "2024-02", status="2"),  # does not match `where`
    ]
    out = run(_payments_policy(), [person(1)], facts, cut=cut)
    assert (ind(out, 1, "K1")["num"], ind(out, 1, "K1")["den"]) == (3, 6)
    assert ind(out, 1, "K1")["points"] == 100  # 1/2 ≥ 0.5


def test_coverage_since_first_and_until_last() -> None:
    cut = D(2024, 6, 15)
    later = [pay(1, "202403"), pay(1, "2024-06"), pay(1, "2024-02", status="2")]
    out = run(_payments_policy(since_first=True), [person(1)], later, cut=cut)
    assert (ind(out, 1, "K1")["num"], ind(out, 1, "K1")["den"]) == (2, 4)  # March … June
    earlier = [pay(1, "2024-01"), pay(1, "2024-03")]
    out = run(_payments_policy(until_last=True), [person(1)], earlier, cut=cut)
    assert (ind(out, 1, "K1")["num"], ind(out, 1, "K1")["den"]) == (
        Fraction(2),
        3,
    )  # January … March
    both = [pay(1, "2024-02"), pay(1, "2024-04")]
    out = run(_payments_policy(since_first=True, until_last=True), [person(1)], both, cut=cut)
    assert (ind(out, 1, "K1")["num"], ind(out, 1, "K1")["den"]) == (
        Fraction(2),
        3,
    )  # February … April
    # With no matching fact at all, no month is eligible.
    for options in ({"since_first": True}, {"until_last": True}):
        out = run(_payments_policy(**options), [person(1)], [pay(1, "2024-03", status="2")])
        assert ind(out, 1, "K1")["status"] == "not_applicable"


def test_coverage_buffer_after_a_birth() -> None:
    # Window January … June 2024; a child born 10 Feb 2024; buffer 3 months: Feb, Mar, Apr.
    # Paid January and March. For a freelancer (F): Feb and Apr are buffered (not covered),
    # March is covered and stays eligible → 2 / 4. For others: 2 / 6.
    facts = [pay(1, "2024-01"), pay(1, "2024-03"), pay(2, "2024-01"), pay(2, "2024-03")]
    children = [child(1, 1000, D(2024, 2, 10)), child(2, 1001, D(2024, 2, 10))]
    persons = [person(1, occupation="F"), person(2, occupation="1")]
    out = run(_payments_policy(buffer=True), persons, facts, children)
    assert (ind(out, 1, "K1")["num"], ind(out, 1, "K1")["den"]) == (2, 4)
    assert (ind(out, 2, "K1")["num"], ind(out, 2, "K1")["den"]) == (2, 6)
    out = run(_payments_policy(), persons, facts, children)  # the indicator has no buffer
    assert (ind(out, 1, "K1")["num"], ind(out, 1, "K1")["den"]) == (2, 6)


def test_coverage_by_event_date_and_durations() -> None:
    m = {
        "type": "coverage",
        "kind": "contraception",
        "window_months": 12,
        "duration_attr": "contraception_method",
        "durations": {"IUD": 0, "condom": 1},
        "default_duration": 2,
    }
    policy = make_policy([indicator("K1", m, [{"at_least": "2/3", "points": 100}])])
    facts = [
        fact(1, "contraception", D(2023, 6, 20), contraception_method=None),  # Jun–Jul 2023
        fact(1, "contraception", D(2023, 8, 10), contraception_method="condom"),  # Aug
        fact(1, "contraception", D(2023, 10, 5), contraception_method="oral_pill"),  # Oct–Nov
        fact(1, "contraception", D(2024, 3, 1), contraception_method="IUD"),  # Mar 2024 on
    ]
    # Window July 2023 … June 2024: Jul, Aug, Oct, Nov, Mar, Apr, May, Jun → 8 / 12 = 2/3.
    out = run(policy, [person(1)], facts)
    assert (ind(out, 1, "K1")["num"], ind(out, 1, "K1")["den"]) == (8, 12)
    assert ind(out, 1, "K1")["points"] == 100


def test_events_expire_at_max_months() -> None:
    m = {"type": "events", "event_types": ["false_declaration"]}
    severities = {"general": {"points": -30, "min_months": 3, "max_months": 12}}
    policy = make_policy(
        [indicator("K1", m, [{"at_most": 0, "points": 100}])], severities=severities
    )
    facts = [
        # add_months(2023-06-30, 12) = 2024-06-30 = C: no longer active
        fact(
            1,
            "credit_event",
            D(2023, 6, 30),
            credit_event_type="false_declaration",
            severity="general",
        ),
        fact(
            1,
            "credit_event",
            D(2023, 7, 1),
            credit_event_type="false_declaration",
            severity="general",
        ),
        fact(1, "credit_event", D(2024, 1, 1), credit_event_type="data_fraud", severity="general"),
        # no rule for `serious` in this policy: never active
        fact(
            1,
            "credit_event",
            D(2024, 1, 1),
            credit_event_type="false_declaration",
            severity="serious",
        ),
    ]
    out = run(policy, [person(1), person(2)], facts)
    assert (value(out, 1, "K1"), ind(out, 1, "K1")["points"]) == (Fraction(1), 0)
    assert (value(out, 2, "K1"), ind(out, 2, "K1")["points"]) == (Fraction(0), 100)
    # Both active general events deduct, whatever their type: −30 · 2.
    assert result(out, 1)["points"] == -60 and result(out, 2)["points"] == 0


# -- 1.4 applicability ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("applies", "yes", "no"),
    [
        ({"sex": 2}, person(1, sex=2), person(1, sex=None)),
        ({"sex": 1}, person(1, sex=1), person(1, sex=2)),
        (
            {"min_age": 18},
            person(1, birth_date=D(2006, 6, 30)),
            person(1, birth_date=D(2006, 7, 1)),
        ),
        (
            {"max_age": 49},
            person(1, birth_date=D(1974, 7, 1)),
            person(1, birth_date=D(1974, 6, 30)),
        ),
        ({"min_age": 0}, person(1), person(1, birth_date=None)),
        ({"groups": ["rural", "migrant"]}, person(1, group="rural"), person(1, group="urban")),
        ({"occupations": ["F"]}, person(1, occupation="F"), person(1, occupation=None)),
    ],
)
def test_applies_on_the_person(applies: Row, yes: Row, no: Row) -> None:
    policy = make_policy([flag_indicator("K1", 100, applies=applies)])
    assert ind(run(policy, [yes]), 1, "K1")["status"] == "scored"
    assert ind(run(policy, [no]), 1, "K1")["status"] == "not_applicable"


def test_applies_on_children_and_facts() -> None:
    policy = make_policy(
        [
            flag_indicator("K1", 100, weight="0.3333", applies={"has_children": True}),
            flag_indicator("K2", 100, weight="0.3333", applies={"child_under_months": 6}),
            flag_indicator(
                "K3", 100, weight="0.3334", applies={"has_fact": ["infant_care", "contraception"]}
            ),
        ],
    )
    children = [
        # Read as 31 Dec (1.1): months_between(2023-12-31, 2024-06-30) = 5, under 6.
        child(1, 1000, D(2023, 12, 1)),
        # Read as 30 Nov: 7 months old, not under 6 (at a 30 June cut no birth month gives 6).
        child(2, 1001, D(2023, 11, 30)),
        child(3, 1002, D(2024, 7, 1)),  # born after C
    ]
    facts = [fact(1, "infant_care", CUT), fact(2, "infant_care", D(2024, 7, 1))]
    out = run(policy, [person(1), person(2), person(3)], facts, children)
    status = {(r["person_id"], r["indicator"]): r["status"] for r in out.indicators.to_pylist()}
    assert status[1, "K1"] == status[2, "K1"] == "scored"
    assert status[3, "K1"] == "not_applicable"
    assert (status[1, "K2"], status[2, "K2"], status[3, "K2"]) == ("scored",) + (
        "not_applicable",
    ) * 2
    assert (status[1, "K3"], status[2, "K3"]) == ("scored", "not_applicable")  # after C


# -- 1.3 exemption ----------------------------------------------------------------------------


def difficulty(pid: int, scope: str, day: dt.date, until: str) -> Row:
    return fact(
        pid,
        "difficulty",
        day,
        difficulty_scope=scope,
        valid_until=until,
        difficulty_reason="illness",
    )


def test_exemption_and_the_order_of_statuses() -> None:
    policy = make_policy(
        [
            flag_indicator("K1", 0, weight="0.5", exempt_by=["contraception"]),
            flag_indicator("K2", 100, weight="0.5"),
            indicator(
                "K3",
                {"type": "birth_spacing", "min_months": 1},
                [{"at_least": 0, "points": 100}],
                weight="0.5",
                dimension="other",
                exempt_by=["contraception"],
            ),
            flag_indicator(
                "K4",
                100,
                weight="0.5",
                dimension="other",
                exempt_by=["contraception"],
                applies={"sex": 1},
            ),
        ],
        dimensions=[("basic", "0.5"), ("other", "0.5")],
    )
    facts = [
        difficulty(1, "contraception", D(2024, 1, 1), "2024-06-30"),  # C ≤ valid_until
        difficulty(2, "contraception", D(2024, 1, 1), "2024-06-29"),  # expired the day before
        difficulty(3, "contraception", D(2024, 7, 1), "2024-12-31"),  # decided after C
        difficulty(4, "insurance", D(2024, 1, 1), "2024-12-31"),  # another scope
    ]
    out = run(policy, [person(p) for p in (1, 2, 3, 4)], facts)
    assert ind(out, 1, "K1")["status"] == "exempt"
    assert ind(out, 1, "K1")["points"] is None and ind(out, 1, "K1")["included"] is False
    for p in (2, 3, 4):
        assert ind(out, p, "K1")["status"] == "scored"
    # Exempt comes before "the measure is not applicable" (no children: no spacing)…
    assert ind(out, 1, "K3")["status"] == "exempt"
    assert ind(out, 2, "K3")["status"] == "not_applicable"
    # …and after "applies fails".
    assert ind(out, 1, "K4")["status"] == "not_applicable"
    # K1 is left out and the weights renormalised: basic = K2 alone = 100.
    assert dim(out, 1, "basic")["score_centi"] == 10_000
    assert dim(out, 2, "basic")["score_centi"] == 5_000
    # "other" has nothing applicable for anyone → not applicable, so the total is basic's.
    assert dim(out, 1, "other") == {
        "person_id": 1,
        "dimension": "other",
        "score_centi": None,
        "included": False,
    }
    assert result(out, 1)["total_centi"] == 10_000
    assert result(out, 2)["total_centi"] == 5_000


# -- 1.6 bonus indicators and the total -------------------------------------------------------


def _three(a: Row, b: Row, c: Row) -> Outcome:
    return run(make_policy([a, b, c]), [person(1)])


def test_bonus_included_only_when_it_raises() -> None:
    # Base A: W = 0.5, S = 30 (60 points). B (80): 80·0.5 = 40 > 30 → W 0.75, S 50.
    # C (70): 70·0.75 = 52.5 > 50 → W 1, S 67.5 → 67.50.
    a = flag_indicator("KA", 60, weight="0.5")
    b = flag_indicator("KB", 80, weight="0.25", only_raises=True)
    out = _three(a, b, flag_indicator("KC", 70, weight="0.25", only_raises=True))
    assert dim(out, 1, "basic")["score_centi"] == 6750
    assert [ind(out, 1, k)["included"] for k in ("KA", "KB", "KC")] == [True, True, True]
    # C (60): 60·0.75 = 45 ≤ 50 → left out; 100·50/0.75 = 6666.67 → 6667.
    out = _three(a, b, flag_indicator("KC", 60, weight="0.25", only_raises=True))
    assert dim(out, 1, "basic")["score_centi"] == 6667
    assert [ind(out, 1, k)["included"] for k in ("KA", "KB", "KC")] == [True, True, False]
    assert ind(out, 1, "KC")["points"] == 60  # scored, just not counted
    # A bonus equal to the base score does not raise it: 60·0.5 = 30, not > 30.
    out = _three(
        a,
        flag_indicator("KB", 60, weight="0.25", only_raises=True),
        flag_indicator("KC", 0, weight="0.25", only_raises=True),
    )
    assert dim(out, 1, "basic")["score_centi"] == 6000
    assert [ind(out, 1, k)["included"] for k in ("KA", "KB", "KC")] == [True, False, False]


def test_bonus_with_an_empty_base_and_ties_by_id() -> None:
    # No base: the best bonus is included (W = 0), K1 before K2 on a tie by id even though K2
    # comes first in the file; then K2: 80·0.4 = 32, not > 32. K3 (50) is not included.
    out = _three(
        flag_indicator("K2", 80, weight="0.3", only_raises=True),
        flag_indicator("K1", 80, weight="0.4", only_raises=True),
        flag_indicator("K3", 50, weight="0.3", only_raises=True),
    )
    assert dim(out, 1, "basic")["score_centi"] == 8000
    assert [ind(out, 1, k)["included"] for k in ("K1", "K2", "K3")] == [True, False, False]
    # Alone in the policy, the bonus dimension is the total.
    assert result(out, 1)["total_centi"] == 8000


def _two_dimensions(y_bonus_points: int, **y: Any) -> Outcome:
    policy = make_policy(
        [
            flag_indicator("KX", 50, dimension="xs"),
            flag_indicator("KY", y_bonus_points, dimension="ys", only_raises=True, **y),
        ],
        dimensions=[("xs", "0.6"), ("ys", "0.4")],
    )
    return run(policy, [person(1)])


def test_bonus_dimension_at_the_total_level() -> None:
    # y holds only a bonus indicator, so it is a bonus dimension. D_y = 80: 80·0.6 = 48 > 30
    # → total (0.6·50 + 0.4·80) / 1 = 62.00.
    out = _two_dimensions(80)
    assert result(out, 1)["total_centi"] == 6200
    assert dim(out, 1, "ys") == {
        "person_id": 1,
        "dimension": "ys",
        "score_centi": 8000,
        "included": True,
    }
    # D_y = 40: 40·0.6 = 24 ≤ 30 → left out; total = x = 50.00.
    out = _two_dimensions(40)
    assert result(out, 1)["total_centi"] == 5000
    assert dim(out, 1, "ys")["score_centi"] == 4000 and dim(out, 1, "ys")["included"] is False


def test_dimension_with_a_base_indicator_always_counts() -> None:
    # z: base 0 and bonus 20 (0.5 each): the bonus raises 0 → D_z = 10.00. z has a base
    # indicator, so it counts even though it lowers the total: 0.6·50 + 0.4·10 = 34.00.
    policy = make_policy(
        [
            flag_indicator("KX", 50, dimension="xs"),
            flag_indicator("KZ", 0, dimension="zs", weight="0.5"),
            flag_indicator("KW", 20, dimension="zs", weight="0.5", only_raises=True),
        ],
        dimensions=[("xs", "0.6"), ("zs", "0.4")],
    )
    out = run(policy, [person(1)])
    assert dim(out, 1, "zs")["score_centi"] == 1000
    assert result(out, 1)["total_centi"] == 3400
    assert result(out, 1)["grade"] == "D"


def test_no_applicable_dimension_no_total_no_grade() -> None:
    policy = make_policy([flag_indicator("K1", 100, applies={"sex": 1})], points={"initial": 7})
    out = run(policy, [person(1, sex=2)], [], [child(1, 1000, D(2020, 1, 1))])
    assert result(out, 1) == {"person_id": 1, "total_centi": None, "grade": None, "points": 7}


# -- rounding: half up at .005 ----------------------------------------------------------------


@pytest.mark.parametrize(("weight", "centi"), [("0.4985", 499), ("0.4984", 498), ("0.0005", 1)])
def test_dimension_rounds_half_up(weight: str, centi: int) -> None:
    # 100 · (w · 10 + (1 − w) · 0) = 498.5 → 499 (half up, not to even); 498.4 → 498.
    rest = f"0.{10_000 - int(weight[2:]):04d}"
    policy = make_policy(
        [
            flag_indicator("K1", 10, weight=weight),
            flag_indicator("K2", 10, field="phone_known", weight=rest),
        ]
    )
    out = run(policy, [person(1, phone_known=False)])
    assert dim(out, 1, "basic")["score_centi"] == centi
    assert result(out, 1)["total_centi"] == centi


def test_total_rounds_half_up_and_cutoff_hit_exactly() -> None:
    # Dimensions x = 10.00 (weight 0.4985) and y = 0.00 (0.5015): total 4.985 → 4.99.
    policy = make_policy(
        [flag_indicator("KX", 10, dimension="xs"), flag_indicator("KY", 0, dimension="ys")],
        dimensions=[("xs", "0.4985"), ("ys", "0.5015")],
        grades={"cutoffs": {"A": "4.99", "B": "4.98"}, "lowest": "D"},
    )
    out = run(policy, [person(1)])
    assert result(out, 1)["total_centi"] == 499
    assert result(out, 1)["grade"] == "A"  # exactly at the cut-off
    # Thirds: 0.3333·100 + 0.3333·100 + 0.3334·0 = 66.66 → cut-off 66.66 is B, 66.67 is A.
    policy = make_policy(
        [
            flag_indicator("K1", 100, weight="0.3333"),
            flag_indicator("K2", 100, weight="0.3333"),
            flag_indicator("K3", 100, field="phone_known", weight="0.3334"),
        ],
        grades={"cutoffs": {"A": "66.67", "B": "66.66"}, "lowest": "D"},
    )
    out = run(policy, [person(1, phone_known=False)])
    assert result(out, 1)["total_centi"] == 6666
    assert result(out, 1)["grade"] == "B"


# -- regional coefficients --------------------------------------------------------------------


def _contraception_policy(window: int, coefficient: str, bands: list[Row]) -> Policy:
    m = {"type": "coverage", "kind": "contraception", "window_months": window}
    return make_policy(
        [indicator("K1", m, bands, regional=True)],
        coefficients={"urban": "1", "rural": coefficient},
    )


def _monthly(pid: int, months: int) -> list[Row]:
    """One contraception fact a month (covering that month), from the window's first month."""
    return [fact(pid, "contraception", add_months(D(2023, 7, 1), i)) for i in range(months)]


def test_regional_coefficient_lowers_at_least_for_rural() -> None:
    # Window 12 (Jul 2023 … Jun 2024), 10 months covered: 10/12 = 0.833. "at least 0.90"
    # becomes 0.81 for rural (0.9): rural 100 points, urban 0.
    policy = _contraception_policy(12, "0.9", [{"at_least": "0.9", "points": 100}])
    persons = [person(1, group="rural"), person(2, group="urban"), person(3, group="migrant")]
    facts = _monthly(1, 10) + _monthly(2, 10) + _monthly(3, 10)
    out = run(policy, persons, facts)
    assert value(out, 1, "K1") == value(out, 2, "K1") == Fraction(10, 12)
    assert ind(out, 1, "K1")["points"] == 100
    assert ind(out, 2, "K1")["points"] == 0
    assert ind(out, 3, "K1")["points"] == 0  # no coefficient for migrant: 1


def test_regional_coefficient_is_exact() -> None:
    # 0.9 · 2/3 = 3/5 exactly (in floats 0.6000000000000001): 6 of 10 months reach it.
    # at_most is not scaled: 5/10 ≤ 0.5 for everyone.
    bands = [{"at_least": "0.9", "points": 100}, {"at_most": "0.5", "points": 50}]
    policy = _contraception_policy(10, "2/3", bands)
    cut = D(2024, 4, 30)  # window July 2023 … April 2024
    persons = [person(1, group="rural"), person(2, group="rural"), person(3, group="urban")]
    out = run(policy, persons, _monthly(1, 6) + _monthly(2, 5) + _monthly(3, 5), cut=cut)
    assert value(out, 1, "K1") == Fraction(3, 5)
    assert ind(out, 1, "K1")["points"] == 100
    assert ind(out, 2, "K1")["points"] == 50
    assert ind(out, 3, "K1")["points"] == 50


# -- 1.7 grades, caps and points --------------------------------------------------------------


SEVERITIES = {
    "minor": {"points": -10, "min_months": 0, "max_months": 3},
    "general": {"points": -30, "min_months": 3, "max_months": 12},
    "serious": {"points": -60, "min_months": 12, "max_months": 36},
}


def event(pid: int, severity: str, day: dt.date) -> Row:
    return fact(pid, "credit_event", day, credit_event_type="false_declaration", severity=severity)


def test_severity_caps_until_exactly_max_months() -> None:
    policy = make_policy(
        [flag_indicator("K1", 100)],
        severities=SEVERITIES,
        grades={
            "cutoffs": {"A": 85, "B": 70, "C": 60},
            "lowest": "D",
            "caps": {"general": "B", "serious": "C"},
        },
    )
    cut = D(2024, 2, 29)
    facts = [
        event(1, "serious", D(2021, 2, 28)),  # + 36 months = 2024-02-28 < C: expired
        event(2, "serious", D(2021, 3, 1)),  # 2024-03-01: active → C
        event(3, "general", D(2023, 2, 28)),  # 2024-02-28: expired
        event(4, "general", D(2023, 3, 1)),  # active → B
        event(5, "minor", D(2024, 1, 1)),  # active, no cap
        event(6, "minor", D(2023, 11, 30)),  # + 3 months = 2024-02-29 (clamped) = C: expired
        event(7, "general", D(2023, 3, 1)),
        event(7, "serious", D(2023, 3, 1)),  # the stricter cap wins → C
        event(8, "general", D(2023, 3, 1)),  # already D: a cap never raises
    ]
    persons = [person(p) for p in range(1, 8)] + [person(8, id_valid=False)]
    out = run(policy, persons, facts, cut=cut)
    grades = {r["person_id"]: r["grade"] for r in out.results.to_pylist()}
    assert grades == {1: "A", 2: "C", 3: "A", 4: "B", 5: "A", 6: "A", 7: "C", 8: "D"}
    balance = {r["person_id"]: r["points"] for r in out.results.to_pylist()}
    assert balance == {1: 0, 2: -60, 3: 0, 4: -30, 5: -10, 6: 0, 7: -90, 8: -30}
    assert result(out, 2)["total_centi"] == 10_000  # events cap the grade, not the total


def test_points_balance() -> None:
    rules = [
        {"kind": "vaccination", "of": "children", "points": 2, "cap": 10},
        {"kind": "prenatal_check", "points": 5},
    ]
    policy = make_policy(
        [flag_indicator("K1", 100)],
        points={"initial": 100, "rules": rules},
        severities=SEVERITIES,
    )
    children = [child(1, 1000, D(2023, 1, 1)), child(2, 1001, D(2024, 8, 1))]
    facts = [
        *[fact(1000, "vaccination", D(2023, 2, d), vaccine="HepB") for d in range(1, 7)],
        fact(1000, "vaccination", D(2024, 7, 1), vaccine="HepB"),  # after C
        fact(1, "prenatal_check", D(2022, 6, 1)),
        fact(1, "prenatal_check", D(2022, 8, 1)),
        event(1, "general", D(2024, 1, 1)),
        fact(1001, "vaccination", D(2024, 6, 1), vaccine="HepB"),
        fact(2, "prenatal_check", D(2024, 5, 1)),
    ]
    out = run(policy, [person(1), person(2)], facts, children)
    # 1: initial 100 (a child) + min(6·2, 10) + 2·5 − 30 = 90.
    assert result(out, 1)["points"] == 90
    # 2: the only child is born after C: no initial points, no children's facts; + 5.
    assert result(out, 2)["points"] == 5


# -- the shape of the outcome -----------------------------------------------------------------


def test_rows_sorted_and_nulls_unless_scored() -> None:
    policy = make_policy(
        [
            flag_indicator("K2", 100, dimension="zeta"),
            flag_indicator("K1", 100, dimension="alpha", applies={"sex": 1}),
        ],
        dimensions=[("zeta", "0.5"), ("alpha", "0.5")],
    )
    out = run(policy, [person(2), person(1)])
    assert out.results.column("person_id").to_pylist() == [1, 2]
    keys = [(r["person_id"], r["dimension"]) for r in out.dimensions.to_pylist()]
    assert keys == [(1, "alpha"), (1, "zeta"), (2, "alpha"), (2, "zeta")]
    keys = [(r["person_id"], r["indicator"]) for r in out.indicators.to_pylist()]
    assert keys == [(1, "K1"), (1, "K2"), (2, "K1"), (2, "K2")]
    assert ind(out, 1, "K1") == {
        "person_id": 1,
        "indicator": "K1",
        "status": "not_applicable",
        "num": None,
        "den": None,
        "points": None,
        "included": False,
    }
    assert dim(out, 1, "alpha")["score_centi"] is None
    assert result(out, 1)["total_centi"] == 10_000
