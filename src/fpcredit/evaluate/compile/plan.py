"""The plan: the steps in order (persons, children, facts passes, families, spacing, the wide
row) and the result queries that read the `wide` table."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from fpcredit.evaluate.compile import sql
from fpcredit.evaluate.compile.indicators import Compiler
from fpcredit.evaluate.compile.wide import wide_statement
from fpcredit.evaluate.policy_model import Policy

__all__ = ["STATUS", "STATUSES", "Plan", "compile_policy"]


@dataclass(frozen=True)
class Plan:
    """Tables to materialise in order (the last is `wide`), then the result queries."""

    steps: tuple[tuple[str, str], ...]
    results: str
    dimensions: str
    indicators: str


def compile_policy(policy: Policy, cut: dt.date) -> Plan:
    """The SQL that evaluates `policy` at `cut` over the frame tables."""
    c = Compiler(policy, cut)
    steps: list[tuple[str, str]] = [
        ("pop", c.pop()),
        ("kids", c.kids()),
        *c.facts_passes(),
    ]
    joins = list(c.own_joins)
    steps.append(("fam", c.family()))
    joins.append("LEFT JOIN fam fa ON fa.person_id = pop.person_id")
    steps.append(("spc", c.spacing()))
    joins.append("LEFT JOIN spc sp ON sp.person_id = pop.person_id")
    steps.append(("wide", wide_statement(c, policy, joins)))
    return Plan(tuple(steps), _results(), _dimensions(policy), _indicators(policy))


def _results() -> str:
    return "SELECT person_id, total_centi, grade, points FROM wide ORDER BY person_id"


def _dimensions(policy: Policy) -> str:
    parts = [
        f'SELECT person_id, {sql.quote(d.id)} AS dimension, CAST("dim_{d.id}" AS BIGINT)'
        f' AS score_centi, "dinc_{d.id}" AS included FROM wide'
        for d in policy.dimensions
    ]
    return " UNION ALL ".join(parts) + " ORDER BY person_id, dimension"


STATUSES: Final = ("scored", "not_applicable", "exempt")  # an indicator line's status, as SQL:
STATUS = "CASE {col} WHEN 0 THEN 'scored' WHEN 2 THEN 'exempt' ELSE 'not_applicable' END"


def _indicators(policy: Policy) -> str:
    parts = [
        f"SELECT person_id, {sql.quote(i.id)} AS indicator,"
        f" {STATUS.format(col=f'{chr(34)}st_{i.id}{chr(34)}')} AS status,"
        f' CASE WHEN "st_{i.id}" = 0 THEN "num_{i.id}" END AS num,'
        f' CASE WHEN "st_{i.id}" = 0 THEN "den_{i.id}" END AS den,'
        f' CAST("p_{i.id}" AS BIGINT) AS points, "inc_{i.id}" AS included FROM wide'
        for i in policy.indicators
    ]
    return " UNION ALL ".join(parts) + " ORDER BY person_id, indicator"
