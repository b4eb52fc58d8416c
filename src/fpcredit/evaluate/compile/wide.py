"""The last statement: one row per evaluated person, joining the passes to the persons and
computing values, statuses, points, the bonus rule, dimension scores, the total and the grade
in nested projections, so no stage of ~150 columns is stored."""

from __future__ import annotations

from fpcredit.evaluate.compile import sql
from fpcredit.evaluate.compile.bonus import Member, bonus_rule
from fpcredit.evaluate.compile.indicators import Compiler
from fpcredit.evaluate.policy_model import WEIGHT_UNIT, Policy

__all__ = ["wide_statement"]


def _nest(source: str, levels: list[list[str]], final: list[str]) -> str:
    """One statement: each level's columns computed once over the level below (a subquery's
    projection is computed once per row and streamed; stages stored apart would copy every
    column at each stage). Read it whole: over only a few of its columns, DuckDB's optimizer
    inlines the levels into one another and planning takes minutes."""
    query = source
    for n, cols in enumerate(levels):
        if cols:
            query = f"SELECT *, {', '.join(cols)} FROM ({query}) w{n}"
    return f"SELECT {', '.join(final)} FROM ({query}) w"


def wide_statement(c: Compiler, policy: Policy, joins: list[str]) -> str:
    """One row per evaluated person: every indicator, dimension, the total and the grade."""
    levels: list[list[str]] = []
    # Values from the joined passes; the status (st_) once the denominator is known, unless it
    # is always 1. `always`: scored in every row (a constant status).
    values, statuses, always = [], [], set()
    for ind in policy.indicators:
        num, den = c.value(ind)
        pre, key = c.status(ind), ind.id
        values += [f'CAST({num} AS BIGINT) AS "num_{key}"', f'CAST({den} AS BIGINT) AS "den_{key}"']
        if den == "1":
            values.append(f'{pre} AS "st_{key}"')
            if pre == "0":
                always.add(key)
            continue
        values.append(f'{pre} AS "_a_{key}"')
        statuses.append(
            f'CASE WHEN "_a_{key}" <> 0 THEN "_a_{key}" WHEN "den_{key}" IS NULL OR "den_{key}" = 0'
            f' THEN 1 ELSE 0 END AS "st_{key}"'
        )
    cap = f"coalesce({c.own['cap_rank']}, 0)"
    cc = f', {c.coefficient_class()} AS "_cc"' if c.coefficient_classes() else ""
    source = (
        f"SELECT pop.person_id{cc}, {cap} AS cap_rank,"
        f" {_points_balance(c)} AS points, {', '.join(values)}"
        f" FROM pop {' '.join(joins)}"
    )
    levels.append(statuses)
    # Points (p_, NULL when not scored; v_, 0 then) and whether scored (h_).
    levels.append([f'{c.points(i, i.id in always)} AS "p_{i.id}"' for i in policy.indicators])
    levels.append(
        [
            f'coalesce("p_{i.id}", 0) AS "v_{i.id}", "st_{i.id}" = 0 AS "h_{i.id}"'
            for i in policy.indicators
        ]
    )
    # Inclusion of the bonus indicators inside each dimension, then the dimension scores.
    first: list[str] = []
    second: list[str] = []
    inc: dict[str, str] = {}
    dim_cols, dim_members = [], []
    for d in policy.dimensions:
        members = [
            Member(
                i.id,
                int(i.weight * WEIGHT_UNIT),
                f'"v_{i.id}"',
                f'"h_{i.id}"',
                "TRUE" if i.only_raises else "FALSE",
                i.id in always,
            )
            for i in policy.indicators_of(d.id)
        ]
        grp = bonus_rule("", d.id, members, "inc_{k}")
        first, second, inc = first + grp.first, second + grp.second, inc | grp.inc
        dim_cols += [f'{grp.weight} AS "_w_{d.id}"', f'{grp.total} AS "_s_{d.id}"']
        # A dimension whose included indicators are all bonus indicators is a bonus itself.
        base = any(m.bonus == "FALSE" for m in members)
        sure = any(m.bonus == "FALSE" and m.always and m.weight > 0 for m in members)
        dbonus = "FALSE" if sure else f'("_wb_{d.id}" = 0)' if base else "TRUE"
        dim_members.append(
            Member(
                d.id,
                int(d.weight * WEIGHT_UNIT),
                f'coalesce("dim_{d.id}", 0)',
                f'"dim_{d.id}" IS NOT NULL',
                dbonus,
                sure,
            )
        )
    levels += [first, second, [f'{inc[i.id]} AS "inc_{i.id}"' for i in policy.indicators]]
    levels.append(dim_cols)
    levels.append(
        [
            f'CASE WHEN "_w_{d.id}" = 0 THEN NULL ELSE (200 * CAST("_s_{d.id}" AS BIGINT)'
            f' + "_w_{d.id}") // (2 * "_w_{d.id}") END AS "dim_{d.id}"'
            for d in policy.dimensions
        ]
    )
    # Dimensions into the total, by the same rule; then the grade.
    grp = bonus_rule("d", "", dim_members, "dinc_{k}")
    levels += [grp.first, grp.second, [f'{grp.inc[m.key]} AS "dinc_{m.key}"' for m in dim_members]]
    levels.append([f'{grp.weight} AS "_w_"', f'{grp.total} AS "_s_"'])
    levels.append(
        [
            'CASE WHEN "_w_" = 0 THEN NULL ELSE (2 * CAST("_s_" AS BIGINT) + "_w_") // (2 * "_w_")'
            " END AS total_centi"
        ]
    )
    # The columns of `evaluate_wide`, in its order and types.
    final = ["person_id", "total_centi", f"{_grade(policy)} AS grade", "points"]
    for d in policy.dimensions:
        final += [f'"dim_{d.id}"', f'"dinc_{d.id}"']
    for i in policy.indicators:
        final += [
            f'"st_{i.id}"',
            f'"num_{i.id}"',
            f'"den_{i.id}"',
            f'CAST("p_{i.id}" AS BIGINT) AS "p_{i.id}"',
            f'"inc_{i.id}"',
        ]
    return _nest(source, levels, final)


def _grade(policy: Policy) -> str:
    order = policy.grade_order
    cut_cases = " ".join(
        f"WHEN total_centi >= {int(policy.grades.cutoffs[g] * 100)} THEN {order.index(g)}"
        for g in order[:-1]
    )
    rank = f"greatest(CASE {cut_cases} ELSE {len(order) - 1} END, cap_rank)"
    names = " ".join(f"WHEN {i} THEN {sql.quote(g)}" for i, g in enumerate(order))
    return f"CASE WHEN total_centi IS NULL THEN NULL ELSE CASE {rank} {names} END END"


def _points_balance(c: Compiler) -> str:
    p = c.p.points
    terms = [f"CASE WHEN coalesce(fa.kids, 0) > 0 THEN {p.initial} ELSE 0 END"]
    for k, rule in enumerate(p.rules):
        count = c.own[f"r_{k}"] if rule.of == "self" else f'fa."r_{k}"'
        term = f"{rule.points} * coalesce({count}, 0)"
        terms.append(f"least({term}, {rule.cap})" if rule.cap is not None else term)
    if c.p.severities:
        terms.append(f"coalesce({c.own['sev_points']}, 0)")
    return f"CAST({sql.sum_(terms)} AS BIGINT)"
