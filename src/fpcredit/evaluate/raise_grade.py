"""What would raise the grade (R16): searched, not guessed.

Each achievable action (a missing vaccine dose, an unpaid month, a repair application) becomes
a synthetic fact, combinations are evaluated together by the engine as separate scenario
persons, and the cheapest combination that reaches a better grade is reported.

Where no action does, the dated path: what holds the grade down is often history that only
time undoes (a late birth registration, a disclosed credit event). The days on which such a
thing stops counting are derived from the policy's windows and disclosure periods, and the
person, with nothing else changed, is evaluated on the grade date that follows each until the
grade is better: "from 2027-03-31 the late registration no longer counts; then your grade is A".
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fpcredit.evaluate.compile.dates import add_months, birth_month_end
from fpcredit.evaluate.cuts import grade_date_from
from fpcredit.evaluate.engine import evaluate_frame
from fpcredit.evaluate.frame import Frame, Outcome
from fpcredit.evaluate.person_rows import birth_order, centi, matches, person_rows, said
from fpcredit.evaluate.policy_model import (
    CountMeasure,
    CoverageMeasure,
    EventsMeasure,
    FlagMeasure,
    Indicator,
    Policy,
    ScheduleMeasure,
    SeverityRule,
    TimelinessMeasure,
)
from fpcredit.guard.masking import Dates
from fpcredit.messages import enumerate_words, language, text
from fpcredit.standard.elements import load_standard

__all__ = ["to_raise_grade"]

_SCENARIO = 10**12  # scenario k's copy of person p is p + k·10¹²
_MAX_SCENARIOS = 400
_MAX_INDICATORS = 3
_PATH_YEARS = 10  # how far ahead a dated path is looked for
_PATH_DAYS = 6  # at most this many later grade dates are evaluated (each one engine run)


@dataclass(frozen=True)
class Action:
    """One thing the person can do, and how it shows up as data."""

    label: str
    facts: tuple[dict[str, Any], ...] = ()
    flags: tuple[str, ...] = ()
    drop_fact: int | None = None


@dataclass
class Move:
    indicator: str
    actions: list[Action] = field(default_factory=list)


def _kind(kind: str) -> str:
    data = load_standard().datasets[kind]
    return data.zh if language() == "zh" else data.en


def to_raise_grade(
    policy: Policy, frame: Frame, outcome: Outcome, pid: int, cut: dt.date, dates: Dates
) -> dict[str, Any]:
    """The cheapest combination of actions that reaches a better grade than the person's at
    `cut`, or why there is none (the best grade already, or none reachable)."""
    current = person_rows(outcome.results, pid)[0]
    order = policy.grade_order
    if current["grade"] == order[0]:
        return {"already_best": True, "actions": []}
    inds = {r["indicator"]: r for r in person_rows(outcome.indicators, pid)}
    moves: list[list[Move]] = []
    for ind in policy.indicators:
        if inds[ind.id]["status"] == "scored" and (inds[ind.id]["points"] or 0) < 100:
            options = list(_moves(policy, ind, frame, pid, cut, dates))
            if options:
                moves.append(options)
    combos = sorted(_combos(moves), key=lambda c: sum(len(m.actions) for m in c))
    combos = combos[:_MAX_SCENARIOS]
    if not combos:
        return _unreachable(policy, frame, outcome, pid, cut, dates)
    results = _scenarios(policy, frame, pid, cut, combos)
    target = order.index(current["grade"])
    best: tuple[int, int, int] | None = None
    for k, combo in enumerate(combos):
        grade, total = results.get(k, (None, None))
        if grade is not None and order.index(grade) < target:
            cost = sum(len(m.actions) for m in combo)
            if best is None or (cost, -(total or 0)) < (best[0], -best[1]):
                best = (cost, total or 0, k)
    if best is None:
        return _unreachable(policy, frame, outcome, pid, cut, dates)
    chosen = combos[best[2]]
    return {
        "already_best": False,
        "reachable": True,
        "grade": results[best[2]][0],
        "total": centi(best[1]),
        "actions": [{"indicator": m.indicator, "action": a.label} for m in chosen
                    for a in m.actions],
    }  # fmt: skip


def _combos(moves: list[list[Move]]) -> Iterator[tuple[Move, ...]]:
    for size in range(1, min(_MAX_INDICATORS, len(moves)) + 1):
        for group in itertools.combinations(moves, size):
            yield from itertools.product(*group)


def _moves(
    policy: Policy, ind: Indicator, frame: Frame, pid: int, cut: dt.date, dates: Dates
) -> Iterator[Move]:
    m = ind.measure
    facts = frame.facts.to_pylist()
    kids = [c for c in frame.children.to_pylist() if c["parent_id"] == pid]
    kids = [k for k in kids if birth_month_end(k["birth_date"]) <= cut]  # as the engine reads
    if isinstance(m, ScheduleMeasure):
        missing = list(_missing_items(m, facts, kids, cut, dates))
        for n in range(1, min(len(missing), 12) + 1):
            yield Move(ind.id, missing[:n])
    elif isinstance(m, CountMeasure):
        owner = pid if m.of == "self" else (max(kids, key=birth_order)["child_id"]
                                            if kids else None)  # fmt: skip
        if owner is None:
            return
        for n in range(1, 11):
            fact = {"person_id": owner, "kind": m.kinds[0],
                    **{a: v[0] for a, v in m.where.items()}}  # fmt: skip
            label = text("evaluation.action_count", kind=_kind(m.kinds[0]), n=n)
            yield Move(ind.id, [Action(label, tuple([fact] * n))])
    elif isinstance(m, CoverageMeasure) and m.month_from == "period":
        months = _uncovered_months(m, facts, pid, cut)
        for n in range(1, min(len(months), 12) + 1):
            yield Move(ind.id, [_payment(m, pid, month) for month in months[:n]])
    elif isinstance(m, CoverageMeasure) and m.durations:
        code = max(m.durations, key=lambda c: (m.durations[c] == 0, m.durations[c]))
        fact = {"person_id": pid, "kind": m.kind, m.duration_attr or "": code,
                **{a: v[0] for a, v in m.where.items()}}  # fmt: skip
        yield Move(ind.id, [Action(text("evaluation.action_measure", code=code), (fact,))])
    elif isinstance(m, FlagMeasure):
        yield Move(ind.id, [Action(text(f"evaluation.action_flag_{m.field}"), flags=(m.field,))])
    elif isinstance(m, EventsMeasure):
        yield from _repairs(policy, ind, facts, pid, cut, dates)


def _missing_items(
    m: ScheduleMeasure,
    facts: list[dict[str, Any]],
    kids: list[dict[str, Any]],
    cut: dt.date,
    dates: Dates,
) -> Iterator[Action]:
    order = sorted(range(len(m.items)), key=lambda i: (m.items[i].due_months, i))
    for kid in sorted(kids, key=birth_order):
        age = _months(birth_month_end(kid["birth_date"]), cut)  # the engine's age (policy §1.1)
        own = [f for f in facts if f["person_id"] == kid["child_id"] and f["kind"] == m.kind]
        rank: dict[str, int] = {}
        for i in order:
            item = m.items[i]
            key = repr(sorted((a, sorted(v)) for a, v in item.where.items()))
            rank[key] = rank.get(key, 0) + 1
            done = sum(matches(f, [m.kind], item.where) for f in own) >= rank[key]
            if age >= item.due_months + m.grace_months and not done:
                values = {a: v[0] for a, v in item.where.items()}
                fact = {"person_id": kid["child_id"], "kind": m.kind, **values}
                what = " ".join(values.values()) or _kind(m.kind)
                label = text(
                    "evaluation.action_schedule", birth=dates.text(kid["birth_date"]), what=what,
                    n=rank[key], months=item.due_months,
                )  # fmt: skip
                yield Action(label, (fact,))


def _months(start: dt.date, end: dt.date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month - (end.day < start.day)


def _uncovered_months(
    m: CoverageMeasure, facts: list[dict[str, Any]], pid: int, cut: dt.date
) -> list[int]:
    last = cut.year * 12 + cut.month
    covered = set()
    for f in facts:
        if f["person_id"] == pid and matches(f, [m.kind], m.where) and f["event_date"] <= cut:
            digits = (f.get("period") or "").replace("-", "")
            if len(digits) >= 6 and digits[:6].isdigit():
                covered.add(int(digits[:4]) * 12 + int(digits[4:6]))
    window = range(last - m.window_months + 1, last + 1)
    return [month for month in reversed(window) if month not in covered]


def _payment(m: CoverageMeasure, pid: int, month: int) -> Action:
    year, mon = divmod(month - 1, 12)
    period = f"{year:04d}-{mon + 1:02d}"
    fact = {"person_id": pid, "kind": m.kind, "period": period,
            **{a: v[0] for a, v in m.where.items()}}  # fmt: skip
    return Action(text("evaluation.action_payment", period=period), (fact,))


def _repairs(
    policy: Policy,
    ind: Indicator,
    facts: list[dict[str, Any]],
    pid: int,
    cut: dt.date,
    dates: Dates,
) -> Iterator[Move]:
    m = ind.measure
    assert isinstance(m, EventsMeasure)
    for f in facts:
        rules: dict[str, Any] = {k: v for k, v in policy.severities.items()}
        rule = rules.get(f.get("severity") or "")
        if (
            f["person_id"] == pid
            and f["kind"] == "credit_event"
            and f.get("credit_event_type") in m.event_types
            and rule is not None
            and add_months(f["event_date"], rule.min_months)
            <= cut
            < add_months(f["event_date"], rule.max_months)
        ):
            label = text("evaluation.action_repair", day=dates.text(f["event_date"]))
            yield Move(ind.id, [Action(label, drop_fact=f["fact_id"])])


def _scenarios(
    policy: Policy, frame: Frame, pid: int, cut: dt.date, combos: list[tuple[Move, ...]]
) -> dict[int, tuple[str | None, int | None]]:
    """Evaluate every combination at once: scenario k is a renumbered copy of the family."""
    persons = frame.persons.to_pylist()
    facts = frame.facts.to_pylist()
    children = frame.children.to_pylist()
    next_fact = max((f["fact_id"] for f in facts), default=0) + 1
    out_p, out_f, out_c = [], [], []
    for k, combo in enumerate(combos, start=1):
        off = k * _SCENARIO
        actions = [a for move in combo for a in move.actions]
        flags = {fl for a in actions for fl in a.flags}
        dropped = {a.drop_fact for a in actions if a.drop_fact is not None}
        for p in persons:
            row = {**p, "person_id": p["person_id"] + off}
            if p["person_id"] == pid:
                row.update({fl: True for fl in flags})
            out_p.append(row)
        for f in facts:
            if f["fact_id"] not in dropped:
                out_f.append(
                    {**f, "person_id": f["person_id"] + off, "fact_id": f["fact_id"] + off}
                )
        for a in actions:
            for extra in a.facts:
                row = {
                    **extra,
                    "person_id": extra["person_id"] + off,
                    "fact_id": next_fact + off,
                    "event_date": cut,
                    "recorded_at": dt.datetime.combine(cut, dt.time()),
                }
                next_fact += 1
                out_f.append(row)
        for c in children:
            out_c.append({**c, "parent_id": c["parent_id"] + off, "child_id": c["child_id"] + off})
    scenario = Frame.from_rows(out_p, out_f, out_c, policy.attributes())
    results = evaluate_frame(policy, scenario, cut).results.to_pylist()
    return {
        r["person_id"] // _SCENARIO - 1: (r["grade"], r["total_centi"])
        for r in results
        if r["person_id"] % _SCENARIO == pid
    }


def _unreachable(
    policy: Policy, frame: Frame, outcome: Outcome, pid: int, cut: dt.date, dates: Dates
) -> dict[str, Any]:
    """No action raises the grade now: the dated path, where time alone does."""
    path = _dated_path(policy, frame, outcome, pid, cut, dates)
    return {"already_best": False, "reachable": False, "actions": [], "path": path}


def _dated_path(
    policy: Policy, frame: Frame, outcome: Outcome, pid: int, cut: dt.date, dates: Dates
) -> dict[str, Any] | None:
    """The first later grade date on which the grade is better with nothing else changed, and
    the indicators that then no longer hold it down; None when none within `_PATH_YEARS`."""
    order = policy.grade_order
    target = order.index(person_rows(outcome.results, pid)[0]["grade"])
    now = _costing(policy, outcome, pid)
    for day in _release_days(policy, frame, now, pid, cut)[:_PATH_DAYS]:
        run = evaluate_frame(policy, frame, day)
        later = person_rows(run.results, pid)
        if not later or later[0]["grade"] is None:
            continue  # not evaluated then (past the evaluated ages)
        if order.index(later[0]["grade"]) >= target:
            continue
        then = _costing(policy, run, pid)
        released = [i for i in policy.indicators if i.id in now and now[i.id] > then.get(i.id, 0)]
        names = enumerate_words(said(i.name) for i in released)
        grade = later[0]["grade"]
        return {
            **dates.field("from", day),
            "grade": grade,
            "total": centi(later[0]["total_centi"]),
            "indicators": [i.id for i in released],
            "text": text("evaluation.path", day=dates.text(day), names=names, grade=grade),
        }
    return None


def _costing(policy: Policy, outcome: Outcome, pid: int) -> dict[str, int]:
    """The indicators that cost the person points — scored, counted, in a dimension counted in
    the total, below 100 — and how many each costs."""
    dimension = {i.id: i.dimension for i in policy.indicators}
    counted = {r["dimension"] for r in person_rows(outcome.dimensions, pid) if r["included"]}
    return {
        r["indicator"]: 100 - r["points"]
        for r in person_rows(outcome.indicators, pid)
        if r["status"] == "scored" and r["included"] and dimension[r["indicator"]] in counted
        and (r["points"] or 0) < 100
    }  # fmt: skip


def _release_days(
    policy: Policy, frame: Frame, now: dict[str, int], pid: int, cut: dt.date
) -> list[dt.date]:
    """Later grade dates on which something that costs the person points may stop counting:
    a birth leaving a timeliness window, a fact leaving a count or coverage window, a credit
    event's disclosure ending, the person passing an indicator's age limit. In date order."""
    facts = frame.facts.to_pylist()
    kids = [k for k in frame.children.to_pylist() if k["parent_id"] == pid]
    person = next((p for p in frame.persons.to_pylist() if p["person_id"] == pid), None)
    kid_ids = {k["child_id"] for k in kids}
    found: set[dt.date] = set()
    for ind in policy.indicators:
        if ind.id not in now:
            continue
        m = ind.measure
        if isinstance(m, TimelinessMeasure) and m.window_months:
            found |= {add_months(birth_month_end(k["birth_date"]), m.window_months) for k in kids}
        elif isinstance(m, CountMeasure | CoverageMeasure) and m.window_months:
            owners = kid_ids if getattr(m, "of", "self") == "children" else {pid}
            found |= {
                add_months(f["event_date"], m.window_months)
                for f in facts
                if f["person_id"] in owners and f["event_date"] <= cut
            }
        born = person.get("birth_date") if person else None
        if ind.applies.max_age is not None and born is not None:
            found.add(add_months(born, 12 * (ind.applies.max_age + 1)))  # the engine's age
    rules: dict[str, SeverityRule] = {k: v for k, v in policy.severities.items()}
    for f in facts:  # disclosed events cost points and may cap the grade
        rule = rules.get(f.get("severity") or "")
        if f["person_id"] == pid and f["kind"] == "credit_event" and rule is not None:
            found.add(add_months(f["event_date"], rule.max_months))
    # A window holds the days t with add_months(C, -N) < t <= C: month ends clip, so the day a
    # thing stops counting is d or the day after; both grade dates are tried (mostly one).
    horizon = add_months(cut, 12 * _PATH_YEARS)
    days = {grade_date_from(policy, d + dt.timedelta(days=k)) for d in found for k in (0, 1)}
    return sorted(d for d in days if cut < d <= horizon)
