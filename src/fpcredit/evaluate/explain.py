"""Explanations (R16): one person's evaluation line by line, and what would raise the grade.

The numbers come from the same engine run as the batch, on a frame holding only the person
and their children. "What would raise the grade" is searched, not guessed
(`evaluate/raise_grade.py`).

Its masked presentation (`guard.masking.Dates(exact=False)`) shows every date about the person
and their children as a month (`event_month` for `event_date`, …), and only as of a month that is
over: day-level dates would narrow a masked ID number (docs/keys.md, "Masking").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from fpcredit.errors import FpcreditError
from fpcredit.evaluate import policy_model as model
from fpcredit.evaluate.compile.dates import add_months, birth_month_end
from fpcredit.evaluate.cuts import cut_dates, not_in_future
from fpcredit.evaluate.engine import evaluate_frame
from fpcredit.evaluate.frame import Frame, Outcome
from fpcredit.evaluate.load import load_frame
from fpcredit.evaluate.person_rows import birth_order, centi, matches, person_rows, said
from fpcredit.evaluate.policy import LoadedPolicy
from fpcredit.evaluate.raise_grade import to_raise_grade
from fpcredit.guard.masking import Dates, mask_date
from fpcredit.messages import text
from fpcredit.store import schema as s
from fpcredit.store.db import Store

if TYPE_CHECKING:
    from fpcredit.evaluate.province import Province

__all__ = ["ExplainError", "MonthNotOverError", "explain"]


class ExplainError(FpcreditError):
    """The person does not exist or is not evaluated at that date."""


class MonthNotOverError(ExplainError):
    """A masked explanation was asked as of a month that is not over yet."""


def _resolve(store: Store, person_id: int) -> int:
    with store.engine.connect() as conn:
        row = conn.execute(
            sa.select(s.persons.c.id, s.persons.c.merged_into).where(s.persons.c.id == person_id)
        ).first()
    if row is None:
        raise ExplainError(text("evaluation.explain_no_person", person=person_id))
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


# Where a whole province evaluated once at a cut can be found (evaluate/province.py): the
# service's explanation workers keep some; None for a cut not (yet) evaluated.
Provinces = Callable[[dt.date, LoadedPolicy], "Province | None"]


def explain(
    store: Store,
    policy: LoadedPolicy,
    person_id: int,
    as_of: dt.date,
    dates: Dates | None = None,
    provinces: Provinces | None = None,
) -> dict[str, Any]:
    """Every indicator's value, points, weight and contribution, the facts, and next steps;
    dates to the day unless `dates` masks them. With `provinces`, the family's outcome is
    taken from the province evaluated at the cut when the family's frame is the one it was
    evaluated on (the same answer, without running the engine for one family)."""
    dates = dates or Dates()
    not_in_future(as_of)
    pid = _resolve(store, person_id)
    score_date, grade_date = cut_dates(policy, as_of)
    if not dates.complete(score_date):  # its dates would be of a month not over yet
        raise MonthNotOverError(text("mask.month_not_over", day=score_date))
    family = [pid, *_children(store, pid)]
    frame = load_frame(store, score_date, policy.policy.attributes(), persons=family)
    outcome = _evaluated(policy, frame, score_date, family, provinces)
    result = person_rows(outcome.results, pid)
    if not result:
        raise ExplainError(text("evaluation.explain_not_evaluated", person=pid, day=score_date))
    graded = result[0]
    if grade_date != score_date:
        gframe = load_frame(store, grade_date, policy.policy.attributes(), persons=family)
        gout = _evaluated(policy, gframe, grade_date, family, provinces)
        graded = (person_rows(gout.results, pid) or [{}])[0]
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
        "total": centi(result[0]["total_centi"]),
        "score_grade": result[0]["grade"],
        "grade": graded.get("grade"),
        "graded_total": centi(graded.get("total_centi")),
        "points": result[0]["points"],
        "dimensions": _dimensions(policy.policy, outcome, pid),
        "indicators": lines,
        "to_raise_grade": to_raise_grade(policy.policy, frame, outcome, pid, score_date, dates),
    }  # fmt: skip


def _evaluated(
    policy: LoadedPolicy,
    frame: Frame,
    cut: dt.date,
    family: list[int],
    provinces: Provinces | None,
) -> Outcome:
    """The family's outcome at `cut`: the province's, if it was evaluated on this very frame,
    else the engine's on the family alone."""
    province = provinces(cut, policy) if provinces is not None else None
    found = province.outcome_of(frame, family) if province is not None else None
    return found if found is not None else evaluate_frame(policy.policy, frame, cut)


def _dimensions(policy: model.Policy, outcome: Outcome, pid: int) -> list[dict[str, Any]]:
    """Each dimension's score, weight and share of the total. A bonus dimension at full marks
    beside a total at full marks is shown as counted: the bonus rule leaves out what does not
    raise the total, and counting it would not change the total either — "100, not counted"
    reads as a penalty to the person it is about."""
    weights = {d.id: d.weight for d in policy.dimensions}
    rows = person_rows(outcome.dimensions, pid)
    full = _full_dimensions(policy, outcome, pid)
    at_full = all(r["dimension"] in full for r in rows if r["included"])  # the total is 100
    counted = {r["dimension"]: r["included"] or (at_full and r["dimension"] in full) for r in rows}
    total_w = sum((weights[d] for d, c in counted.items() if c), Fraction(0))
    names = {d.id: said(d.name) for d in policy.dimensions}
    return [
        {
            "dimension": r["dimension"],
            "name": names[r["dimension"]],
            "score": centi(r["score_centi"]),
            "weight": float(weights[r["dimension"]]),
            "included": counted[r["dimension"]],
            "share_of_total": float(weights[r["dimension"]] / total_w)
            if counted[r["dimension"]] and total_w
            else 0.0,
        }
        for r in sorted(rows, key=lambda r: [d.id for d in policy.dimensions].index(r["dimension"]))
    ]


def _full_dimensions(policy: model.Policy, outcome: Outcome, pid: int) -> set[str]:
    """The dimensions scoring exactly 100: every line counted in them has 100 points."""
    dimension = {i.id: i.dimension for i in policy.indicators}
    lines: dict[str, list[int]] = {}
    for r in person_rows(outcome.indicators, pid):
        if r["included"]:
            lines.setdefault(dimension[r["indicator"]], []).append(r["points"])
    return {d for d, points in lines.items() if points and all(p == 100 for p in points)}


def _lines(
    policy: model.Policy, frame: Frame, outcome: Outcome, pid: int, cut: dt.date, dates: Dates
) -> list[dict[str, Any]]:
    inds = {r["indicator"]: r for r in person_rows(outcome.indicators, pid)}
    dims = {r["dimension"]: r for r in _dimensions(policy, outcome, pid)}
    facts = frame.facts.to_pylist()
    kids = [c for c in frame.children.to_pylist() if c["parent_id"] == pid]
    person = next(p for p in frame.persons.to_pylist() if p["person_id"] == pid)
    lines = []
    for ind in policy.indicators:
        if not dims[ind.dimension]["included"]:
            continue  # a dimension left out of the total has no line in it
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
                "name": said(ind.name),
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
                "rationale": said(ind.rationale),
                "facts": list(_evidence(ind, facts, kids, person, cut, dates)),
                "exemptions": list(_exemptions(ind, facts, pid, cut, dates)),
            }
        )
    return lines


def _evidence(
    ind: model.Indicator,
    facts: list[dict[str, Any]],
    kids: list[dict[str, Any]],
    person: dict[str, Any],
    cut: dt.date,
    dates: Dates,
) -> Iterator[dict[str, Any]]:
    """What an indicator read (for display; the score itself comes from the engine): the
    facts it counted, the children's births it weighed, or the check on the person's file."""
    m = ind.measure
    pid = person["person_id"]
    if isinstance(m, model.FlagMeasure):
        # A check across the departments' records of the person (the person index), not a fact.
        yield {"kind": "check", "check": m.field, "passed": bool(person.get(m.field))}
        return
    kids = [k for k in kids if birth_month_end(k["birth_date"]) <= cut]
    if isinstance(m, model.TimelinessMeasure) and m.window_months:
        since = add_months(cut, -m.window_months)  # the births the window holds
        kids = [k for k in kids if birth_month_end(k["birth_date"]) > since]
    kid_ids = {k["child_id"] for k in kids}
    if isinstance(m, model.CountMeasure):
        owners, kinds, where = ({pid} if m.of == "self" else kid_ids), m.kinds, m.where
        start = add_months(cut, -m.window_months) if m.window_months else dt.date.min
    elif isinstance(m, model.ScheduleMeasure):
        owners, kinds, where, start = kid_ids, [m.kind], {}, dt.date.min
    elif isinstance(m, model.CoverageMeasure):
        owners, kinds, where = {pid}, [m.kind], m.where
        start = add_months(cut, -m.window_months)
    elif isinstance(m, model.EventsMeasure):
        owners, kinds, where, start = {pid}, ["credit_event"], {}, dt.date.min
    else:
        for k in sorted(kids, key=birth_order):
            yield {"kind": "child", **dates.field("birth", k["birth_date"]),
                   **dates.field("registered", k["registered_at"])}  # fmt: skip
        return
    for f in facts:
        if f["person_id"] in owners and matches(f, kinds, where) and start < f["event_date"] <= cut:
            yield {
                "fact_id": f["fact_id"],
                "kind": f["kind"],
                "of": "self" if f["person_id"] == pid else "child",
                **dates.field("event", f["event_date"]),
                **{a: f[a] for a in _shown(m) if f.get(a) is not None},
            }


def _shown(measure: Any) -> tuple[str, ...]:
    if isinstance(measure, model.ScheduleMeasure):
        return tuple(sorted({a for item in measure.items for a in item.where}))
    if isinstance(measure, model.CoverageMeasure):
        return ("period",) if measure.month_from == "period" else (measure.duration_attr or "",)
    if isinstance(measure, model.EventsMeasure):
        return ("credit_event_type", "severity")
    return ()


def _exemptions(
    ind: model.Indicator, facts: list[dict[str, Any]], pid: int, cut: dt.date, dates: Dates
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
