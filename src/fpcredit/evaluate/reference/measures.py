"""§1.5 of docs/policy.md for the reference evaluator: each kind of measure's value num/den
for one person, or None when the measure is not applicable."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise

from fpcredit.evaluate import policy_model as model
from fpcredit.evaluate.reference.dates import (
    in_window,
    month_number,
    months_between,
    parse_period,
)
from fpcredit.evaluate.reference.person import Person, Row, active_events, matches

__all__ = ["Span", "Value", "measure"]

Value = tuple[int, int]  # num, den: the measure's value as it naturally comes out


def measure(
    policy: model.Policy, ind: model.Indicator, person: Person, cut: dt.date
) -> Value | None:
    """The indicator's value num/den, or None when the measure is not applicable."""
    m = ind.measure
    if isinstance(m, model.FlagMeasure):
        return (1 if person.row[m.field] is True else 0), 1
    if isinstance(m, model.CountMeasure):
        return _count(m, person, cut), 1
    if isinstance(m, model.ScheduleMeasure):
        return _schedule(m, person, cut)
    if isinstance(m, model.TimelinessMeasure):
        return _timeliness(m, person, cut)
    if isinstance(m, model.SpacingMeasure):
        return _spacing(person, m)
    if isinstance(m, model.CoverageMeasure):
        return _coverage(policy, m, person, cut)
    if isinstance(m, model.EventsMeasure):
        active = active_events(policy, person, cut)
        return sum(1 for f in active if f.get("credit_event_type") in m.event_types), 1
    raise TypeError(f"unknown measure {m!r}")


def _count(m: model.CountMeasure, person: Person, cut: dt.date) -> int:
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


def _schedule(m: model.ScheduleMeasure, person: Person, cut: dt.date) -> Value | None:
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


def _timeliness(m: model.TimelinessMeasure, person: Person, cut: dt.date) -> Value | None:
    # Reading: with a window, only the children born in it count (`in_window` of the date).
    children = [
        c
        for c in person.children
        if m.window_months is None or in_window(c.birth_date, cut, m.window_months)
    ]
    if not children:
        return None
    timely = 0
    for child in children:
        # Reading: a child row without registered_at was not registered in time.
        if child.registered_at is None:
            continue
        if (child.registered_at.date() - child.birth_date).days <= m.within_days:
            timely += 1
    return timely, len(children)


def _spacing(person: Person, m: model.SpacingMeasure) -> Value | None:
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


def _span(m: model.CoverageMeasure, fact: Row) -> Span | None:
    if m.month_from == "period":
        month = parse_period(fact.get("period"))
        return None if month is None else Span(month, month)
    code = fact.get(m.duration_attr) if m.duration_attr else None
    months = m.default_duration if code is None else m.durations.get(code, m.default_duration)
    start = month_number(fact["event_date"])
    if months == 0:
        return Span(start, None)
    return Span(start, start + months - 1) if months > 0 else None


def _coverage(
    policy: model.Policy, m: model.CoverageMeasure, person: Person, cut: dt.date
) -> Value | None:
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
