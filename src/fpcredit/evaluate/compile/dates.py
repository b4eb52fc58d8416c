"""Calendar helpers the compiler shares with the explanations (docs/policy.md §1.1)."""

from __future__ import annotations

import calendar
import datetime as dt

__all__ = ["add_months", "birth_month_end"]


def add_months(day: dt.date, months: int) -> dt.date:
    """Move by calendar months, clamping the day to the target month's end."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    following = dt.date(year + (month == 12), month % 12 + 1, 1)
    last = (following - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


def birth_month_end(day: dt.date) -> dt.date:
    """A birth date as the evaluation reads it: the last day of its month (docs/policy.md §1.1)."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])
