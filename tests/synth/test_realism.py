"""R9 realism: births, spacing, pregnancies, vaccinations, checks, insurance, credit decisions."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import numpy as np
import polars as pl
import pytest

from fpcredit.synth.clock import YEAR_DAYS, add_years, day_number, ymd
from fpcredit.synth.feeds import credit
from fpcredit.synth.feeds.cdc import SCHEDULE
from fpcredit.synth.world import World, build_world
from tests.synth.conftest import Run
from tests.synth.rows import rows


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(9, 20_000)


def _tfr(world: World, year: int) -> float:
    persons, children = world.persons, world.children
    women = np.flatnonzero(persons.sex[: world.n_base] == 2)
    mid = day_number(dt.date(year, 7, 1))
    exposure = np.bincount(((mid - persons.birth[women]) / YEAR_DAYS).astype(int), minlength=80)
    born = ymd(children.birth)[0] == year
    age = ((children.birth - persons.birth[children.mother]) / YEAR_DAYS).astype(int)[born]
    rates = np.bincount(age, minlength=80) / np.maximum(exposure, 1)
    # Only ages the closed 2016 cohort still covers that year.
    return float(rates[15:50][exposure[15:50] > 0].sum())


def test_total_fertility_rate_is_zhejiangs(world: World) -> None:
    tfr = [_tfr(world, year) for year in range(2019, 2024)]
    assert 1.0 <= sum(tfr) / len(tfr) <= 1.4


def test_births_are_spaced_at_least_nine_months_and_mostly_two_to_six_years(world: World) -> None:
    kids = world.children
    order = np.lexsort((kids.birth, kids.mother))
    mother, birth = kids.mother[order], kids.birth[order]
    gaps = np.diff(birth)[mother[1:] == mother[:-1]]
    assert gaps.min() >= 274
    inside = ((gaps >= 2 * YEAR_DAYS) & (gaps <= 6 * YEAR_DAYS)).mean()
    assert inside >= 0.65


def test_pregnancies_outnumber_births_and_mothers_are_adults(world: World) -> None:
    preg = world.pregnancies
    assert 0.05 <= 1 - preg.live.mean() <= 0.25
    assert (preg.gravidity >= preg.parity).all()
    age = (world.children.birth - world.persons.birth[world.children.mother]) / YEAR_DAYS
    assert age.min() >= 20
    second = world.children.parity >= 2
    assert 0.2 <= second.mean() <= 0.5


def test_vaccinations_follow_the_schedule(late: Run) -> None:
    doses: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    births = {}
    for row in rows(late, "cdc"):
        if row.kind == "":
            child = row.who["child"]["person_key"]
            doses[child, row.values["ymdm"]].append((row.values["jc"], row.values["jzrq"]))
            births[child] = row.values["csrq"]
    schedule = dict(SCHEDULE)
    for (_, code), given in doses.items():
        assert {int(n) for n, _ in given} <= set(range(1, len(schedule[code]) + 1))
        dates = [d for _, d in sorted(given, key=lambda g: int(g[0]))]
        assert dates == sorted(dates)
    hepb = {child for (child, code) in doses if code == "0101"}
    assert len(hepb) >= 0.9 * len(births)


def test_most_births_have_five_prenatal_checks(late: Run) -> None:
    checks: dict[str, list[str]] = defaultdict(list)
    for row in rows(late, "mch"):
        if row.values["fwlx"] == "01" and row.kind == "":
            checks[row.who["self"]["person_key"]].append(row.values["fwrq"])
    births = [
        (row.who["mother"]["person_key"], row.values["出生日期"])
        for row in rows(late, "health")
        if row.kind == ""
    ]
    counts = []
    for mother, born in births:
        start = (dt.date.fromisoformat(born) - dt.timedelta(days=300)).isoformat()
        counts.append(sum(start <= day <= born for day in checks[mother]))
    assert np.median(counts) >= 5
    assert np.mean(np.array(counts) >= 5) >= 0.7


def test_freelancers_skip_months_and_employees_rarely(late: Run) -> None:
    months: dict[tuple[str, str], list[int]] = defaultdict(list)
    for row in rows(late, "hrss"):
        if row.kind == "":
            month = int(row.values["AAE002"][:4]) * 12 + int(row.values["AAE002"][4:])
            months[row.values["AAC013"], row.who["self"]["person_key"]].append(month)
    gaps: dict[str, list[bool]] = defaultdict(list)
    for (kind, _), seen in months.items():
        gaps[kind].append(max(seen) - min(seen) + 1 > len(set(seen)))
    assert np.mean(gaps["20"]) > np.mean(gaps["10"]) and np.mean(gaps["20"]) > 0.5


def test_children_are_registered_with_the_police(late: Run) -> None:
    police = {
        row.who["self"]["person_key"]
        for row in rows(late, "police")
        if row.values["yhzgx"] in ("20", "30")
    }
    children = {row.who["child"]["person_key"] for row in rows(late, "health")}
    assert len(children & police) >= 0.95 * len(children)


@pytest.fixture(scope="module")
def decisions(world: World) -> pl.DataFrame:
    """Every credit decision to the horizon, with its person's group."""
    frame = credit.rows(world, 9)
    persons = world.persons
    person = frame["_self"].to_numpy()
    group = np.where(
        persons.migrant[person], "migrant", np.where(persons.urban[person], "urban", "rural")
    )
    return frame.with_columns(pl.Series("group", group))


def _groups(world: World) -> dict[str, int]:
    persons = world.persons
    base = np.arange(world.n_base)
    migrant, urban = persons.migrant[base], persons.urban[base]
    return {
        "migrant": int(migrant.sum()),
        "urban": int((urban & ~migrant).sum()),
        "rural": int((~urban & ~migrant).sum()),
    }


def test_credit_events_befall_one_and_a_half_percent_of_adults(decisions: pl.DataFrame) -> None:
    events = decisions.filter(pl.col("_kind") == 0)
    assert events["_self"].n_unique() == events.height  # one each
    assert 0.012 <= events.height / 20_000 <= 0.018
    severity = events["_severity"].value_counts(normalize=True).sort("_severity")["proportion"]
    assert 0.50 <= severity[0] <= 0.70 and 0.22 <= severity[1] <= 0.38
    assert 0.05 <= severity[2] <= 0.15
    assert 0.62 <= (events["_type"] == 0).mean() <= 0.78  # false declarations


def test_difficulties_befall_rural_people_and_migrants_twice_as_often(
    world: World, decisions: pl.DataFrame
) -> None:
    difficulties = decisions.filter(pl.col("_kind") == 1)
    assert 0.026 <= difficulties.height / 20_000 <= 0.034
    size = _groups(world)
    rate = {g: difficulties.filter(group=g).height / n for g, n in size.items()}
    assert 1.5 <= rate["rural"] / rate["urban"] <= 2.7
    assert 1.5 <= rate["migrant"] / rate["urban"] <= 2.7
    scopes = np.bincount(difficulties["_scope"].to_numpy(), minlength=5) / difficulties.height
    assert scopes[0] == scopes.max() and scopes[0] + scopes[1] >= 0.55


def test_difficulties_last_six_to_twenty_four_months(decisions: pl.DataFrame) -> None:
    difficulties = decisions.filter(pl.col("_kind") == 1)
    days = (difficulties["_valid_until"] - difficulties["_day"]).to_numpy()
    assert days.min() >= 181 and days.max() <= 731
    assert days.min() < 200 and days.max() > 700
    migrant_work = difficulties.filter(pl.col("_reason") == 3)
    assert (migrant_work["group"] != "urban").mean() >= 0.8


def test_decisions_concern_adults_in_the_window_and_are_keyed_within_days(
    world: World, decisions: pl.DataFrame
) -> None:
    day = decisions["_day"].to_numpy()
    born = world.persons.birth[decisions["_self"].to_numpy()]
    assert (day >= add_years(born, 18)).all()
    assert day.min() >= day_number(dt.date(2016, 1, 1))
    assert day.max() <= day_number(dt.date(2030, 12, 31))
    lag = decisions["_recorded"].to_numpy() / 86_400 - day
    assert lag.min() >= 1 and 2 <= np.median(lag) <= 8


def test_vaccination_and_infant_care_difficulties_only_for_parents(
    world: World, decisions: pl.DataFrame
) -> None:
    parents = set(world.children.mother) | set(world.children.father)
    childcare = decisions.filter(pl.col("_kind") == 1, pl.col("_scope") >= 3)
    assert childcare.height > 0
    assert set(childcare["_self"].to_list()) <= parents
