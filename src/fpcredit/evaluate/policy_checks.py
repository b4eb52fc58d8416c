"""What a valid policy must also be, beyond its fields: references, sums, AHP agreement, kinds."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

from fpcredit import messages
from fpcredit.errors import PolicyError
from fpcredit.evaluate import ahp
from fpcredit.evaluate.policy_incentives import check_incentives
from fpcredit.evaluate.policy_model import (
    WEIGHT_UNIT,
    Comparisons,
    CountMeasure,
    CoverageMeasure,
    EventsMeasure,
    Policy,
    ScheduleMeasure,
)
from fpcredit.standard.elements import load_standard

__all__ = ["Loc", "check", "derive"]

Loc = tuple[str | int, ...]  # where in the file: keys and list positions, as Pydantic gives them


def check(policy: Policy) -> list[tuple[Loc, str]]:
    """Semantic problems Pydantic cannot see: references, sums, AHP agreement, known kinds."""
    return [
        *_check_ids(policy),
        *_check_weights(policy),
        *_check_kinds(policy),
        *_check_grades(policy),
    ]


def _check_ids(policy: Policy) -> Iterator[tuple[Loc, str]]:
    dims = [d.id for d in policy.dimensions]
    for i, d in enumerate(dims):
        if d in dims[:i]:
            yield ("dimensions", i, "id"), messages.text("policy.duplicate", what=d)
    seen: set[str] = set()
    for i, ind in enumerate(policy.indicators):
        if ind.id in seen:
            yield ("indicators", i, "id"), messages.text("policy.duplicate", what=ind.id)
        seen.add(ind.id)
        if ind.dimension not in dims:
            yield (
                ("indicators", i, "dimension"),
                messages.text(
                    "policy.unknown_dimension", what=ind.dimension, known=", ".join(dims)
                ),
            )
    yield from check_incentives(policy.incentives, policy.grade_order)


def _weight_problems(weights: list[Fraction], where: Loc) -> Iterator[tuple[Loc, str]]:
    for i, w in enumerate(weights):
        if w <= 0 or (w * WEIGHT_UNIT).denominator != 1:
            yield (*where, i, "weight"), messages.text("policy.weight_unit", weight=float(w))
    if weights and sum(weights) != 1:
        yield where, messages.text("policy.weight_sum", total=float(sum(weights)))


def _check_weights(policy: Policy) -> Iterator[tuple[Loc, str]]:
    yield from _weight_problems([d.weight for d in policy.dimensions], ("dimensions",))
    if policy.ahp:
        ids = [d.id for d in policy.dimensions]
        dim_weights = [d.weight for d in policy.dimensions]
        yield from _ahp_agrees(policy.ahp, ids, dim_weights, ("ahp",))
    for di, dim in enumerate(policy.dimensions):
        members = [(i, ind) for i, ind in enumerate(policy.indicators) if ind.dimension == dim.id]
        if not members:
            yield ("dimensions", di, "id"), messages.text("policy.empty_dimension", what=dim.id)
            continue
        weights = [ind.weight for _, ind in members]
        for i, w in zip((i for i, _ in members), weights, strict=True):
            if w <= 0 or (w * WEIGHT_UNIT).denominator != 1:
                yield (
                    ("indicators", i, "weight"),
                    messages.text("policy.weight_unit", weight=float(w)),
                )
        if sum(weights) != 1:
            yield (
                ("dimensions", di, "id"),
                messages.text(
                    "policy.indicator_weight_sum", what=dim.id, total=float(sum(weights))
                ),
            )
        if dim.ahp:
            names = [ind.id for _, ind in members]
            yield from _ahp_agrees(dim.ahp, names, weights, ("dimensions", di, "ahp"))


def derive(comparisons: Comparisons) -> tuple[tuple[float, ...], ahp.Consistency, ahp.Consistency]:
    """Blended AHP weights and the consistency of the experts' and the public's matrices."""
    expert, public = ahp.from_upper(comparisons.expert), ahp.from_upper(comparisons.public)
    we, _ = ahp.priorities(expert)
    wp, _ = ahp.priorities(public)
    blended = ahp.blend(we, wp, comparisons.expert_share)
    return blended, ahp.consistency(expert), ahp.consistency(public)


def _ahp_agrees(
    comparisons: Comparisons, members: list[str], weights: list[Fraction], where: Loc
) -> Iterator[tuple[Loc, str]]:
    try:
        derived, _, _ = derive(comparisons)
    except PolicyError as e:
        yield where, str(e.problems[0][1])
        return
    if len(derived) != len(weights):
        yield where, messages.text("policy.ahp_size", n=len(derived), m=len(weights))
        return
    for member, w, d in zip(members, weights, derived, strict=True):
        if abs(float(w) - d) > 1.5 / WEIGHT_UNIT:
            yield (
                where,
                messages.text("policy.ahp_disagrees", member=member, stored=float(w), derived=d),
            )


def _check_kinds(policy: Policy) -> Iterator[tuple[Loc, str]]:
    for i, ind in enumerate(policy.indicators):
        m = ind.measure
        kinds = list(m.kinds) if isinstance(m, CountMeasure) else [getattr(m, "kind", None)]
        wheres = [getattr(m, "where", {})]
        if isinstance(m, ScheduleMeasure):
            wheres += [item.where for item in m.items]
        if isinstance(m, CoverageMeasure) and m.duration_attr:
            wheres.append({m.duration_attr: []})
        found = [k for k in kinds if k is not None]
        yield from _kind_problems(found, wheres, ("indicators", i, "measure"))
        yield from _kind_problems(ind.applies.has_fact or [], [], ("indicators", i, "applies"))
    for i, rule in enumerate(policy.points.rules):
        yield from _kind_problems([rule.kind], [rule.where], ("points", "rules", i))


def _kind_problems(
    kinds: list[str], wheres: list[dict[str, list[str]]], where: Loc
) -> Iterator[tuple[Loc, str]]:
    """Kinds must be data sets of the standard, and filtered attributes fields of them."""
    datasets = load_standard().datasets
    for kind in kinds:
        if kind not in datasets:
            yield where, messages.text("policy.unknown_kind", what=kind)
            continue
        for attrs in wheres:
            for attr in attrs:
                if attr not in datasets[kind].fields:
                    yield where, messages.text("policy.unknown_attr", what=attr, kind=kind)


def _check_grades(policy: Policy) -> Iterator[tuple[Loc, str]]:
    g = policy.grades
    if g.lowest in g.cutoffs:
        yield ("grades", "lowest"), messages.text("policy.duplicate", what=g.lowest)
    for value in g.cutoffs.values():
        if not 0 <= value <= 100 or (value * 100).denominator != 1:
            yield ("grades", "cutoffs"), messages.text("policy.cutoff", value=float(value))
    for severity, grade in g.caps.items():
        if grade not in policy.grade_order:
            yield ("grades", "caps", severity), messages.text("policy.unknown_grade", what=grade)
    for i, ind in enumerate(policy.indicators):
        if isinstance(ind.measure, EventsMeasure) and not policy.severities:
            yield ("indicators", i, "measure"), messages.text("policy.no_severities")
    for sev, rule in policy.severities.items():
        if rule.min_months > rule.max_months:
            yield ("severities", sev), messages.text("policy.severity_order")
