"""The dates an evaluation is cut at: the last month end (score) and quarter end (grade)."""

from __future__ import annotations

import datetime as dt

from fpcredit.evaluate.policy import LoadedPolicy

__all__ = ["cut_dates", "month_end"]


def month_end(day: dt.date) -> dt.date:
    """The last day of `day`'s month."""
    following = dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return following - dt.timedelta(days=1)


def cut_dates(policy: LoadedPolicy, as_of: dt.date) -> tuple[dt.date, dt.date]:
    """(score date, grade date): the last month end and quarter end on or before `as_of`."""
    sched = policy.policy.schedule
    score = as_of
    if sched.score == "monthly" and month_end(as_of) != as_of:
        score = dt.date(as_of.year, as_of.month, 1) - dt.timedelta(days=1)
    grade = score
    if sched.grade == "quarterly" and not (score.month % 3 == 0 and month_end(score) == score):
        grade = dt.date(score.year, score.month - (score.month - 1) % 3, 1) - dt.timedelta(days=1)
    return score, grade
