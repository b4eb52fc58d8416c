"""Explanations (R16): one person's evaluation line by line, and what would raise the grade.

The numbers come from the same engine run as the batch, on a frame holding only the person
and their children. "What would raise the grade" is searched, not guessed: each achievable
action (a missing vaccine dose, an unpaid month, a repair application) becomes a synthetic
fact, combinations are evaluated together by the engine as separate scenario persons, and the
cheapest combination that reaches a better grade is reported.

Its masked presentation (`guard.masking.Dates(exact=False)`) shows every date about the person
and their children as a month (`event_month` for `event_date`, …), and only as of a month that is
over: day-level dates would narrow a masked ID number (docs/keys.md, "Masking").
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from fpcredit.errors import FpcreditError
from fpcredit.evaluate.compile import add_months, birth_month_end
from fpcredit.evaluate.engine import evaluate_frame
from fpcredit.evaluate.frame import Frame, Outcome
from fpcredit.evaluate.load import load_frame
from fpcredit.evaluate.policy import (
    CountMeasure,
    CoverageMeasure,
    EventsMeasure,
    FlagMeasure,
    Indicator,
    LoadedPolicy,
    Policy,
    ScheduleMeasure,
    Text,
)
from fpcredit.evaluate.run import cut_dates
from fpcredit.guard.masking import Dates, mask_date
from fpcredit.messages import language, text
from fpcredit.standard.elements import load_standard
from fpcredit.store import schema as s
from fpcredit.store.db import Store

__all__ = ["ExplainError", "MonthNotOverError", "explain"]

_SCENARIO = 10**12  # scenario k's copy of person p is p + k·10¹²
_MAX_SCENARIOS = 400
_MAX_INDICATORS = 3


class ExplainError(FpcreditError):
    """The person does not exist or is not evaluated at that date."""


class MonthNotOverError(ExplainError):
    """A masked explanation was asked as of a month that is not over yet."""


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


def _t(name: Text) -> str:
    return name.zh if language() == "zh" else name.en


def _kind(kind: str) -> str:
    data = load_standard().datasets[kind]
    return data.zh if language() == "zh" else data.en


def _resolve(store: Store, person_id: int) -> int:
    with store.engine.connect() as conn:
        row = conn.execute(
            sa.select(s.persons.c.id, s.persons.c.merged_into).where(s.persons.c.id == person_id)
        ).first()
    if row is None:
        raise ExplainError(text("explain_no_person", person=person_id))
    return int(row.merged_into) if row.merged_into else person_id


def _children(store: Store, person_id: int) -> list[int]:
    sql = sa.text(
        "SELECT DISTINCT cl.person_id FROM facts f"
        " JOIN mentions p ON p.record_id = f.record_id AND p.role IN ('mother', 'father')"
        " JOIN links pl ON pl.mention_id = p.id"
        " JOIN mentions c ON c.record_id = f.record_id AND c.role = 'child'"
        " JOIN links cl ON cl.mention_id = c.id"
        " WHERE f.kind = 'birth_registration' AND pl.person_id = :p"
    )
    with store.engine.connect() as conn:
        return sorted(int(r[0]) for r in conn.execute(sql, {"p": person_id}))


def _rows(table: pa.Table, person_id: int) -> list[dict[str, Any]]:
    return [r for r in table.to_pylist() if r["person_id"] == person_id]


def explain(
    store: Store, policy: LoadedPolicy, person_id: int, as_of: dt.date, dates: Dates | None = None
) -> dict[str, Any]:
    """Every indicator's value, points, weight and contribution, the facts, and next steps;
    dates to the day unless `dates` masks them."""
    dates = dates or Dates()
    pid = _resolve(store, person_id)
    score_date, grade_date = cut_dates(policy, as_of)
    if not dates.complete(score_date):  # its dates would be of a month not over yet
        raise MonthNotOverError(text("mask.month_not_over", day=score_date))
    family = [pid, *_children(store, pid)]
    frame = load_frame(store, score_date, policy.policy.attributes(), persons=family)
    outcome = evaluate_frame(policy.policy, frame, score_date)
    result = _rows(outcome.results, pid)
    if not result:
        raise ExplainError(text("explain_not_evaluated", person=pid, day=score_date))
    graded = result[0]
    if grade_date != score_date:
        gframe = load_frame(store, grade_date, policy.policy.attributes(), persons=family)
        graded = (_rows(evaluate_frame(policy.policy, gframe, grade_date).results, pid) or [{}])[0]
    lines = _lines(policy.policy, frame, outcome, pid, score_date, dates)
    return {
        "person_id": pid,
        "date_precision": "day" if dates.exact else "month",
        "requested_person_id": person_id,
        "as_of": as_of.isoformat(),
        "score_date": score_date.isoformat(),
        "grade_date": grade_date.isoformat(),
        "policy": {"id": policy.policy.id, "version": policy.policy.version,
                   "sha256": policy.sha256},
        "total": _centi(result[0]["total_centi"]),
        "score_grade": result[0]["grade"],
        "grade": graded.get("grade"),
        "graded_total": _centi(graded.get("total_centi")),
        "points": result[0]["points"],
        "dimensions": _dimensions(policy.policy, outcome, pid),
        "indicators": lines,
        "to_raise_grade": _raise(policy.policy, frame, outcome, pid, score_date, dates),
    }  # fmt: skip


def _centi(value: int | None) -> str | None:
    return None if value is None else f"{value / 100:.2f}"


def _dimensions(policy: Policy, outcome: Outcome, pid: int) -> list[dict[str, Any]]:
    weights = {d.id: d.weight for d in policy.dimensions}
    rows = _rows(outcome.dimensions, pid)
    total_w = sum((weights[r["dimension"]] for r in rows if r["included"]), Fraction(0))
    names = {d.id: _t(d.name) for d in policy.dimensions}
    return [
        {
            "dimension": r["dimension"],
            "name": names[r["dimension"]],
            "score": _centi(r["score_centi"]),
            "weight": float(weights[r["dimension"]]),
            "included": r["included"],
            "share_of_total": float(weights[r["dimension"]] / total_w)
            if r["included"] and total_w
            else 0.0,
        }
        for r in sorted(rows, key=lambda r: [d.id for d in policy.dimensions].index(r["dimension"]))
    ]


def _lines(
    policy: Policy, frame: Frame, outcome: Outcome, pid: int, cut: dt.date, dates: Dates
) -> list[dict[str, Any]]:
    inds = {r["indicator"]: r for r in _rows(outcome.indicators, pid)}
    dims = {r["dimension"]: r for r in _dimensions(policy, outcome, pid)}
    facts = frame.facts.to_pylist()
    kids = [c for c in frame.children.to_pylist() if c["parent_id"] == pid]
    lines = []
    for ind in policy.indicators:
        r = inds[ind.id]
        members = [i for i in policy.indicators_of(ind.dimension) if inds[i.id]["included"]]
        dim_w = sum((i.weight for i in members), Fraction(0))
        share = dims[ind.dimension]["share_of_total"]
        contribution = (
            float(ind.weight / dim_w) * share * r["points"] if r["included"] and dim_w else 0.0
        )
        lines.append(
            {
                "indicator": ind.id,
                "name": _t(ind.name),
                "dimension": ind.dimension,
                "status": r["status"],
                "value": None if r["den"] is None else r["num"] / r["den"],
                "num": r["num"],
                "den": r["den"],
                "points": r["points"],
                "weight": float(ind.weight),
                "bonus": ind.only_raises,
                "included": r["included"],
                "contribution": round(contribution, 4),
                "rationale": _t(ind.rationale),
                "facts": list(_evidence(ind, facts, kids, pid, cut, dates)),
                "exemptions": list(_exemptions(ind, facts, pid, cut, dates)),
            }
        )
    return lines


def _matches(fact: Mapping[str, Any], kinds: list[str], where: Mapping[str, list[str]]) -> bool:
    return fact["kind"] in kinds and all(fact.get(a) in v for a, v in where.items())


def _evidence(
    ind: Indicator,
    facts: list[dict[str, Any]],
    kids: list[dict[str, Any]],
    pid: int,
    cut: dt.date,
    dates: Dates,
) -> Iterator[dict[str, Any]]:
    """The facts an indicator read (for display; the score itself comes from the engine)."""
    m = ind.measure
    kid_ids = {k["child_id"] for k in kids if birth_month_end(k["birth_date"]) <= cut}
    if isinstance(m, CountMeasure):
        owners, kinds, where = ({pid} if m.of == "self" else kid_ids), m.kinds, m.where
        start = add_months(cut, -m.window_months) if m.window_months else dt.date.min
    elif isinstance(m, ScheduleMeasure):
        owners, kinds, where, start = kid_ids, [m.kind], {}, dt.date.min
    elif isinstance(m, CoverageMeasure):
        owners, kinds, where = {pid}, [m.kind], m.where
        start = add_months(cut, -m.window_months)
    elif isinstance(m, EventsMeasure):
        owners, kinds, where, start = {pid}, ["credit_event"], {}, dt.date.min
    else:
        for k in sorted(kids, key=_birth_order):
            yield {"kind": "child", **dates.field("birth", k["birth_date"]),
                   **dates.field("registered", k["registered_at"])}  # fmt: skip
        return
    for f in facts:
        if (
            f["person_id"] in owners
            and _matches(f, kinds, where)
            and start < f["event_date"] <= cut
        ):
            yield {
                "fact_id": f["fact_id"],
                "kind": f["kind"],
                "of": "self" if f["person_id"] == pid else "child",
                **dates.field("event", f["event_date"]),
                **{a: f[a] for a in _shown(m) if f.get(a) is not None},
            }


def _shown(measure: Any) -> tuple[str, ...]:
    if isinstance(measure, ScheduleMeasure):
        return tuple(sorted({a for item in measure.items for a in item.where}))
    if isinstance(measure, CoverageMeasure):
        return ("period",) if measure.month_from == "period" else (measure.duration_attr or "",)
    if isinstance(measure, EventsMeasure):
        return ("credit_event_type", "severity")
    return ()


def _exemptions(
    ind: Indicator, facts: list[dict[str, Any]], pid: int, cut: dt.date, dates: Dates
) -> Iterator[dict[str, Any]]:
    for f in facts:
        scope = f.get("difficulty_scope")
        if f["person_id"] == pid and f["kind"] == "difficulty" and scope in ind.exempt_by:
            until = f.get("valid_until") or ""
            if f["event_date"] <= cut and until[:10] >= cut.isoformat():
                if dates.exact:
                    yield {"scope": scope, "from": f["event_date"].isoformat(), "until": until[:10]}
                else:
                    yield {"scope": scope, "from_month": mask_date(f["event_date"]),
                           "until_month": until[:7]}  # fmt: skip


# -- what would raise the grade ----------------------------------------------------------


def _raise(
    policy: Policy, frame: Frame, outcome: Outcome, pid: int, cut: dt.date, dates: Dates
) -> dict[str, Any]:
    current = _rows(outcome.results, pid)[0]
    order = policy.grade_order
    if current["grade"] == order[0]:
        return {"already_best": True, "actions": []}
    inds = {r["indicator"]: r for r in _rows(outcome.indicators, pid)}
    moves: list[list[Move]] = []
    for ind in policy.indicators:
        if inds[ind.id]["status"] == "scored" and (inds[ind.id]["points"] or 0) < 100:
            options = list(_moves(policy, ind, frame, pid, cut, dates))
            if options:
                moves.append(options)
    combos = sorted(_combos(moves), key=lambda c: sum(len(m.actions) for m in c))
    combos = combos[:_MAX_SCENARIOS]
    if not combos:
        return {"already_best": False, "reachable": False, "actions": []}
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
        return {"already_best": False, "reachable": False, "actions": []}
    chosen = combos[best[2]]
    return {
        "already_best": False,
        "reachable": True,
        "grade": results[best[2]][0],
        "total": _centi(best[1]),
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
        owner = pid if m.of == "self" else (max(kids, key=_birth_order)["child_id"]
                                            if kids else None)  # fmt: skip
        if owner is None:
            return
        for n in range(1, 11):
            fact = {"person_id": owner, "kind": m.kinds[0],
                    **{a: v[0] for a, v in m.where.items()}}  # fmt: skip
            label = text("action_count", kind=_kind(m.kinds[0]), n=n)
            yield Move(ind.id, [Action(label, tuple([fact] * n))])
    elif isinstance(m, CoverageMeasure) and m.month_from == "period":
        months = _uncovered_months(m, facts, pid, cut)
        for n in range(1, min(len(months), 12) + 1):
            yield Move(ind.id, [_payment(m, pid, month) for month in months[:n]])
    elif isinstance(m, CoverageMeasure) and m.durations:
        code = max(m.durations, key=lambda c: (m.durations[c] == 0, m.durations[c]))
        fact = {"person_id": pid, "kind": m.kind, m.duration_attr or "": code,
                **{a: v[0] for a, v in m.where.items()}}  # fmt: skip
        yield Move(ind.id, [Action(text("action_measure", code=code), (fact,))])
    elif isinstance(m, FlagMeasure):
        yield Move(ind.id, [Action(text(f"action_flag_{m.field}"), flags=(m.field,))])
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
    for kid in sorted(kids, key=_birth_order):
        age = _months(birth_month_end(kid["birth_date"]), cut)  # the engine's age (policy §1.1)
        own = [f for f in facts if f["person_id"] == kid["child_id"] and f["kind"] == m.kind]
        rank: dict[str, int] = {}
        for i in order:
            item = m.items[i]
            key = repr(sorted((a, sorted(v)) for a, v in item.where.items()))
            rank[key] = rank.get(key, 0) + 1
            done = sum(_matches(f, [m.kind], item.where) for f in own) >= rank[key]
            if age >= item.due_months + m.grace_months and not done:
                values = {a: v[0] for a, v in item.where.items()}
                fact = {"person_id": kid["child_id"], "kind": m.kind, **values}
                what = " ".join(values.values()) or _kind(m.kind)
                label = text(
                    "action_schedule", birth=dates.text(kid["birth_date"]), what=what,
                    n=rank[key], months=item.due_months,
                )  # fmt: skip
                yield Action(label, (fact,))


def _birth_order(kid: Mapping[str, Any]) -> tuple[dt.date, int]:
    """Children in order of birth month, then id: the day of a birth chooses nothing here."""
    return birth_month_end(kid["birth_date"]), kid["child_id"]


def _months(start: dt.date, end: dt.date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month - (end.day < start.day)


def _uncovered_months(
    m: CoverageMeasure, facts: list[dict[str, Any]], pid: int, cut: dt.date
) -> list[int]:
    last = cut.year * 12 + cut.month
    covered = set()
    for f in facts:
        if f["person_id"] == pid and _matches(f, [m.kind], m.where) and f["event_date"] <= cut:
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
    return Action(text("action_payment", period=period), (fact,))


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
            label = text("action_repair", day=dates.text(f["event_date"]))
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
