"""Hypothesis strategies: random valid policies and random small frames for them.

`policies()` draws policies that pass both Pydantic and `policy.check`, exercising every measure
type and option of docs/policy.md §1. `frames(policy)` draws a small population with children
and facts whose dates and attribute values sit on the boundaries those options care about
(windows, month ends, expiries, the values the policy filters on and values it does not).
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
from collections.abc import Callable, Sequence
from fractions import Fraction
from itertools import pairwise
from typing import Any, TypeVar

import pyarrow as pa
from hypothesis import strategies as st

from fpcredit.evaluate.frame import Frame
from fpcredit.evaluate.policy_checks import check
from fpcredit.evaluate.policy_model import (
    FLAGS,
    GROUPS,
    SCOPES,
    CountMeasure,
    CoverageMeasure,
    EventsMeasure,
    Policy,
    ScheduleMeasure,
    TimelinessMeasure,
)
from fpcredit.evaluate.reference import add_months
from fpcredit.standard.elements import load_standard

__all__ = [
    "HEALTH_KINDS",
    "cut_dates",
    "facts_about",
    "frames",
    "moved_births",
    "on_day",
    "person_context",
    "policies",
    "policy_values",
]

T = TypeVar("T")
Draw = Callable[[st.SearchStrategy[Any]], Any]
Row = dict[str, Any]


@functools.cache
def _one(options: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    return st.sampled_from(options)


def one(options: Sequence[T]) -> st.SearchStrategy[T]:
    """`sampled_from`, built once per option list: Hypothesis is slow to build strategies."""
    try:
        return _one(tuple(options))
    except TypeError:  # unhashable options
        return st.sampled_from(options)


@functools.cache
def ints(lo: int, hi: int) -> st.SearchStrategy[int]:
    return st.integers(lo, hi)


@functools.cache
def _some(options: tuple[Any, ...], lo: int, hi: int | None) -> st.SearchStrategy[list[Any]]:
    return st.lists(st.sampled_from(options), min_size=lo, max_size=hi, unique=True)


def some(options: Sequence[T], lo: int = 0, hi: int | None = None) -> st.SearchStrategy[list[T]]:
    """Distinct elements of `options` (lo to hi of them)."""
    return _some(tuple(options), lo, hi)


BOOL = st.booleans()
BAND_POINTS = st.sampled_from([0, 20, 40, 50, 60, 75, 80, 100]) | st.integers(0, 100)
VALID_DAYS = st.sampled_from([-1, 0, 1]) | st.integers(-40, 40)
DELAYS = st.sampled_from([0, 30, 90, 365]) | st.integers(0, 400)
DAYS_BACK = st.sampled_from([0, 1, 30]) | st.integers(0, 1500)

STANDARD = load_standard()
DATASETS = STANDARD.datasets
HEALTH_KINDS = (
    "vaccination",
    "child_health_check",
    "prenatal_check",
    "postnatal_check",
    "contraception",
    "infant_care",
)
# Kinds a count or a points rule may read (those of the standard present in this version).
COUNT_KINDS = tuple(
    k
    for k in (*HEALTH_KINDS, "birth_registration", "subsidy_grant", "maternity_insurance_payment")
    if k in DATASETS
)
HAS_EVENTS = "credit_event" in DATASETS
HAS_DIFFICULTY = "difficulty" in DATASETS
SEVERITIES = ("minor", "general", "serious")
# Awkward exact thresholds, as a policy file would write them.
RATE_THRESHOLDS = ("0", "1/3", "0.5", "2/3", "0.75", "0.8", "0.81", "0.9", "0.95", "1")
COUNT_THRESHOLDS = ("0", "1/2", "1", "2", "5/2", "3", "4")
SPACING_THRESHOLDS = ("0", "12", "18", "23.5", "24", "36")
COEFFICIENTS = ("0.9", "2/3", "0.8", "1", "0.75")
# Cut-offs that weighted points totals hit exactly (multiples of 5, thirds) and odd ones.
CUTOFFS = ("100", "90", "85", "80", "75", "70", "66.67", "60", "50", "33.33", "0", "45.5")
CUTOFF_LISTS = st.lists(
    st.sampled_from(CUTOFFS) | st.integers(0, 10_000).map(lambda c: f"{c // 100}.{c % 100:02d}"),
    min_size=1,
    max_size=3,
    unique_by=Fraction,
)
OCCUPATIONS = ("F", "1", "2", "S", "N")
SMALL_INTS = ("1", "2", "3", "4")


def _codes(attr: str) -> list[str]:
    element = STANDARD.elements.get(attr)
    if element is None:
        return ["x", "y"]
    if element.code_table:
        return list(STANDARD.codes_of(element))
    if element.type == "integer":
        return list(SMALL_INTS)
    if element.type == "region":
        return ["110105", "330106"]
    return ["x", "y"]


def _filterable(kind: str) -> list[str]:
    """Fields of a data set a `where` may sensibly filter on (codes and small integers)."""
    out = []
    for name in DATASETS[kind].fields:
        element = STANDARD.elements.get(name)
        if element is not None and (element.code_table or element.type == "integer"):
            out.append(name)
    return out


def _fraction_text(units: int, scale: int) -> str:
    """An exact decimal written as a policy file would: 2500 / 10000 → '0.2500'."""
    digits = len(str(scale)) - 1
    return f"{units // scale}.{units % scale:0{digits}d}"


@functools.cache
def _cuts(n: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(1, 9999), min_size=n, max_size=n, unique=True)


def _partition(draw: Draw, n: int) -> list[str]:
    """n positive weights in ten-thousandths summing to exactly 1."""
    cuts = sorted(draw(_cuts(n - 1)))
    bounds = [0, *cuts, 10_000]
    return [_fraction_text(b - a, 10_000) for a, b in pairwise(bounds)]


def _where(draw: Draw, kinds: Sequence[str]) -> dict[str, list[str]]:
    common = set(_filterable(kinds[0]))
    for kind in kinds[1:]:
        common &= set(_filterable(kind))
    attrs = sorted(common)
    if not attrs or draw(BOOL):
        return {}
    chosen = draw(some(attrs, 1, 2))
    where = {}
    for attr in chosen:
        values = draw(some(_codes(attr), 1, 2))
        where[attr] = sorted(values)
    return where


def _flag(draw: Draw) -> Row:
    return {"type": "flag", "field": draw(one(FLAGS))}


def _count(draw: Draw) -> Row:
    kinds = draw(some(COUNT_KINDS, 1, 2))
    measure: Row = {
        "type": "count",
        "kinds": kinds,
        "where": _where(draw, kinds),
        "of": draw(one(["self", "children"])),
    }
    window = draw(one([None, 1, 3, 12, 24, 36]))
    if window is not None:
        measure["window_months"] = window
    return measure


SCHEDULE_WHERES: dict[str, list[dict[str, list[str]]]] = {
    "vaccination": [{}, {"vaccine": ["HepB"]}, {"vaccine": ["DTaP", "DT"]}],
    "child_health_check": [{}, {"check_sequence": ["1"]}],
}


@functools.cache
def _items(kind: str) -> st.SearchStrategy[list[Row]]:
    item = st.fixed_dictionaries(
        {
            "due_months": st.sampled_from([0, 1, 2, 3, 6, 8, 12, 18, 24]),
            "where": st.sampled_from(SCHEDULE_WHERES[kind]),
        }
    )
    return st.lists(item, min_size=1, max_size=5)


def _schedule(draw: Draw) -> Row:
    kind = draw(one(sorted(SCHEDULE_WHERES)))
    return {
        "type": "schedule",
        "kind": kind,
        "items": draw(_items(kind)),
        "grace_months": draw(one([0, 0, 1, 3])),
    }


def _timeliness(draw: Draw) -> Row:
    measure: Row = {
        "type": "registration_timeliness",
        "within_days": draw(one([0, 30, 90, 365])),
    }
    window = draw(one([None, 1, 12, 36]))
    if window is not None:
        measure["window_months"] = window
    return measure


def _spacing(draw: Draw) -> Row:
    return {"type": "birth_spacing", "min_months": draw(st.sampled_from([1, 12, 18, 24, 36]))}


def _coverage(draw: Draw) -> Row:
    measure: Row = {
        "type": "coverage",
        "window_months": draw(one([1, 3, 6, 12, 24])),
        "since_first": draw(BOOL),
        "buffer": draw(BOOL),
    }
    if "until_last" in CoverageMeasure.model_fields:
        measure["until_last"] = draw(BOOL)
    periodic = [k for k in ("maternity_insurance_payment", "subsidy_grant") if k in DATASETS]
    if periodic and draw(BOOL):
        kind = draw(one(periodic))
        measure |= {"kind": kind, "month_from": "period", "where": _where(draw, [kind])}
        return measure
    kind = draw(one(["contraception", "infant_care"]))
    measure |= {"kind": kind, "month_from": "event_date", "where": _where(draw, [kind])}
    measure["default_duration"] = draw(one([0, 1, 1, 3, 12]))
    if kind == "contraception" and draw(BOOL):
        codes = _codes("contraception_method")
        listed = draw(some(codes, 0, 4))
        measure["duration_attr"] = "contraception_method"
        measure["durations"] = {c: draw(one([0, 1, 2, 3, 12, 36])) for c in listed}
    return measure


def _events(draw: Draw) -> Row:
    types = _codes("credit_event_type")
    return {
        "type": "events",
        "event_types": draw(some(types, 1, None)),
    }


MEASURES: dict[str, Callable[[Draw], Row]] = {
    "flag": _flag,
    "count": _count,
    "schedule": _schedule,
    "registration_timeliness": _timeliness,
    "birth_spacing": _spacing,
    "coverage": _coverage,
}
if HAS_EVENTS:
    MEASURES["events"] = _events
THRESHOLDS = {
    "flag": RATE_THRESHOLDS,
    "schedule": RATE_THRESHOLDS,
    "registration_timeliness": RATE_THRESHOLDS,
    "coverage": RATE_THRESHOLDS,
    "count": COUNT_THRESHOLDS,
    "events": COUNT_THRESHOLDS,
    "birth_spacing": COUNT_THRESHOLDS,
}


@st.composite
def _band(draw: Draw, thresholds: Sequence[str]) -> Row:
    band: Row = {"points": draw(BAND_POINTS)}
    shape = draw(one(["at_least", "at_most", "both"]))
    if shape in ("at_least", "both"):
        band["at_least"] = draw(one(thresholds))
    if shape in ("at_most", "both"):
        band["at_most"] = draw(one(thresholds))
    return band


@functools.cache
def _bands(thresholds: tuple[str, ...]) -> st.SearchStrategy[list[Row]]:
    return st.lists(_band(thresholds), min_size=1, max_size=3)


def _applies(draw: Draw) -> Row:
    """Mostly none; otherwise a few conditions (each one fails for some persons)."""
    applies: Row = {}
    if draw(ints(0, 2)) > 0:
        return applies
    conditions: dict[str, st.SearchStrategy[Any]] = {
        "sex": one([1, 2]),
        "min_age": one([15, 18, 20, 30]),
        "max_age": one([35, 49, 60]),
        "groups": some(GROUPS, 1, None),
        "occupations": some(OCCUPATIONS, 1, None),
        "has_children": st.just(True),  # only `true` is defined by docs/policy.md §1.4
        "child_under_months": one([6, 12, 36, 72]),
        "has_fact": some(COUNT_KINDS, 1, 2),
    }
    for name in draw(some(sorted(conditions), 1, 2)):
        applies[name] = draw(conditions[name])
    return applies


def _text(label: str) -> Row:
    return {"zh": label, "en": label}


def _indicator(draw: Draw, ident: str, dimension: str, weight: str) -> Row:
    kind = draw(one(sorted(MEASURES)))
    thresholds = THRESHOLDS[kind]
    indicator: Row = {
        "id": ident,
        "name": _text(ident),
        "dimension": dimension,
        "weight": weight,
        "rationale": _text("test"),
        "measure": MEASURES[kind](draw),
        "scoring": {
            "bands": draw(_bands(thresholds)),
            "otherwise": draw(one([0, 0, 10, 30])),
        },
        "applies": _applies(draw),
        "only_raises": draw(BOOL),
        "regional": draw(BOOL),
    }
    if HAS_DIFFICULTY and draw(BOOL):
        indicator["exempt_by"] = draw(some(SCOPES, 1, 2))
    return indicator


def _severities(draw: Draw) -> dict[str, Row]:
    ranges = {"minor": (0, 3), "general": (3, 12), "serious": (12, 36)}
    chosen = draw(some(SEVERITIES, 1, None))
    out = {}
    for sev in sorted(chosen):
        lo, hi = ranges[sev]
        max_months = draw(ints(max(lo, 1), hi))
        out[sev] = {
            "points": draw(one([0, -5, -20, -50])),
            "min_months": draw(ints(0, max_months)),
            "max_months": max_months,
        }
    return out


def _grades(draw: Draw, severities: Sequence[str]) -> Row:
    values = draw(CUTOFF_LISTS)
    names = ["A", "B", "C"][: len(values)]
    ordered = sorted(values, key=Fraction, reverse=True)
    grades: Row = {"cutoffs": dict(zip(names, ordered, strict=True)), "lowest": "D"}
    capped = draw(some(list(severities), 0, None)) if severities else []
    grades["caps"] = {sev: draw(one([*names, "D"])) for sev in capped}
    return grades


def _points(draw: Draw) -> Row:
    rules = []
    for _ in range(draw(ints(0, 3))):
        kind = draw(one(COUNT_KINDS))
        rule: Row = {
            "kind": kind,
            "where": _where(draw, [kind]),
            "of": draw(one(["self", "children"])),
            "points": draw(one([-10, -1, 1, 2, 5, 20])),
        }
        # Only positive rules get a cap: "limited to cap" is read as a bound on size, which
        # docs/policy.md does not spell out for negative points.
        if rule["points"] > 0 and draw(BOOL):
            rule["cap"] = draw(one([0, 5, 10, 40]))
        rules.append(rule)
    return {"initial": draw(one([0, 0, 10, 100])), "rules": rules}


@st.composite
def policies(draw: Draw) -> Policy:
    """A random valid policy (Pydantic and `policy.check` both accept it)."""
    pool = ["basic", "fertility", "service", "regional_diff"]
    n_dims = draw(ints(1, 4))
    dims = draw(st.permutations(pool))[:n_dims]
    dim_weights = _partition(draw, n_dims)
    indicators = []
    for d, dim in enumerate(dims):
        n = draw(ints(1, 6))
        # Ids out of file order, so "ties by indicator id" differs from "by position".
        order = draw(st.permutations(range(n)))
        for j, weight in enumerate(_partition(draw, n)):
            indicators.append(_indicator(draw, f"K{d}{order[j]}", dim, weight))
    uses_events = any(i["measure"]["type"] == "events" for i in indicators)
    severities = _severities(draw) if HAS_EVENTS and (uses_events or draw(BOOL)) else {}
    groups = draw(some(GROUPS, 0, None))
    raw: Row = {
        "id": "test-policy",
        "version": "1.0.0",
        "effective": "2020-01-01",
        "title": _text("test"),
        "population": {"min_age": draw(one([0, 14, 18]))},
        "dimensions": [
            {"id": d, "name": _text(d), "weight": w} for d, w in zip(dims, dim_weights, strict=True)
        ],
        "indicators": indicators,
        "coefficients": {g: draw(one(COEFFICIENTS)) for g in groups},
        "buffer": {
            "occupations": draw(some(OCCUPATIONS, 0, 2)),
            "months_after_birth": draw(one([0, 1, 3, 6])),
        },
        "severities": severities,
        "points": _points(draw),
        "grades": _grades(draw, sorted(severities)),
    }
    policy = Policy.model_validate(raw)
    problems = check(policy)
    assert problems == [], problems
    return policy


# -- frames -----------------------------------------------------------------------------------


def policy_values(policy: Policy) -> dict[str, set[str]]:
    """Every attribute value the policy mentions, by attribute."""
    found: dict[str, set[str]] = {}

    def add(where: dict[str, list[str]]) -> None:
        for attr, values in where.items():
            found.setdefault(attr, set()).update(values)

    for ind in policy.indicators:
        m = ind.measure
        add(getattr(m, "where", {}))
        if isinstance(m, ScheduleMeasure):
            for item in m.items:
                add(item.where)
        if isinstance(m, CoverageMeasure) and m.duration_attr:
            found.setdefault(m.duration_attr, set()).update(m.durations)
        if isinstance(m, EventsMeasure):
            found.setdefault("credit_event_type", set()).update(m.event_types)
    for rule in policy.points.rules:
        add(rule.where)
    return found


def _kinds_used(policy: Policy) -> list[str]:
    kinds: set[str] = set()
    for ind in policy.indicators:
        m = ind.measure
        if isinstance(m, CountMeasure):
            kinds |= set(m.kinds)
        elif isinstance(m, ScheduleMeasure | CoverageMeasure):
            kinds.add(m.kind)
        kinds |= set(ind.applies.has_fact or [])
    kinds |= {r.kind for r in policy.points.rules}
    kinds |= {k for k in ("credit_event", "difficulty") if k in DATASETS}
    kinds.add("infant_care")  # one kind most policies do not read, so some facts miss
    return sorted(kinds)


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def cut_dates() -> st.SearchStrategy[dt.date]:
    """Cut dates with a bias towards month ends, 29 February and 31 January."""
    special = [
        dt.date(2024, 2, 29),
        dt.date(2024, 1, 31),
        dt.date(2023, 2, 28),
        dt.date(2024, 3, 31),
        dt.date(2024, 12, 31),
        dt.date(2025, 6, 30),
        dt.date(2024, 3, 1),
    ]
    return one(special) | st.dates(dt.date(2021, 1, 1), dt.date(2026, 12, 31))


def _special_dates(policy: Policy, cut: dt.date) -> list[dt.date]:
    """Event dates that sit on the boundaries the policy cares about."""
    months = {1, 3, 12}
    for ind in policy.indicators:
        m = ind.measure
        if isinstance(m, CountMeasure | TimelinessMeasure) and m.window_months:
            months.add(m.window_months)
        if isinstance(m, CoverageMeasure):
            months.add(m.window_months)
    months |= {rule.max_months for rule in policy.severities.values()}
    out = {cut, cut + dt.timedelta(days=1)}
    for n in months:
        edge = add_months(cut, -n)
        out |= {edge, edge + dt.timedelta(days=1), edge - dt.timedelta(days=1)}
    for back in range(0, 4):
        first = add_months(cut.replace(day=1), -back)
        out |= {first, _month_end(first.year, first.month)}
    return sorted(out)


class _Builder:
    """Accumulates one frame's rows while strategies are drawn."""

    def __init__(self, policy: Policy, cut: dt.date, draw: Draw) -> None:
        self.policy = policy
        self.cut = cut
        self.draw = draw
        self.attributes = policy.attributes()
        self.values = policy_values(policy)
        self.special = _special_dates(policy, cut)
        self.facts: list[Row] = []

    def date_near(self, anchor: dt.date, back: int, ahead: int = 0) -> dt.date:
        draw = self.draw
        if draw(ints(0, 2)) == 0:
            return draw(one(self.special))  # type: ignore[no-any-return]
        return anchor + dt.timedelta(days=draw(ints(-back, ahead)))

    def value(self, attr: str, kind: str) -> str | None:
        draw = self.draw
        if attr not in DATASETS[kind].fields:
            return None
        if attr == "period":
            month = add_months(self.cut, draw(ints(-30, 2)))
            form = draw(one(["%Y-%m", "%Y%m", "%Y-%m-%d", "%Y-%m", "none"]))
            return None if form == "none" else month.strftime(form)
        if attr == "valid_until":
            days = draw(VALID_DAYS)
            return (self.cut + dt.timedelta(days=days)).isoformat()
        pool = sorted(self.values.get(attr, set()) | set(_codes(attr)))
        return draw(one([*pool, None]))  # type: ignore[no-any-return]

    def fact(self, owner: int, kind: str, event_date: dt.date | None = None) -> None:
        when = event_date or self.date_near(self.cut, 1500, 20)
        row: Row = {
            "fact_id": len(self.facts) + 1,
            "person_id": owner,
            "kind": kind,
            "event_date": when,
            "recorded_at": dt.datetime.combine(when, dt.time(9)) + dt.timedelta(days=2),
        }
        for attr in self.attributes:
            row[attr] = self.value(attr, kind)
        if kind == "credit_event" and row.get("severity") is None:
            row["severity"] = self.draw(one(SEVERITIES))
        if kind == "difficulty" and row.get("valid_until") is None:
            row["valid_until"] = self.cut.isoformat()
        self.facts.append(row)


def _person(draw: Draw, pid: int, cut: dt.date, policy: Policy) -> Row:
    birth: dt.date | None = None
    if draw(ints(0, 6)) > 0:
        years = draw(ints(0, 60))
        birth = add_months(cut, -12 * years)
        if years == policy.population.min_age and draw(BOOL):
            # The birthday edge: by the day, and by the month births are read by (§1.1).
            first, last = birth.replace(day=1), _month_end(birth.year, birth.month)
            birth = draw(one([birth, birth + dt.timedelta(days=1), first, last]))
        else:
            birth -= dt.timedelta(days=draw(ints(0, 364)))
    row: Row = {
        "person_id": pid,
        "sex": draw(one([1, 2, 2, None])),
        "birth_date": birth,
        "group": draw(one(GROUPS)),
        "occupation": draw(one([*OCCUPATIONS, None])),
    }
    for flag in FLAGS:
        row[flag] = draw(one([True, True, False, None]))
    return row


def _child_birth(draw: Draw, cut: dt.date, policy: Policy) -> dt.date:
    due = [0, 6, 12, 24]
    for ind in policy.indicators:
        if isinstance(ind.measure, ScheduleMeasure):
            due += [i.due_months + ind.measure.grace_months for i in ind.measure.items]
        if isinstance(ind.measure, TimelinessMeasure) and ind.measure.window_months:
            due.append(ind.measure.window_months)  # a birth at the edge of the window
    choice = draw(ints(0, 4))
    if choice == 0:
        return add_months(cut, -draw(one(due)))  # exactly due at the cut
    if choice == 1:
        return cut + dt.timedelta(days=draw(ints(1, 90)))  # born after the cut
    if choice == 2:
        # Births are read by the month (docs/policy.md §1.1): the first or last day of the
        # month a due age, or the cut itself, falls in.
        month = add_months(cut, -draw(one([0, *due])))
        last = _month_end(month.year, month.month)
        return draw(one([month.replace(day=1), last]))
    return cut - dt.timedelta(days=draw(ints(0, 3650)))


@st.composite
def frames(draw: Draw, policy: Policy) -> tuple[Frame, dt.date]:
    """A random small population, its children and facts for `policy`, and the cut date."""
    cut: dt.date = draw(cut_dates())
    b = _Builder(policy, cut, draw)
    n = draw(ints(1, 8))
    persons = [_person(draw, pid, cut, policy) for pid in range(1, n + 1)]
    births: dict[int, dt.date] = {}
    children: list[Row] = []
    next_child = 1000
    for parent in persons:
        mine: list[dt.date] = []
        for _ in range(draw(one([0, 1, 1, 2, 2, 3]))):
            others = [p for p in persons if p["person_id"] != parent["person_id"]]
            if others and draw(ints(0, 4)) == 0:
                child = draw(one(others))["person_id"]  # a child who is a person
            elif births and draw(ints(0, 3)) == 0:
                child = draw(one(sorted(births)))  # shared with another parent
            else:
                child, next_child = next_child, next_child + 1
            if any(
                c["parent_id"] == parent["person_id"] and c["child_id"] == child for c in children
            ):
                continue
            if child not in births and child < 1000:
                known = persons[child - 1]["birth_date"]
                if known is not None:
                    births[child] = known
            if child not in births:
                twin = mine and draw(ints(0, 3)) == 0
                births[child] = draw(one(mine)) if twin else _child_birth(draw, cut, policy)
            born = births[child]
            mine.append(born)
            delay = draw(DELAYS)
            delay += draw(one([0, 0, 1]))
            # Timeliness counts from the end of the birth month (§1.1): both anchors' edges.
            anchor = draw(one([born, _month_end(born.year, born.month)]))
            registered = dt.datetime.combine(anchor, dt.time(draw(one([0, 12, 23]))))
            children.append(
                {
                    "parent_id": parent["person_id"],
                    "child_id": child,
                    "birth_date": born,
                    "registered_at": registered + dt.timedelta(days=delay),
                }
            )
    kinds = _kinds_used(policy)
    owners = [p["person_id"] for p in persons] + sorted(c for c in births if c >= 1000)
    for owner in owners:
        for _ in range(draw(ints(0, 6))):
            kind = draw(one(kinds))
            when = None
            if owner in births and draw(BOOL):
                # A child's facts near the ages a schedule asks about.
                when = add_months(births[owner], draw(ints(0, 30)))
            b.fact(owner, kind, when)
    frame = Frame.from_rows(persons, b.facts, children, attributes=b.attributes)
    return frame, cut


@st.composite
def facts_about(
    draw: Draw, policy: Policy, cut: dt.date, owner: int, kinds: Sequence[str], first_id: int
) -> list[Row]:
    """One to three more facts of `kinds` about `owner`, dated on or before the cut."""
    b = _Builder(policy, cut, draw)
    for _ in range(draw(ints(1, 3))):
        kind = draw(one(kinds))
        when = cut - dt.timedelta(days=draw(DAYS_BACK))
        b.fact(owner, kind, when)
    return [row | {"fact_id": first_id + i} for i, row in enumerate(b.facts)]


def on_day(day: dt.date | None, pick: Callable[[int], int]) -> dt.date | None:
    """`day` moved within its month to day `pick(days in the month)`."""
    if day is None:
        return None
    return day.replace(day=pick(calendar.monthrange(day.year, day.month)[1]))


def moved_births(frame: Frame, pick: Callable[[dt.date | None], dt.date | None]) -> Frame:
    """The frame with every birth date (persons' and children's) replaced by `pick(it)`."""
    persons = [r | {"birth_date": pick(r["birth_date"])} for r in frame.persons.to_pylist()]
    children = [r | {"birth_date": pick(r["birth_date"])} for r in frame.children.to_pylist()]
    return Frame(
        pa.Table.from_pylist(persons, schema=frame.persons.schema),
        frame.facts,
        pa.Table.from_pylist(children, schema=frame.children.schema),
    )


def person_context(frame: Frame, person_id: int) -> str:
    """The frame rows about one person: what a reader needs to replay a mismatch."""
    persons = [r for r in frame.persons.to_pylist() if r["person_id"] == person_id]
    children = [r for r in frame.children.to_pylist() if r["parent_id"] == person_id]
    owners = {person_id} | {r["child_id"] for r in children}
    facts = [
        {k: v for k, v in r.items() if v is not None}
        for r in frame.facts.to_pylist()
        if r["person_id"] in owners
    ]
    lines = [f"  person: {persons}", f"  children: {children}", "  facts:"]
    lines += [f"    {f}" for f in facts]
    return "\n".join(lines)
