"""Masked person views (R28): a birth year, dates by month of months that are over, and no
masked file of anyone on any day that leaves fewer than 10,000 ID numbers."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from fpcredit.guard.access import Role
from fpcredit.link.file import PersonFile
from fpcredit.standard import idcard
from fpcredit.web.api.views import person_view
from tests.reidentify import FLOOR, Clues, cells


def _file(born: dt.date, *facts: tuple[dt.date, dt.datetime]) -> PersonFile:
    rows = [
        {"id": i, "kind": "vaccination", "source": "cdc", "event_date": day,
         "recorded_at": at, "disputed": False}
        for i, (day, at) in enumerate(facts, start=1)
    ]  # fmt: skip
    number = "331022" + born.strftime("%Y%m%d") + "649"
    number += idcard.check_digit(number)
    return PersonFile(
        1, "张三", number, "13812345678", None, 1, born, "331022", "331022", "urban", None,
        facts=rows, facts_total=len(rows),
    )  # fmt: skip


def test_a_masked_file_shows_a_year_and_months_of_months_that_are_over() -> None:
    on = dt.date(2026, 3, 5)
    file = _file(
        dt.date(1990, 8, 31),
        (dt.date(2026, 3, 1), dt.datetime(2026, 3, 2, 9)),  # this month: not yet
        (dt.date(2026, 2, 27), dt.datetime(2026, 3, 1, 9)),  # recorded this month: not yet
        (dt.date(2026, 2, 3), dt.datetime(2026, 2, 4, 9)),
    )
    view = person_view(file, Role.NATIONAL, reveal=True, on=on)
    assert (view.masked, view.date_precision) == (True, "month")
    assert view.id_number == "331022************" and view.name == "张*"
    assert (view.birth_year, view.birth_date) == (1990, None)
    shown = [(f.id, f.event_month, f.recorded_month) for f in view.facts]
    assert shown == [(3, "2026-02", "2026-02")]
    assert view.facts[0].event_date is None and view.facts[0].recorded_at is None
    assert view.facts_total == 3


@given(
    st.dates(dt.date(1950, 1, 1), dt.date(2030, 12, 31)),
    st.integers(0, 30_000),
    st.lists(st.tuples(st.integers(0, 30_000), st.integers(0, 400)), max_size=8),
)
def test_no_masked_file_leaves_fewer_than_10000(
    born: dt.date, age: int, facts: list[tuple[int, int]]
) -> None:
    """Any person on any day, with facts on any days after the birth: what their masked file
    shows leaves at least 10,000 ID numbers (also for a newborn read in early January)."""
    on = born + dt.timedelta(days=age)
    nine = dt.datetime.combine(born, dt.time(9))
    days = [
        (born + dt.timedelta(days=e), nine + dt.timedelta(days=e + r))
        for e, r in facts
        if e + r <= age
    ]
    view = person_view(_file(born, *days), Role.NATIONAL, reveal=False, on=on)
    clues = Clues(today=on, shown=view.id_number, sex=view.sex)
    clues.add(cells(view.model_dump(mode="json")), "view")
    if view.birth_year is None:
        clues.no_birth_year("view")
    count, why = clues.count(born, limit=FLOOR)
    assert count >= FLOOR, why


def test_a_reveal_and_the_citizen_see_dates_to_the_day() -> None:
    on = dt.date(2026, 3, 5)
    file = _file(dt.date(2025, 8, 31), (dt.date(2026, 3, 1), dt.datetime(2026, 3, 2, 9)))
    clerk = person_view(file, Role.COUNTY, reveal=True, on=on)
    assert (clerk.masked, clerk.date_precision, clerk.id_number) == (False, "day", file.id_number)
    assert (clerk.birth_year, clerk.birth_date) == (2025, dt.date(2025, 8, 31))
    assert clerk.facts[0].event_date == dt.date(2026, 3, 1)
    assert clerk.facts[0].event_month == "2026-03"
    own = person_view(file, Role.CITIZEN, reveal=False, on=on)
    assert (own.masked, own.date_precision, own.birth_date) == (True, "day", dt.date(2025, 8, 31))
    masked = person_view(file, Role.COUNTY, reveal=False, on=on)
    # Born last year: no year; the only fact is of a month not over.
    assert (masked.birth_year, masked.birth_date, masked.facts) == (None, None, [])
