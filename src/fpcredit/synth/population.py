"""The people of the synthetic province at 2016-01-01: women 15–49, their husbands, single men.

Every woman of child-bearing age gets a first-marriage date (some before 2016, some during the
window, a few never); each woman who marries by the horizon brings a husband, and the rest of the
`people` are single men, so the sexes are about balanced as in the census. About a fifth are
migrants: they live in 浙江 but their hukou is in a home province. Children are added later by
`fertility`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields, replace
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from fpcredit.synth import names
from fpcredit.synth.clock import (
    HORIZON_DAY,
    WINDOW_START,
    YEAR_DAYS,
    Days,
    add_years,
    day_number,
    from_ymd,
    ymd,
)
from fpcredit.synth.geography import addresses, geography, phones
from fpcredit.synth.idnumbers import id_numbers
from fpcredit.synth.rng import Ints, pick, stream

__all__ = ["NEVER", "Marriages", "Persons", "build_base"]

Bools = npt.NDArray[np.bool_]
Strs = npt.NDArray[np.str_]
NEVER: Final = 10**6  # a day number after every horizon: "did not happen"

# Births in China by year (millions), 1966–2000: the shape of the cohorts aged 15–49 in 2016.
_BIRTHS: Final = np.array([
    25.8, 25.6, 27.6, 27.2, 27.4, 25.7, 25.5, 24.6, 22.3, 21.0, 18.5, 17.9, 17.5, 17.3, 17.8,
    20.7, 22.3, 20.5, 20.5, 22.0, 23.8, 25.2, 24.6, 24.1, 23.9, 22.6, 21.1, 21.3, 21.0, 20.6,
    20.7, 20.4, 19.9, 18.3, 17.7,
])  # fmt: skip
_FIRST_YEAR: Final = 1966
_OLDEST: Final = day_number(dt.date(1966, 1, 2))
_YOUNGEST: Final = day_number(dt.date(2000, 12, 31))
_WOMEN_SHARE: Final = 0.488  # 浙江 2020: 107.2 men per 100 women
# GB/T 6565 major groups, F freelancer (灵活就业), S student, N none: shares by hukou type.
_OCCUPATIONS: Final = np.array(list("12345678FSN"))
_URBAN_JOBS: Final = (4, 18, 12, 24, 1, 16, 0.5, 3, 12, 3, 6)
_RURAL_JOBS: Final = (2, 6, 5, 18, 22, 24, 0.3, 4, 10, 2, 8)


@dataclass(frozen=True)
class Persons:
    """Everyone, as parallel arrays indexed by person (person key = index + 1)."""

    sex: Ints  # 1 male, 2 female
    birth: Days
    hukou: Ints  # county index (geography)
    residence: Ints  # county index, always in 浙江
    urban: Bools  # non-agricultural hukou (户口性质)
    migrant: Bools  # hukou outside 浙江
    occupation: Strs  # police `zy` code
    surname: Strs
    given: Strs
    id_number: Strs
    phone: Strs  # "" for children
    address: Strs

    def __len__(self) -> int:
        return len(self.sex)

    def take(self, index: Ints) -> Persons:
        """The persons at `index`, in that order."""
        return Persons(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def concat(self, other: Persons) -> Persons:
        """These persons followed by `other`."""
        pairs = {f.name: (getattr(self, f.name), getattr(other, f.name)) for f in fields(self)}
        return Persons(**{k: np.concatenate(v) for k, v in pairs.items()})


@dataclass(frozen=True)
class Marriages:
    """One entry per couple, ordered by wife."""

    wife: Ints
    husband: Ints
    date: Days
    divorce: Days  # NEVER when still married at the horizon
    wife_heads: Bools  # the wife is the household head (户主)


def build_base(seed: int, people: int) -> tuple[Persons, Marriages]:
    """`people` persons alive on 2016-01-01 and their marriages, in a shuffled order."""
    rng = stream(seed, "population")
    n_women = max(1, round(people * _WOMEN_SHARE))
    women, marriage = _women(rng, n_women)
    married = np.flatnonzero(marriage < NEVER)[: max(0, people - n_women)]
    husbands = _husbands(rng, women.take(married), marriage[married])
    singles = _single_men(rng, people - n_women - len(married))
    # Shuffle, so that a person key says nothing about sex, age or marriage.
    order = rng.permutation(people)
    position = np.empty(people, dtype=np.int64)
    position[order] = np.arange(people)
    husband = position[n_women + np.arange(len(married))]
    couples = _marriages(rng, position[married], husband, marriage[married])
    return women.concat(husbands).concat(singles).take(order), couples


def _women(rng: np.random.Generator, n: int) -> tuple[Persons, Days]:
    birth = _birth_days(rng, n)
    age = (WINDOW_START - birth) / YEAR_DAYS
    migrant = rng.random(n) < np.where((age >= 18) & (age <= 40), 0.26, 0.09)
    hukou = _hukou(rng, migrant)
    urban = _urban(rng, migrant, hukou)
    women = _persons(rng, np.full(n, 2), birth, hukou, _residence(rng, migrant, hukou), urban)
    return women, _first_marriage(rng, birth, urban)


def _husbands(rng: np.random.Generator, wives: Persons, marriage: Days) -> Persons:
    n = len(wives)
    gap = np.clip(rng.normal(2.3, 2.6, n), -3, 10) * YEAR_DAYS
    # Men may marry from 22 (婚姻法 art. 6).
    birth = np.minimum(wives.birth + gap.astype(np.int64), add_years(marriage, -22) - 1)
    hukou = np.where(rng.random(n) < 0.65, wives.hukou, _same_province(rng, wives.hukou))
    urban = _urban(rng, wives.migrant, hukou)
    husbands = _persons(rng, np.ones(n, np.int64), birth, hukou, wives.residence, urban)
    return replace(husbands, address=wives.address)


def _single_men(rng: np.random.Generator, n: int) -> Persons:
    birth = _birth_days(rng, n)
    migrant = rng.random(n) < 0.22
    hukou = _hukou(rng, migrant)
    residence = _residence(rng, migrant, hukou)
    return _persons(rng, np.ones(n, np.int64), birth, hukou, residence, _urban(rng, migrant, hukou))


def _birth_days(rng: np.random.Generator, n: int) -> Days:
    year = _FIRST_YEAR + pick(rng, n, _BIRTHS)
    jan1 = from_ymd(year, np.ones(n, np.int64), np.ones(n, np.int64))
    # Everyone is 15–49 on 2016-01-01.
    return np.asarray(np.clip(jan1 + rng.integers(0, 365, n), _OLDEST, _YOUNGEST), dtype=np.int64)


def _hukou(rng: np.random.Generator, migrant: Bools) -> Ints:
    geo = geography()
    home = geo.zhejiang[pick(rng, len(migrant), geo.resident_weight)]
    away = geo.origins[pick(rng, len(migrant), geo.origin_weight)]
    return np.where(migrant, away, home)


def _residence(rng: np.random.Generator, migrant: Bools, hukou: Ints) -> Ints:
    geo = geography()
    n = len(hukou)
    moved = geo.zhejiang[pick(rng, n, geo.resident_weight)]
    destination = geo.zhejiang[pick(rng, n, geo.migrant_weight)]
    # Most people with a 浙江 hukou live in their hukou county; some moved within the province.
    return np.where(migrant, destination, np.where(rng.random(n) < 0.82, hukou, moved))


def _same_province(rng: np.random.Generator, county: Ints) -> Ints:
    start, size = geography().province_span
    return start[county] + (rng.random(len(county)) * size[county]).astype(np.int64)


def _urban(rng: np.random.Generator, migrant: Bools, hukou: Ints) -> Bools:
    # Calibrated to ~70 % non-agricultural hukou overall; most migrants hold a rural hukou.
    p = np.where(migrant, 0.25, np.where(geography().urban[hukou], 0.95, 0.7))
    return rng.random(len(hukou)) < p


def _first_marriage(rng: np.random.Generator, birth: Days, urban: Bools) -> Days:
    age = np.clip(rng.normal(np.where(urban, 26.5, 24.5), 3.0), 20.1, 45.0)
    day = birth + (age * YEAR_DAYS).astype(np.int64)
    never = (rng.random(len(birth)) < 0.05) | (day > HORIZON_DAY)
    return np.where(never, NEVER, day)


def _persons(
    rng: np.random.Generator, sex: Ints, birth: Days, hukou: Ints, residence: Ints, urban: Bools
) -> Persons:
    n = len(sex)
    migrant = ~np.isin(hukou, geography().zhejiang)
    era = names.birth_era(ymd(birth)[0])
    return Persons(
        sex=sex, birth=birth, hukou=hukou, residence=residence, urban=urban, migrant=migrant,
        occupation=_occupations(rng, birth, urban, migrant),
        surname=names.surnames(rng, n), given=names.given_names(rng, sex, era),
        id_number=id_numbers(rng, geography().code_numbers[hukou], birth, sex),
        phone=_strings(phones(rng, n)), address=_strings(addresses(rng, residence)),
    )  # fmt: skip


def _strings(series: pl.Series) -> Strs:
    return np.asarray(series.to_numpy(), dtype=np.str_)


def _occupations(rng: np.random.Generator, birth: Days, urban: Bools, migrant: Bools) -> Strs:
    n = len(birth)
    town = _OCCUPATIONS[pick(rng, n, _URBAN_JOBS)]
    country = _OCCUPATIONS[pick(rng, n, _RURAL_JOBS)]
    jobs = np.where(urban & ~migrant, town, country)
    young = (WINDOW_START - birth) / YEAR_DAYS < 18
    return np.where(young & (rng.random(n) < 0.5), "S", jobs)


def _marriages(rng: np.random.Generator, wife: Ints, husband: Ints, date: Days) -> Marriages:
    order = np.argsort(wife, kind="stable")
    wife, husband, date = wife[order], husband[order], date[order]
    n = len(wife)
    # Crude divorce rate ~3 per mille of the population: ~0.8 % of couples a year.
    divorce = np.maximum(date, WINDOW_START) + rng.exponential(125 * YEAR_DAYS, n).astype(np.int64)
    divorce = np.where(divorce > HORIZON_DAY, NEVER, divorce)
    return Marriages(wife, husband, date, divorce, rng.random(n) < 0.12)
