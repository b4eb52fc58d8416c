"""Points, combination and grade for the reference evaluator: an indicator's status and
points (§1.3), the bonus rule inside a dimension and over the total (§1.6), the grade with its
caps and the points balance (§1.7)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction

from fpcredit.evaluate.policy_model import Band, Indicator, Policy
from fpcredit.evaluate.reference.dates import round_half_up
from fpcredit.evaluate.reference.measures import Value, measure
from fpcredit.evaluate.reference.person import (
    Person,
    active_events,
    applies,
    exempt,
    matches,
)

__all__ = [
    "EXEMPT",
    "NOT_APPLICABLE",
    "SCORED",
    "DimensionScore",
    "Part",
    "Scored",
    "balance",
    "combine",
    "grade",
    "points",
    "satisfies",
    "score_dimension",
    "score_indicator",
]

SCORED, NOT_APPLICABLE, EXEMPT = "scored", "not_applicable", "exempt"


# -- 1.3 points -------------------------------------------------------------------------------


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
