"""SQL text helpers of the compiler: literals, filters, sums and month bit sets (DuckDB's
dialect; another engine translates it)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from fractions import Fraction

from fpcredit.evaluate.policy_model import Where

__all__ = [
    "and_",
    "bigsum",
    "bits",
    "compare",
    "date",
    "in_",
    "months_between",
    "quote",
    "sum_",
    "when",
    "where",
]


def date(day: dt.date) -> str:
    """A date literal."""
    return f"DATE '{day.isoformat()}'"


def quote(value: str) -> str:
    """A string literal."""
    return "'" + value.replace("'", "''") + "'"


def months_between(start: str, end: str) -> str:
    """Whole months from `start` to `end` (both SQL date expressions)."""
    return (
        f"((year({end}) - year({start})) * 12 + month({end}) - month({start})"
        f" - CASE WHEN day({end}) < day({start}) THEN 1 ELSE 0 END)"
    )


def where(alias: str, filters: Where) -> str:
    """Canonical (sorted) so that equal filters give equal text: schedules group by it."""
    parts = [
        in_(alias, f'"{attr}"', sorted(set(values))) for attr, values in sorted(filters.items())
    ]
    return " AND ".join(parts) or "TRUE"


def in_(alias: str, column: str, values: Iterable[str]) -> str:
    """`alias.column` is one of `values`."""
    listed = [quote(v) for v in values]
    if len(listed) == 1:  # cheaper than IN for DuckDB, which keeps a one-value IN as is
        return f"{alias}.{column} = {listed[0]}"
    return f"{alias}.{column} IN ({', '.join(listed)})"


def sum_(terms: list[str]) -> str:
    """The terms added up; 0 when there are none."""
    return "(" + " + ".join(terms) + ")" if terms else "0"


def bigsum(expr: str, name: str) -> str:
    """sum() as BIGINT (DuckDB widens sums of BIGINT to HUGEINT: slow to carry and to read)."""
    return f'CAST(sum({expr}) AS BIGINT) AS "{name}"'


def and_(*conds: str) -> str:
    """The conditions joined by AND, leaving out the "TRUE" ones; "TRUE" when none is left."""
    real = [c for c in conds if c != "TRUE"]
    return " AND ".join(real) or "TRUE"


def bits(lo: str, hi: str, first: int) -> str:
    """The months lo…hi as bits of a 64-bit integer (bit 0 = month `first`); 0 when empty."""
    return (
        f"CASE WHEN ({hi}) >= ({lo}) THEN ((CAST(1 AS BIGINT) << (({hi}) - ({lo}) + 1)) - 1)"
        f" << (({lo}) - {first}) ELSE CAST(0 AS BIGINT) END"
    )


def compare(num: str, op: str, t: Fraction, den: str) -> str:
    """num/den op t, by cross-multiplication (den > 0), without multiplying by a literal 1."""
    left = num if t.denominator == 1 else f"{num} * {t.denominator}"
    right = (
        str(t.numerator) if den == "1" else den if t.numerator == 1 else f"{t.numerator} * {den}"
    )
    return f"{left} {op} {right}"


def when(cond: str, value: str) -> str:
    """`value` where `cond` holds, else 0."""
    return f"CASE WHEN {cond} THEN {value} ELSE 0 END"
