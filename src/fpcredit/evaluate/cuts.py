"""The dates an evaluation is cut at: the last month end (score) and quarter end (grade)."""

from __future__ import annotations

import datetime as dt

from fpcredit.errors import FpcreditError
from fpcredit.evaluate.policy import LoadedPolicy
from fpcredit.evaluate.policy_model import Policy
from fpcredit.messages import text
from fpcredit.store.db import local_day

__all__ = ["FutureDateError", "cut_dates", "grade_date_from", "month_end", "not_in_future"]


class FutureDateError(FpcreditError):
    """An evaluation or explanation asked as of a day that has not come yet."""


def not_in_future(as_of: dt.date, today: dt.date | None = None) -> None:
    """Refuse a day after today (China Standard Time): an evaluation as of a later day would
    read the facts known now as if nothing could still happen before it, and publish grades
    for a quarter that is not over."""
    today = today or local_day()
    if as_of > today:
        raise FutureDateError(text("evaluation.future_as_of", day=as_of, today=today))


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


def grade_date_from(policy: Policy, day: dt.date) -> dt.date:
    """The first grade date on or after `day`: its month end, or its quarter end when grades
    are quarterly (`cut_dates` the other way round)."""
    end = month_end(day)
    if policy.schedule.grade == "quarterly":
        end = month_end(dt.date(end.year, end.month + (-end.month) % 3, 1))
    return end
