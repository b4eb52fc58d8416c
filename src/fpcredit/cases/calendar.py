"""The working-day calendar: weekends, public holidays and make-up working days (调休) as data.

`holidays.yaml` beside this module lists, per year, the days off and the weekend days worked
that the State Council's notice announces. Case deadlines are counted in working days on it:
the day a case opens does not count, the Nth working day after it is the due date, and a case
still open once that day is over is overdue.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from fpcredit.errors import FpcreditError
from fpcredit.messages import text

__all__ = ["Calendar", "CalendarError", "default_calendar", "parse_calendar"]

_ONE = dt.timedelta(days=1)


class CalendarError(FpcreditError):
    """The holiday data is malformed, or a date lies beyond the years it covers."""


@dataclass(frozen=True)
class Calendar:
    """Working days: Monday–Friday except `off`, plus the weekend days in `work`."""

    off: frozenset[dt.date]
    work: frozenset[dt.date]
    years: frozenset[int]
    provisional: frozenset[int] = frozenset()

    def _covered(self, day: dt.date) -> None:
        if day.year not in self.years:
            raise CalendarError(
                text("case.calendar_year", year=day.year, first=min(self.years),
                     last=max(self.years))
            )  # fmt: skip

    def is_working_day(self, day: dt.date) -> bool:
        """Whether `day` is a working day (raises CalendarError for a year not in the data)."""
        self._covered(day)
        if day in self.work:
            return True
        return day.weekday() < 5 and day not in self.off

    def add_working_days(self, start: dt.date, days: int) -> dt.date:
        """The `days`-th working day after `start` (`start` itself not counted); `start` for 0."""
        if days < 0:
            raise ValueError("days must not be negative")
        day = start
        left = days
        while left:
            day += _ONE
            if self.is_working_day(day):
                left -= 1
        return day

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """How many working days lie in (start, end]; 0 when end <= start."""
        count, day = 0, start
        while day < end:
            day += _ONE
            count += self.is_working_day(day)
        return count


def _days(item: Any, year: int) -> list[dt.date]:
    if isinstance(item, dt.date):
        days = [item]
    elif isinstance(item, str) and ".." in item:
        first_s, last_s = item.split("..", 1)
        first, last = dt.date.fromisoformat(first_s), dt.date.fromisoformat(last_s)
        if last < first:
            raise CalendarError(text("case.calendar_bad", item=item))
        days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    else:
        raise CalendarError(text("case.calendar_bad", item=str(item)))
    if any(d.year != year for d in days):
        raise CalendarError(text("case.calendar_bad", item=str(item)))
    return days


def parse_calendar(data: Any) -> Calendar:
    """A Calendar from the YAML structure of holidays.yaml (year → holidays, workdays).

    (Not `off`/`on`: YAML 1.1 reads those keys as booleans.)"""
    if not isinstance(data, dict) or not data:
        raise CalendarError(text("case.calendar_bad", item="<root>"))
    off: set[dt.date] = set()
    work: set[dt.date] = set()
    provisional: set[int] = set()
    for year, entry in data.items():
        if not isinstance(year, int) or not isinstance(entry, dict):
            raise CalendarError(text("case.calendar_bad", item=str(year)))
        for item in entry.get("holidays") or []:
            off.update(_days(item, year))
        for item in entry.get("workdays") or []:
            for day in _days(item, year):
                if day.weekday() < 5:  # a make-up working day is a weekend day
                    raise CalendarError(text("case.calendar_bad", item=str(day)))
                work.add(day)
        if entry.get("provisional"):
            provisional.add(year)
    if off & work:
        raise CalendarError(text("case.calendar_bad", item=str(min(off & work))))
    return Calendar(frozenset(off), frozenset(work), frozenset(data), frozenset(provisional))


@cache
def default_calendar() -> Calendar:
    """The packaged calendar (holidays.yaml)."""
    raw = resources.files(__package__).joinpath("holidays.yaml").read_text(encoding="utf-8")
    return parse_calendar(yaml.safe_load(raw))
