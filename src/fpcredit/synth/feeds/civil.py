"""民政 marriage registration (婚姻登记): marriages and divorces, `civil.parquet`.

A marriage is registered where one of the spouses has the hukou, so couples of migrants married
in their home province are not in this feed; since June 2021 浙江 (a pilot of 跨省通办)
registers some of them where they live. History back to the couples' weddings is included.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import numpy as np
import polars as pl

from fpcredit.synth.clock import HORIZON_DAY, date_text, day_number, time_text
from fpcredit.synth.feeds.base import DateSlot, Feed, IdSlot, Slots, clock_time, late, scramble
from fpcredit.synth.geography import geography
from fpcredit.synth.population import NEVER
from fpcredit.synth.rng import Ints, stream, with_tail
from fpcredit.synth.world import World, take

__all__ = ["FEED", "marriage_certificates"]

_PILOT: Final = day_number(dt.date(2021, 6, 1))


def rows(world: World, seed: int) -> pl.DataFrame:
    """Registrations recorded the same day or within days; a few keyed in months later."""
    rng = stream(seed, "civil", "rows")
    couples, persons = world.couples, world.persons
    n = len(couples.wife)
    wife_home = ~persons.migrant[couples.wife]
    husband_home = ~persons.migrant[couples.husband]
    pilot = (couples.date >= _PILOT) & (rng.random(n) < 0.4)
    married_here = (wife_home | husband_home | pilot) & (rng.random(n) < 0.97)
    office = np.where(
        wife_home,
        persons.hukou[couples.wife],
        np.where(husband_home, persons.hukou[couples.husband], persons.residence[couples.wife]),
    )
    # Divorces by agreement are registered; the rest go through the courts.
    divorced_here = married_here & (couples.divorce < NEVER) & (rng.random(n) < 0.75)
    couple = np.concatenate([np.flatnonzero(married_here), np.flatnonzero(divorced_here)])
    kind = np.repeat([1, 2], [married_here.sum(), divorced_here.sum()])
    day = np.where(kind == 1, couples.date[couple], couples.divorce[couple])
    order = np.lexsort((kind, couple))
    couple, kind, day = couple[order], kind[order], day[order]
    return _frame(rng, world, couple, kind, day, office[couple], seed)


def _frame(
    rng: np.random.Generator,
    world: World,
    couple: np.ndarray,
    kind: np.ndarray,
    day: np.ndarray,
    office: np.ndarray,
    seed: int,
) -> pl.DataFrame:
    n = len(couple)
    same_day = rng.random(n) < 0.75
    lag = with_tail(rng, np.where(same_day, 0, rng.integers(1, 6, n)).astype(float), 0.03, 30, 200)
    frame = pl.DataFrame(
        {
            "_key": scramble(np.arange(n), 10, seed),
            "_couple": couple,
            "_recorded": late(day, lag, clock_time(rng, n, 9, 17)),
            "_husband": world.couples.husband[couple],
            "_wife": world.couples.wife[couple],
            "_kind": kind,
            "_day": day,
            "_office": office,
        }
    )
    return frame.filter(pl.col("_day") <= HORIZON_DAY)


def marriage_certificates(world: World, seed: int) -> Ints:
    """The marriage certificate number of each couple, by couple index: -1 for couples whose
    marriage is not registered in this feed. Other departments' records cite it."""
    married = rows(world, seed).filter(pl.col("_kind") == 1)
    out = np.full(len(world.couples.wife), -1, dtype=np.int64)
    out[married["_couple"].to_numpy()] = married["_key"].to_numpy()
    return out


def render(frame: pl.DataFrame, world: World) -> pl.DataFrame:
    """The department's columns."""
    text = world.text
    husband, wife = frame["_husband"].to_numpy(), frame["_wife"].to_numpy()
    return pl.DataFrame(
        {
            "cert_no": frame["_key"].cast(pl.Utf8).str.zfill(10),
            "reg_type": frame["_kind"].cast(pl.Utf8),
            "reg_date": date_text(frame["_day"], "%Y-%m-%d"),
            "man_name": take(text["name"], husband),
            "man_id": take(text["id_number"], husband),
            "man_birth": take(text["birth"], husband),
            "woman_name": take(text["name"], wife),
            "woman_id": take(text["id_number"], wife),
            "woman_birth": take(text["birth"], wife),
            "reg_org": geography().code_series(frame["_office"].to_numpy()),
            "entry_time": time_text(frame["_recorded"], "%Y-%m-%d %H:%M:%S"),
        }
    )


FEED = Feed(
    source="civil",
    file="civil.parquet",
    encoding="utf-8",
    key="cert_no",
    principal="wife",
    roles=("husband", "wife"),
    slots=Slots(
        ids=(IdSlot("man_id", "husband", True), IdSlot("woman_id", "wife", True)),
        names=(("man_name", "husband"), ("woman_name", "wife")),
        births=(
            DateSlot("man_birth", "husband", "%Y-%m-%d"),
            DateSlot("woman_birth", "wife", "%Y-%m-%d"),
        ),
        event=DateSlot("reg_date", "wife", "%Y-%m-%d"),
        code="reg_type",
        unknown_codes=("0", "9"),
    ),
    rows=rows,
    render=render,
)
