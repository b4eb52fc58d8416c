"""The working-day calendar: holidays and make-up days as data, deadlines in working days."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fpcredit.cases.calendar import Calendar, CalendarError, default_calendar, parse_calendar

CAL = default_calendar()
DAYS = st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2026, 10, 31))
SPANS = st.integers(min_value=0, max_value=40)
PLAIN = Calendar(frozenset(), frozenset(), frozenset(range(2024, 2028)))


def test_the_state_council_notices_are_in_the_data() -> None:
    assert not CAL.is_working_day(dt.date(2026, 10, 1))  # 国庆
    assert not CAL.is_working_day(dt.date(2026, 2, 17))  # 春节
    assert CAL.is_working_day(dt.date(2026, 10, 10))  # a Saturday worked (调休)
    assert CAL.is_working_day(dt.date(2026, 2, 28))
    assert CAL.is_working_day(dt.date(2025, 1, 26))  # a Sunday worked
    assert not CAL.is_working_day(dt.date(2025, 1, 28))  # 除夕 2025, a Tuesday off
    assert CAL.is_working_day(dt.date(2024, 2, 9))  # 除夕 2024: not a holiday that year
    assert not CAL.is_working_day(dt.date(2024, 6, 8))  # an ordinary Saturday


def test_a_holiday_inside_the_window_moves_the_due_date() -> None:
    # Opened on Monday 28 September 2026: 国庆 1–7 October lies inside, 10 October is worked.
    assert CAL.add_working_days(dt.date(2026, 9, 28), 20) == dt.date(2026, 10, 30)
    assert PLAIN.add_working_days(dt.date(2026, 9, 28), 20) == dt.date(2026, 10, 26)
    # Opened on Friday 13 February 2026, before 春节 (15–23 February; 14 and 28 worked).
    assert CAL.add_working_days(dt.date(2026, 2, 13), 10) == dt.date(2026, 3, 5)


def test_a_year_outside_the_data_is_refused_not_guessed() -> None:
    with pytest.raises(CalendarError):
        CAL.is_working_day(dt.date(2028, 1, 3))
    assert 2027 in CAL.provisional


@pytest.mark.parametrize(
    "data",
    [
        {},
        {2026: {"workdays": ["2026-10-12"]}},  # a Monday cannot be a make-up working day
        {2026: {"holidays": ["2026-10-07..2026-10-01"]}},
        {2026: {"holidays": ["2027-01-01"]}},
        {2026: {"holidays": [dt.date(2026, 10, 10)], "workdays": [dt.date(2026, 10, 10)]}},
    ],
)
def test_malformed_holiday_data_is_refused(data: dict[int, object]) -> None:
    with pytest.raises(CalendarError):
        parse_calendar(data)


@settings(max_examples=300, deadline=None)
@given(DAYS, SPANS)
def test_the_due_date_is_the_nth_working_day(start: dt.date, n: int) -> None:
    due = CAL.add_working_days(start, n)
    assert CAL.working_days_between(start, due) == n
    if n:
        assert CAL.is_working_day(due)
        assert due > start
    else:
        assert due == start


@settings(max_examples=300, deadline=None)
@given(DAYS, SPANS)
def test_one_more_day_is_later(start: dt.date, n: int) -> None:
    assert CAL.add_working_days(start, n + 1) > CAL.add_working_days(start, n)


@settings(max_examples=300, deadline=None)
@given(DAYS, SPANS, SPANS)
def test_deadlines_compose(start: dt.date, a: int, b: int) -> None:
    assert CAL.add_working_days(CAL.add_working_days(start, a), b) == CAL.add_working_days(
        start, a + b
    )


@settings(max_examples=300, deadline=None)
@given(DAYS, SPANS)
def test_without_holidays_it_is_weekday_arithmetic(start: dt.date, n: int) -> None:
    due = PLAIN.add_working_days(start, n)
    weekdays = sum(
        1 for i in range(1, (due - start).days + 1) if (start + dt.timedelta(i)).weekday() < 5
    )
    assert weekdays == n


@settings(max_examples=200, deadline=None)
@given(DAYS, SPANS, st.sets(DAYS, max_size=15))
def test_days_off_never_bring_a_due_date_forward(start: dt.date, n: int, off: set[dt.date]) -> None:
    with_off = Calendar(frozenset(off), frozenset(), PLAIN.years)
    assert with_off.add_working_days(start, n) >= PLAIN.add_working_days(start, n)
