"""妇幼 maternal and child health services, `mch.parquet`.

01 prenatal checks (5–10 for most pregnancies, fewer for migrants and rural women, one or two
before a loss), 02 postnatal visits (days 3–7 and 28–42), 03 child health checks (1, 3, 6, 8,
12, 18, 24, 30, 36 months, then yearly to 6 years), 04 contraception measures (after a birth and
yearly for married women, never during a pregnancy), 05 infant-care services (0–3 years).
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from fpcredit.synth.clock import (
    DAY_SECONDS,
    HORIZON_DAY,
    YEAR_DAYS,
    Days,
    date_text,
    day_number,
    time_text,
    ymd,
)
from fpcredit.synth.feeds.base import clock_time, scramble, self_feed
from fpcredit.synth.population import NEVER
from fpcredit.synth.rng import Floats, Ints, lognormal, pick, stream, with_tail
from fpcredit.synth.world import World, take

__all__ = ["FEED"]

Part = tuple[Ints, Ints, Days, Ints, Ints]  # subject, service type, day, measure, check number
_CHECK_MONTHS: Final = np.array([1, 3, 6, 8, 12, 18, 24, 30, 36, 48, 60, 72])
# Contraception measures 01..07, 99 (IUD, implant, female/male sterilisation, condom, pill,
# injection, other) after a first birth, after a later birth, and at yearly follow-ups.
_MEASURES: Final = np.array(["01", "02", "03", "04", "05", "06", "07", "99"])
_AFTER_FIRST: Final = (50, 3, 1, 0.5, 35, 5, 2, 3.5)
_AFTER_LATER: Final = (45, 4, 14, 2, 25, 4, 2, 4)
_YEARLY: Final = (20, 3, 0, 0, 50, 15, 5, 7)
_FIRST_YEAR: Final = 2016


def rows(world: World, seed: int) -> pl.DataFrame:
    """All services to the horizon, uploaded within hours or days."""
    rng = stream(seed, "mch", "rows")
    parts = (
        _prenatal(rng, world), _postnatal(rng, world), _child_checks(rng, world),
        _after_birth(rng, world), _yearly(rng, world), _infant_care(rng, world),
    )  # fmt: skip
    subject, kind, day, measure, check = (np.concatenate([p[i] for p in parts]) for i in range(5))
    keep = day <= HORIZON_DAY
    order = np.lexsort((kind[keep], day[keep], subject[keep]))
    columns = [a[keep][order] for a in (subject, kind, day, measure, check)]
    return _frame(rng, world, *columns, seed=seed)


def _frame(
    rng: np.random.Generator,
    world: World,
    subject: Ints,
    kind: Ints,
    day: Days,
    measure: Ints,
    check: Ints,
    *,
    seed: int,
) -> pl.DataFrame:
    n = len(subject)
    hours = with_tail(rng, lognormal(rng, n, 20, 1.0, 0.2, 480) / 24, 0.015, 30, 200)
    recorded = day * DAY_SECONDS + clock_time(rng, n, 8, 17) + (hours * DAY_SECONDS).astype(int)
    registration = _registration(world)[subject]
    # A child's ID number exists after hukou registration and is often not keyed in.
    adult = subject < world.n_base
    known = adult | ((day >= registration) & (rng.random(n) < 0.8))
    no_check_number = rng.random(n) < 0.05
    return pl.DataFrame(
        {
            "_key": scramble(np.arange(n), 12, seed),
            "_recorded": recorded,
            "_self": subject,
            "_id": np.where(known, subject, -1),
            "_kind": kind,
            "_day": day,
            "_measure": measure,
            "_check": np.where(no_check_number, 0, check),
        }
    )


def _registration(world: World) -> Days:
    """Day from which each child's ID number is known (adults: always)."""
    known = np.full(len(world.persons), -NEVER, dtype=np.int64)
    known[world.children.person] = world.children.registration
    return known


def _group_level(world: World, person: Ints, town: float, country: float, away: float) -> Floats:
    persons = world.persons
    return np.where(persons.migrant[person], away, np.where(persons.urban[person], town, country))


def _explode(count: Ints) -> tuple[Ints, Ints]:
    """For counts per item: the item of each exploded row and its rank within the item."""
    item = np.repeat(np.arange(len(count)), count)
    rank = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    return item, rank


def _prenatal(rng: np.random.Generator, world: World) -> Part:
    preg = world.pregnancies
    n = len(preg)
    base = _group_level(world, preg.mother, 5, 4, 3)
    usual = (base + rng.poisson(_group_level(world, preg.mother, 3, 2.5, 2.5))).astype(np.int64)
    count = np.where(preg.live, usual, 1 + (rng.random(n) < 0.3))
    count = np.where(rng.random(n) < 0.03, 0, count)  # some never come for a check
    first = preg.conception + rng.integers(56, 92, n)
    last = preg.outcome - np.where(preg.live, 3, 1)
    count = np.where(first <= last, count, 0)
    item, rank = _explode(count)
    span = (last - first)[item] / np.maximum(count[item] - 1, 1)
    jitter = rng.integers(-3, 4, len(item))
    day = np.clip(first[item] + (rank * span).astype(np.int64) + jitter, first[item], last[item])
    return _part(preg.mother[item], 1, day, rank + 1)


def _part(subject: Ints, kind: int, day: Days, check: Ints, measure: Ints | None = None) -> Part:
    n = len(subject)
    none = np.full(n, -1, dtype=np.int64)
    return subject, np.full(n, kind), day, none if measure is None else measure, check


def _postnatal(rng: np.random.Generator, world: World) -> Part:
    kids = world.children
    n = len(kids.person)
    first = rng.random(n) < 0.9
    second = rng.random(n) < 0.85
    day = np.concatenate([kids.birth + rng.integers(3, 8, n), kids.birth + rng.integers(28, 43, n)])
    ok = np.concatenate([first, second])
    check = np.repeat([1, 2], n)
    return _part(np.concatenate([kids.mother, kids.mother])[ok], 2, day[ok], check[ok])


def _child_checks(rng: np.random.Generator, world: World) -> Part:
    kids = world.children
    n, k = len(kids.person), len(_CHECK_MONTHS)
    level = _group_level(world, kids.mother, 0.93, 0.86, 0.78)
    # Coverage falls a little with each check.
    done = rng.random((n, k)) < level[:, None] * 0.985 ** np.arange(k)
    due = kids.birth[:, None] + (_CHECK_MONTHS * 30.44).astype(np.int64)
    delay = lognormal(rng, n * k, 7, 0.8, 0, 60).reshape(n, k).astype(np.int64)
    child, number = np.nonzero(done)
    return _part(kids.person[child], 3, (due + delay)[child, number], number + 1)


def _after_birth(rng: np.random.Generator, world: World) -> Part:
    preg = world.pregnancies
    n = len(preg)
    day = preg.outcome + rng.integers(42, 366, n)
    following = np.append(preg.mother[1:] == preg.mother[:-1], False)
    next_conception = np.where(following, np.roll(preg.conception, -1), NEVER)
    ok = preg.live & (rng.random(n) < 0.65) & (day < next_conception)
    measure = np.where(preg.parity >= 2, pick(rng, n, _AFTER_LATER), pick(rng, n, _AFTER_FIRST))
    return _part(preg.mother[ok], 4, day[ok], np.zeros(ok.sum(), np.int64), measure[ok])


def _yearly(rng: np.random.Generator, world: World) -> Part:
    """Yearly follow-ups (free contraceptives, IUD checks) of married women, not while pregnant."""
    couples, persons = world.couples, world.persons
    years = np.arange(_FIRST_YEAR, 2031)
    n, k = len(couples.wife), len(years)
    jan1 = np.array([day_number(dt.date(int(y), 1, 1)) for y in years])
    day = jan1[None, :] + rng.integers(0, 365, (n, k))
    age = (day - persons.birth[couples.wife][:, None]) / YEAR_DAYS
    married = (day >= couples.date[:, None]) & (day < couples.divorce[:, None])
    ok = (rng.random((n, k)) < 0.25) & married & (age < 50)
    couple, year = np.nonzero(ok & ~_pregnant_years(world, couples.wife, years))
    measure = pick(rng, len(couple), _YEARLY)
    zeros = np.zeros(len(couple), np.int64)
    return _part(couples.wife[couple], 4, day[couple, year], zeros, measure)


def _pregnant_years(world: World, wife: Ints, years: Ints) -> npt.NDArray[np.bool_]:
    """(couple, year) cells in which the wife was pregnant or had just delivered."""
    preg = world.pregnancies
    first, last = ymd(preg.conception)[0], ymd(preg.outcome + 42)[0]
    couple = np.full(len(world.persons), -1, dtype=np.int64)
    couple[wife] = np.arange(len(wife))
    cells = np.zeros((len(wife), len(years)), dtype=bool)
    for offset in range(2):  # conception to six weeks after delivery: under a year
        year = first + offset
        hit = (year <= last) & (year >= years[0]) & (year <= years[-1])
        cells[couple[preg.mother[hit]], year[hit] - years[0]] = True
    return cells


def _infant_care(rng: np.random.Generator, world: World) -> Part:
    kids = world.children
    n = len(kids.person)
    joins = rng.random(n) < _group_level(world, kids.mother, 0.3, 0.12, 0.15)
    count = np.where(joins, rng.integers(1, 7, n), 0)
    item, _ = _explode(count)
    age = rng.integers(183, 1096, len(item))
    zeros = np.zeros(len(item), np.int64)
    return _part(kids.person[item], 5, kids.birth[item] + age, zeros)


def render(frame: pl.DataFrame, world: World) -> pl.DataFrame:
    """The MCH system's columns."""
    text, persons = world.text, world.persons
    subject = frame["_self"].to_numpy()
    measure = frame["_measure"].to_numpy()
    check = frame["_check"]
    return pl.DataFrame(
        {
            "fwbh": "M" + frame["_key"].cast(pl.Utf8).str.zfill(12),
            "fwlx": "0" + frame["_kind"].cast(pl.Utf8),
            "dxxm": take(text["name"], subject),
            "dxsfz": take(text["id_number"], frame["_id"].to_numpy()),
            "dxxb": pl.Series(persons.sex[subject]).cast(pl.Utf8),
            "dxcsrq": date_text(persons.birth[subject], "%Y%m%d"),
            "fwrq": date_text(frame["_day"], "%Y-%m-%d"),
            "jycs": pl.Series(np.where(measure >= 0, _MEASURES[np.maximum(measure, 0)], "")),
            "ccs": pl.Series(np.where(check.to_numpy() > 0, check.cast(pl.Utf8).to_numpy(), "")),
            "jgdm": take(text["residence"], subject),
            "sbsj": time_text(frame["_recorded"], "%Y-%m-%d %H:%M:%S"),
            "_adult": pl.Series(subject < world.n_base),
        }
    )


FEED = self_feed(
    "mch.parquet", "fwbh", rows, render,
    ids=("dxsfz", "_adult"), name="dxxm", birth=("dxcsrq", "%Y%m%d"),
    event=("fwrq", "%Y-%m-%d"), codes=("fwlx", ("00", "09")),
)  # fmt: skip
