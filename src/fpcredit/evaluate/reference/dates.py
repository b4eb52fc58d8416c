"""§1.1 of docs/policy.md for the reference evaluator: whole months, ages, birth months,
windows and `period` attributes, in plain Python."""

from __future__ import annotations

import calendar
import datetime as dt
import math
from fractions import Fraction

__all__ = [
    "add_months",
    "age",
    "birth_month_end",
    "in_window",
    "month_number",
    "months_between",
    "parse_period",
    "round_half_up",
]


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
