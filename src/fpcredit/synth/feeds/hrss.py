"""人社 maternity insurance (生育保险): monthly contributions of insured women, `hrss.csv`.

The province asks 人社 for the contributions of insured women around each pregnancy: from 12
months before conception to 12 months after its end (a full monthly roll of every insured person
would be fifty times larger than all other feeds together and says nothing more about births).
Employees' months are processed in the next month's batch; freelancers (灵活就业) pay themselves,
skip months and pay late. Some women leave insurance (status 3).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import polars as pl

from fpcredit.synth.clock import month_index, month_start, time_text
from fpcredit.synth.feeds.base import clock_time, late, scramble, self_feed, shown_id
from fpcredit.synth.rng import Ints, lognormal, stream
from fpcredit.synth.world import World, take

__all__ = ["FEED"]

_EMPLOYEE, _FREELANCER, _OTHER = 10, 20, 30
_RATE_CENTS: Final = 0.8  # 0.8 % of the contribution base, in cents per yuan
_BASE_LIMITS: Final = (3957.0, 19783.0)  # 浙江 2023 contribution base floor and ceiling (yuan)
_FIRST_MONTH: Final = 2016 * 12  # month indices (year * 12 + month - 1) of the window
_LAST_MONTH: Final = 2030 * 12 + 11


def rows(world: World, seed: int) -> pl.DataFrame:
    """One row per insured woman and contribution month in her maternity windows."""
    rng = stream(seed, "hrss", "rows")
    kind = _insurance(rng, world)
    woman, month = _months(world, kind)
    woman, month, status = _statuses(rng, woman, month, kind[woman])
    n = len(woman)
    cents = _contributions(rng, world, kind)[woman] * 1.05 ** ((month // 12) - 2016)
    cents = np.where(status == 1, np.round(cents), 0).astype(np.int64)
    behind = _months_late(rng, kind[woman])
    batch = month_start(month + 1 + behind) + rng.integers(7, 20, n)
    return pl.DataFrame(
        {
            "_key": scramble(np.arange(n), 12, seed),
            "_recorded": late(batch, np.zeros(n), clock_time(rng, n, 1, 5)),
            "_self": woman,
            "_month": month,
            "_status": status,
            "_cents": cents,
            "_type": kind[woman],
            "_u_id": rng.random(n),
        }
    )


def _insurance(rng: np.random.Generator, world: World) -> Ints:
    """Employment type of each person's insurance, 0 for the uninsured (men are not asked for)."""
    persons = world.persons
    n = len(persons)
    job = persons.occupation
    employee = np.isin(job, list("123467"))
    town = persons.urban & ~persons.migrant
    p = np.where(employee, np.where(town, 0.8, 0.5), np.where(job == "F", 0.55, 0.08))
    kind = np.where(employee, _EMPLOYEE, np.where(job == "F", _FREELANCER, _OTHER))
    return np.where((rng.random(n) < p) & (persons.sex == 2), kind, 0)


def _months(world: World, kind: Ints) -> tuple[Ints, Ints]:
    preg = world.pregnancies
    insured = kind[preg.mother] > 0
    mother = preg.mother[insured]
    first = np.maximum(month_index(preg.conception[insured]) - 12, _FIRST_MONTH)
    last = np.minimum(month_index(preg.outcome[insured]) + 12, _LAST_MONTH)
    count = np.maximum(last - first + 1, 0)
    woman = np.repeat(mother, count)
    offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    # Windows of close pregnancies overlap: one row per woman and month.
    pairs = np.unique(woman * 100_000 + np.repeat(first, count) + offset)
    return pairs // 100_000, pairs % 100_000


def _statuses(
    rng: np.random.Generator, woman: Ints, month: Ints, kind: Ints
) -> tuple[Ints, Ints, Ints]:
    """1 paid, 2 suspended, 3 ended; freelancers' skipped months have no row at all."""
    n = len(woman)
    start = np.searchsorted(woman, woman)
    rank = np.arange(n) - start
    size = np.searchsorted(woman, woman, side="right") - start
    leaves = rng.random(n)[start] < 0.06  # one draw per woman, at her first row
    end = np.where(leaves, (rng.random(n)[start] * size).astype(np.int64), size)
    free = kind == _FREELANCER
    status = np.where(rank == end, 3, np.where(rng.random(n) < np.where(free, 0.04, 0.005), 2, 1))
    keep = (rank <= end) & ~(free & (rng.random(n) < 0.12))
    return woman[keep], month[keep], status[keep]


def _contributions(rng: np.random.Generator, world: World, kind: Ints) -> np.ndarray:
    """Monthly contribution in cents in 2016 money, per person."""
    n = len(kind)
    salary = lognormal(rng, n, 7000, 0.4, *_BASE_LIMITS)
    # Freelancers choose 60 % or 100 % of the average wage as their base.
    chosen = np.where(rng.random(n) < 0.6, _BASE_LIMITS[0], 6600.0)
    return np.where(kind == _FREELANCER, chosen, np.round(salary)) * _RATE_CENTS


def _months_late(rng: np.random.Generator, kind: Ints) -> Ints:
    n = len(kind)
    free = kind == _FREELANCER
    behind = np.where(rng.random(n) < np.where(free, 0.18, 0.02), rng.integers(1, 5, n), 0)
    tail = np.where(rng.random(n) < 0.005, rng.integers(6, 13, n), 0)
    return (behind + tail).astype(np.int64)


def render(frame: pl.DataFrame, world: World) -> pl.DataFrame:
    """The social-insurance data dictionary's columns."""
    text, persons = world.text, world.persons
    woman = frame["_self"].to_numpy()
    month = frame["_month"]
    cents = frame["_cents"]
    return pl.DataFrame(
        {
            "AAZ220": "P" + frame["_key"].cast(pl.Utf8).str.zfill(12),
            "AAC002": shown_id(take(text["id_number"], woman), frame["_u_id"], 0.1, 0),
            "AAC003": take(text["name"], woman),
            "AAC004": pl.Series(persons.sex[woman]).cast(pl.Utf8),
            "AAE002": ((month // 12) * 100 + month % 12 + 1).cast(pl.Utf8),
            "AAE019": (cents // 100).cast(pl.Utf8) + "." + (cents % 100).cast(pl.Utf8).str.zfill(2),
            "AAC008": frame["_status"].cast(pl.Utf8),
            "AAC013": frame["_type"].cast(pl.Utf8),
            "AAB301": take(text["residence"], woman),
            "AAE036": time_text(frame["_recorded"], "%Y-%m-%d %H:%M:%S"),
        }
    )


FEED = self_feed(
    "hrss.csv", "AAZ220", rows, render,
    ids=("AAC002", True), name="AAC003", birth=None,
    event=("AAE002", "%Y%m"), codes=("AAC013", ("40", "90")),
    id_missing_weight=0.25,
)  # fmt: skip
