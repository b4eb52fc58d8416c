"""The reference evaluator: docs/policy.md §1 written out plainly, one person at a time.

This is the oracle the SQL engine is held to. It is deliberately slow and obvious: loops over
persons, indicators and months, exact arithmetic only (int and Fraction, never float). Every
rule below cites the paragraph of docs/policy.md it implements. Readings of sentences the
document leaves open are marked "Reading:".
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import pairwise
from typing import Any

import pyarrow as pa

from fpcredit.evaluate.frame import (
    DIMENSION_SCHEMA,
    INDICATOR_SCHEMA,
    RESULT_SCHEMA,
    Frame,
    Outcome,
)
from fpcredit.evaluate.policy import (
    Applies,
    Band,
    CountMeasure,
    CoverageMeasure,
    EventsMeasure,
    FlagMeasure,
    Indicator,
    Policy,
    ScheduleMeasure,
    SpacingMeasure,
    TimelinessMeasure,
)

__all__ = [
    "add_months",
    "age",
    "birth_month_end",
    "evaluate",
    "month_number",
    "months_between",
    "parse_period",
    "round_half_up",
]

Row = dict[str, Any]
Value = tuple[int, int]  # num, den: the measure's value as it naturally comes out

SCORED, NOT_APPLICABLE, EXEMPT = "scored", "not_applicable", "exempt"


# -- 1.1 dates ------------------------------------------------------------------------------


def months_between(a: dt.date, b: dt.date) -> int:
    """Whole months from `a` to `b`: 12·Δyear + Δmonth, minus 1 if b.day < a.day."""
    months = 12 * (b.year - a.year) + (b.month - a.month)
    return months - 1 if b.day < a.day else months


def birth_month_end(d: dt.date) -> dt.date:
    """1.1: a birth date is read as the last day of its month."""
    return dt.date(d.year, d.month, calendar.monthrange(d.year, d.month)[1])


def age(birth_date: dt.date, cut: dt.date) -> int:
    """Age at the cut date: floor(months_between(birth_date, C) / 12)."""
    return months_between(birth_date, cut) // 12


def add_months(d: dt.date, n: int) -> dt.date:
    """`d` moved by `n` calendar months, the day clamped to the end of the target month."""
    index = d.year * 12 + (d.month - 1) + n
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(d.day, last))


def month_number(d: dt.date) -> int:
    """12·year + month."""
    return 12 * d.year + d.month


def round_half_up(x: Fraction) -> int:
    """The nearest integer, halves upwards: floor(x + 1/2) (only used for x ≥ 0)."""
    return math.floor(x + Fraction(1, 2))


def in_window(t: dt.date, cut: dt.date, months: int) -> bool:
    """A window of N months holds the dates t with add_months(C, −N) < t ≤ C."""
    return add_months(cut, -months) < t <= cut


def parse_period(text: str | None) -> int | None:
    """The month number of a `period` attribute: its first six digits once '-' are removed,
    read as YYYYMM ('2024-05', '202405', '2024-05-01'); None when that is not a month."""
    if text is None:
        return None
    digits = text.replace("-", "")[:6]
    if len(digits) != 6 or not digits.isdigit():
        return None
    year, month = int(digits[:4]), int(digits[4:])
    # Reading: a month outside 1–12 is not a month; such a fact covers nothing.
    return 12 * year + month if 1 <= month <= 12 else None


# -- the frame, one person at a time ----------------------------------------------------------


@dataclass(frozen=True)
class Child:
    child_id: int
    birth_date: dt.date
    registered_at: dt.datetime | None


@dataclass
class Person:
    """One evaluated person with what the semantics read about them (facts ≤ C only)."""

    row: Row
    facts: list[Row]
    children: list[Child]  # distinct children with birth_date ≤ C
    facts_of_child: dict[int, list[Row]] = field(default_factory=dict)

    @property
    def child_facts(self) -> list[Row]:
        """The children's facts, each once even if reachable twice (1.5)."""
        seen: dict[int, Row] = {}
        for child in self.children:
            for fact in self.facts_of_child.get(child.child_id, []):
                seen.setdefault(fact["fact_id"], fact)
        return list(seen.values())

    def facts_of(self, of: str) -> list[Row]:
        return self.child_facts if of == "children" else self.facts


def matches(fact: Row, kinds: Iterable[str], where: Mapping[str, list[str]]) -> bool:
    """1.5: the kind is one of `kinds` and every `where` attribute has one of the listed values."""
    return fact["kind"] in kinds and all(fact.get(a) in values for a, values in where.items())


def _persons(frame: Frame, cut: dt.date) -> list[Person]:
    facts: dict[int, list[Row]] = {}
    for fact in frame.facts.to_pylist():
        # 1.1: facts dated after C are ignored.
        if fact["event_date"] is not None and fact["event_date"] <= cut:
            facts.setdefault(fact["person_id"], []).append(fact)
    children: dict[int, dict[int, Child]] = {}
    for row in frame.children.to_pylist():
        # 1.1: every birth date is read as the last day of its month; 1.4/1.5: the person's
        # children are the children rows with (that) birth_date ≤ C.
        if row["birth_date"] is None:
            continue
        born = birth_month_end(row["birth_date"])
        if born <= cut:
            child = Child(row["child_id"], born, row["registered_at"])
            children.setdefault(row["parent_id"], {}).setdefault(child.child_id, child)
    people = []
    for row in frame.persons.to_pylist():
        if row["birth_date"] is not None:
            row["birth_date"] = birth_month_end(row["birth_date"])  # 1.1
        mine = sorted(children.get(row["person_id"], {}).values(), key=lambda c: c.child_id)
        people.append(
            Person(
                row,
                facts.get(row["person_id"], []),
                mine,
                {c.child_id: facts.get(c.child_id, []) for c in mine},
            )
        )
    return people


def _evaluated(policy: Policy, person: Person, cut: dt.date) -> bool:
    """1.2: age at C ≥ population.min_age, or the birth date is unknown."""
    birth = person.row["birth_date"]
    return birth is None or age(birth, cut) >= policy.population.min_age


# -- 1.4 applicability ------------------------------------------------------------------------


def applies(cond: Applies, person: Person, cut: dt.date) -> bool:
    """All given conditions must hold."""
    row = person.row
    birth = row["birth_date"]
    checks: list[bool] = []
    if cond.sex is not None:
        checks.append(row["sex"] == cond.sex)
    if cond.min_age is not None:
        checks.append(birth is not None and age(birth, cut) >= cond.min_age)
    if cond.max_age is not None:
        checks.append(birth is not None and age(birth, cut) <= cond.max_age)
    if cond.groups is not None:
        checks.append(row["group"] in cond.groups)
    if cond.occupations is not None:
        checks.append(row["occupation"] in cond.occupations)
    if cond.has_children is not None:
        # Reading: the document defines only `true`; `false` is read as "has no child".
        checks.append(bool(person.children) == cond.has_children)
    if cond.child_under_months is not None:
        m = cond.child_under_months
        checks.append(any(months_between(c.birth_date, cut) < m for c in person.children))
    if cond.has_fact is not None:
        checks.append(any(f["kind"] in cond.has_fact for f in person.facts))
    return all(checks)


# -- 1.5 measures -----------------------------------------------------------------------------


def measure(policy: Policy, ind: Indicator, person: Person, cut: dt.date) -> Value | None:
    """The indicator's value num/den, or None when the measure is not applicable."""
    m = ind.measure
    if isinstance(m, FlagMeasure):
        return (1 if person.row[m.field] is True else 0), 1
    if isinstance(m, CountMeasure):
        return _count(m, person, cut), 1
    if isinstance(m, ScheduleMeasure):
        return _schedule(m, person, cut)
    if isinstance(m, TimelinessMeasure):
        return _timeliness(m, person)
    if isinstance(m, SpacingMeasure):
        return _spacing(person, m)
    if isinstance(m, CoverageMeasure):
        return _coverage(policy, m, person, cut)
    if isinstance(m, EventsMeasure):
        active = active_events(policy, person, cut)
        return sum(1 for f in active if f.get("credit_event_type") in m.event_types), 1
    raise TypeError(f"unknown measure {m!r}")


def _count(m: CountMeasure, person: Person, cut: dt.date) -> int:
    n = 0
    for fact in person.facts_of(m.of):
        if not matches(fact, m.kinds, m.where):
            continue
        if m.window_months is None or in_window(fact["event_date"], cut, m.window_months):
            n += 1
    return n


def _where_key(where: Mapping[str, list[str]]) -> frozenset[tuple[str, frozenset[str]]]:
    # Reading: "items with the same where" compares the conditions, not the list order.
    return frozenset((a, frozenset(v)) for a, v in where.items())


def _schedule(m: ScheduleMeasure, person: Person, cut: dt.date) -> Value | None:
    # The k-th item (by due_months, ties by file order) among items with the same `where`.
    rank: dict[int, int] = {}
    by_where: dict[frozenset[tuple[str, frozenset[str]]], list[int]] = {}
    for i, item in enumerate(m.items):
        by_where.setdefault(_where_key(item.where), []).append(i)
    for indexes in by_where.values():
        ordered = sorted(indexes, key=lambda i: (m.items[i].due_months, i))
        for k, i in enumerate(ordered, start=1):
            rank[i] = k
    due = done = 0
    for child in person.children:
        months = months_between(child.birth_date, cut)
        facts = person.facts_of_child.get(child.child_id, [])
        for i, item in enumerate(m.items):
            if months < item.due_months + m.grace_months:
                continue  # not due: done or not, it does not count
            due += 1
            have = sum(1 for f in facts if matches(f, [m.kind], item.where))
            if have >= rank[i]:
                done += 1
    return None if due == 0 else (done, due)


def _timeliness(m: TimelinessMeasure, person: Person) -> Value | None:
    if not person.children:
        return None
    timely = 0
    for child in person.children:
        # Reading: a child row without registered_at was not registered in time.
        if child.registered_at is None:
            continue
        if (child.registered_at.date() - child.birth_date).days <= m.within_days:
            timely += 1
    return timely, len(person.children)


def _spacing(person: Person, m: Any) -> Value | None:
    # 1.5: consecutive distinct birth months (twins count once), m(b) − m(a) months apart.
    months = sorted({month_number(c.birth_date) for c in person.children})
    if len(months) < 2:
        return None
    return sum(b - a >= m.min_months for a, b in pairwise(months)), 1


@dataclass(frozen=True)
class Span:
    """Month numbers a fact covers: first … last inclusive (last None: every month on)."""

    first: int
    last: int | None

    def covers(self, month: int) -> bool:
        return self.first <= month and (self.last is None or month <= self.last)


def _span(m: CoverageMeasure, fact: Row) -> Span | None:
    if m.month_from == "period":
        month = parse_period(fact.get("period"))
        return None if month is None else Span(month, month)
    code = fact.get(m.duration_attr) if m.duration_attr else None
    months = m.default_duration if code is None else m.durations.get(code, m.default_duration)
    start = month_number(fact["event_date"])
    if months == 0:
        return Span(start, None)
    return Span(start, start + months - 1) if months > 0 else None


def _coverage(policy: Policy, m: CoverageMeasure, person: Person, cut: dt.date) -> Value | None:
    spans = [
        s for f in person.facts if matches(f, [m.kind], m.where) and (s := _span(m, f)) is not None
    ]
    first = min((s.first for s in spans), default=None)
    ends = [s.last for s in spans]
    last = None if not ends or None in ends else max(e for e in ends if e is not None)
    buffered = m.buffer and person.row["occupation"] in policy.buffer.occupations
    birth_months = [month_number(c.birth_date) for c in person.children]
    after = policy.buffer.months_after_birth
    end = month_number(cut)
    covered = eligible = 0
    for month in range(end - m.window_months + 1, end + 1):
        is_covered = any(s.covers(month) for s in spans)
        # (a) since_first: with no matching fact at all, no month is eligible.
        if m.since_first and (first is None or month < first):
            continue
        # (c) until_last: a duration-0 fact covers every later month; no fact, no month.
        if m.until_last and (not spans or (last is not None and month > last)):
            continue
        if buffered and not is_covered and any(b <= month < b + after for b in birth_months):
            continue
        eligible += 1
        covered += is_covered
    return None if eligible == 0 else (covered, eligible)


# -- 1.7 credit events ------------------------------------------------------------------------


def active_events(policy: Policy, person: Person, cut: dt.date) -> list[Row]:
    """credit_event facts with C < add_months(event_date, max_months of their severity).

    Reading: an event whose severity has no rule in `severities` is never active.
    """
    found = []
    for fact in person.facts:
        rule = policy.severities.get(fact.get("severity"))  # type: ignore[arg-type]
        if fact["kind"] != "credit_event" or rule is None:
            continue
        if cut < add_months(fact["event_date"], rule.max_months):
            found.append(fact)
    return found


# -- 1.3 exemption and points -----------------------------------------------------------------


def exempt(ind: Indicator, person: Person, cut: dt.date) -> bool:
    """A difficulty fact with a listed scope and event_date ≤ C ≤ valid_until."""
    for fact in person.facts:
        if fact["kind"] != "difficulty" or fact.get("difficulty_scope") not in ind.exempt_by:
            continue
        until = _date(fact.get("valid_until"))
        if until is not None and fact["event_date"] <= cut <= until:
            return True
    return False


def _date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def satisfies(band: Band, value: Fraction, coefficient: Fraction) -> bool:
    if band.at_least is not None and not value >= band.at_least * coefficient:
        return False
    return band.at_most is None or value <= band.at_most


def points(policy: Policy, ind: Indicator, value: Fraction, group: str | None) -> int:
    """The points of the first band the value satisfies, else `otherwise`."""
    coefficient = Fraction(1)
    if ind.regional and group is not None:
        coefficient = policy.coefficients.get(group, Fraction(1))  # type: ignore[call-overload]
    for band in ind.scoring.bands:
        if satisfies(band, value, coefficient):
            return band.points
    return ind.scoring.otherwise


@dataclass
class Scored:
    indicator: str
    status: str
    value: Value | None = None
    points: int | None = None
    included: bool = False


def score_indicator(policy: Policy, ind: Indicator, person: Person, cut: dt.date) -> Scored:
    # 1.3: not_applicable when `applies` fails, exempt when exempt, not_applicable when the
    # measure is not applicable, else scored.
    if not applies(ind.applies, person, cut):
        return Scored(ind.id, NOT_APPLICABLE)
    if exempt(ind, person, cut):
        return Scored(ind.id, EXEMPT)
    value = measure(policy, ind, person, cut)
    if value is None:
        return Scored(ind.id, NOT_APPLICABLE)
    pts = points(policy, ind, Fraction(*value), person.row["group"])
    return Scored(ind.id, SCORED, value, pts)


# -- 1.6 combination --------------------------------------------------------------------------


@dataclass
class Part:
    """A weighted score taking part in a combination (an indicator or a dimension)."""

    key: str
    weight: Fraction
    score: Fraction
    bonus: bool
    included: bool = False


def combine(parts: list[Part]) -> Fraction | None:
    """Base parts always, then bonus parts by descending score while each raises S/W.

    Returns S/W (None when W = 0) and marks each part's `included`.
    """
    w = s = Fraction(0)
    for part in parts:
        if not part.bonus:
            part.included = True
            w, s = w + part.weight, s + part.weight * part.score
    bonuses = sorted((p for p in parts if p.bonus), key=lambda p: (-p.score, p.key))
    for part in bonuses:
        if not (w == 0 or part.score * w > s):
            break  # once one is not included, none after it is
        part.included = True
        w, s = w + part.weight, s + part.weight * part.score
    return None if w == 0 else s / w


@dataclass
class DimensionScore:
    dimension: str
    centi: int | None
    bonus: bool  # all its included indicators are bonus indicators
    included: bool = False


def score_dimension(policy: Policy, dim: str, scored: dict[str, Scored]) -> DimensionScore:
    parts = [
        Part(ind.id, ind.weight, Fraction(scored[ind.id].points or 0), ind.only_raises)
        for ind in policy.indicators_of(dim)
        if scored[ind.id].status == SCORED
    ]
    mean = combine(parts)
    for part in parts:
        scored[part.key].included = part.included
    if mean is None:
        return DimensionScore(dim, None, bonus=False)
    bonus = all(p.bonus for p in parts if p.included)
    return DimensionScore(dim, round_half_up(100 * mean), bonus)


def grade(policy: Policy, total_centi: int | None, person: Person, cut: dt.date) -> str | None:
    """The best grade whose cut-off ≤ total (else the lowest), then capped by active events.

    No total (no applicable dimension), no grade.
    """
    if total_centi is None:
        return None
    order = policy.grade_order
    found = policy.grades.lowest
    for g in order[:-1]:
        if policy.grades.cutoffs[g] * 100 <= total_centi:
            found = g
            break
    for fact in active_events(policy, person, cut):
        cap = policy.grades.caps.get(fact["severity"])
        if cap is not None and order.index(cap) > order.index(found):
            found = cap
    return found


def balance(policy: Policy, person: Person, cut: dt.date) -> int:
    """1.7 points: initial if a child, rule points (capped), severity points of active events."""
    total = policy.points.initial if person.children else 0
    for rule in policy.points.rules:
        n = sum(1 for f in person.facts_of(rule.of) if matches(f, [rule.kind], rule.where))
        gained = rule.points * n
        if rule.cap is not None:
            # Reading: "limited to cap" bounds the rule's contribution in size, either sign.
            gained = max(-rule.cap, min(rule.cap, gained))
        total += gained
    for fact in active_events(policy, person, cut):
        total += policy.severities[fact["severity"]].points
    return total


# -- the whole frame --------------------------------------------------------------------------


def evaluate(policy: Policy, frame: Frame, cut: dt.date) -> Outcome:
    """Evaluate every person of the frame at the cut date, per docs/policy.md §1."""
    results: list[Row] = []
    dimensions: list[Row] = []
    indicators: list[Row] = []
    for person in sorted(_persons(frame, cut), key=lambda p: p.row["person_id"]):
        if not _evaluated(policy, person, cut):
            continue
        pid = person.row["person_id"]
        scored = {ind.id: score_indicator(policy, ind, person, cut) for ind in policy.indicators}
        dims = [score_dimension(policy, d.id, scored) for d in policy.dimensions]
        weights = {d.id: d.weight for d in policy.dimensions}
        parts = [
            Part(d.dimension, weights[d.dimension], Fraction(d.centi, 100), d.bonus)
            for d in dims
            if d.centi is not None
        ]
        mean = combine(parts)
        for part in parts:
            next(d for d in dims if d.dimension == part.key).included = part.included
        # 1.7: with no applicable dimension, no total and no grade.
        total = None if mean is None else round_half_up(100 * mean)
        results.append(
            {
                "person_id": pid,
                "total_centi": total,
                "grade": grade(policy, total, person, cut),
                "points": balance(policy, person, cut),
            }
        )
        for d in sorted(dims, key=lambda d: d.dimension):
            dimensions.append(
                {
                    "person_id": pid,
                    "dimension": d.dimension,
                    "score_centi": d.centi,
                    "included": d.included,
                }
            )
        for key in sorted(scored):
            s = scored[key]
            indicators.append(
                {
                    "person_id": pid,
                    "indicator": key,
                    "status": s.status,
                    "num": s.value[0] if s.value else None,
                    "den": s.value[1] if s.value else None,
                    "points": s.points,
                    "included": s.included,
                }
            )
    return Outcome(
        pa.Table.from_pylist(results, schema=RESULT_SCHEMA),
        pa.Table.from_pylist(dimensions, schema=DIMENSION_SCHEMA),
        pa.Table.from_pylist(indicators, schema=INDICATOR_SCHEMA),
    )
