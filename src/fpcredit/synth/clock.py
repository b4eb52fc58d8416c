"""Calendar arithmetic on day numbers (days since 1970-01-01) and second numbers, vectorised."""

from __future__ import annotations

import datetime as dt
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

__all__ = [
    "DAY_SECONDS",
    "EPOCH",
    "HORIZON_DAY",
    "WINDOW_START",
    "YEAR_DAYS",
    "Days",
    "add_months",
    "add_years",
    "date_text",
    "day_number",
    "from_ymd",
    "month_index",
    "month_start",
    "time_text",
    "ymd",
]

Days = npt.NDArray[np.int64]

EPOCH: Final = dt.date(1970, 1, 1)
DAY_SECONDS: Final = 86_400
YEAR_DAYS: Final = 365.2425


def day_number(date: dt.date) -> int:
    """Days since 1970-01-01."""
    return (date - EPOCH).days


# Events are simulated on this window whatever `until` is, so a later `until` only adds rows.
WINDOW_START: Final = day_number(dt.date(2016, 1, 1))
HORIZON_DAY: Final = day_number(dt.date(2030, 12, 31))


def ymd(days: Days) -> tuple[Days, Days, Days]:
    """Year, month (1–12) and day (1–31) of each day number."""
    d64 = days.astype("datetime64[D]")
    months = d64.astype("datetime64[M]")
    year = months.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (d64 - months.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def from_ymd(year: Days, month: Days, day: Days) -> Days:
    """Day numbers of valid (year, month, day) triples."""
    months = (year - 1970) * 12 + (month - 1)
    return months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) + day - 1


def add_years(days: Days, years: Days | int) -> Days:
    """Same month and day `years` later; 29 February becomes 28 February in common years."""
    year, month, day = ymd(days)
    target = year + years
    leap = (target % 4 == 0) & ((target % 100 != 0) | (target % 400 == 0))
    day = np.where((month == 2) & (day == 29) & ~leap, 28, day)
    return from_ymd(target, month, day)


def add_months(days: Days, months: Days | int) -> Days:
    """Same day of month `months` later, clipped to the month's last day."""
    year, month, day = ymd(days)
    index = year * 12 + (month - 1) + months
    first = month_start(index)
    last = month_start(index + 1) - 1
    return np.asarray(np.minimum(first + day - 1, last), dtype=np.int64)


def month_index(days: Days) -> Days:
    """year * 12 + month - 1: consecutive integers for consecutive months."""
    year, month, _ = ymd(days)
    return year * 12 + month - 1


def month_start(index: Days | npt.NDArray[np.int64]) -> Days:
    """Day number of the first day of a month index."""
    return (index - 1970 * 12).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def date_text(days: npt.NDArray[np.int64] | pl.Series, fmt: str) -> pl.Series:
    """Day numbers formatted with a strftime pattern."""
    return pl.Series(days, dtype=pl.Int64).cast(pl.Int32).cast(pl.Date).dt.strftime(fmt)


def time_text(seconds: npt.NDArray[np.int64] | pl.Series, fmt: str) -> pl.Series:
    """Second numbers (since 1970-01-01 00:00:00, local time) formatted with a strftime pattern."""
    return pl.from_epoch(pl.Series(seconds, dtype=pl.Int64), time_unit="s").dt.strftime(fmt)
