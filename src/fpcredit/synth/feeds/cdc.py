"""疾控 vaccinations (预防接种) of the national immunisation programme, `cdc.jsonl`.

Each child follows the national schedule (HepB 0/1/6 m, BCG at birth, IPV 2/3 m, bOPV 4 m and
4 y, DTaP 3/4/5/18 m, DT 6 y, MMR 8/18 m, JE-L 8 m and 2 y, MPSV-A 6/9 m, MPSV-AC 3 y and 6 y,
HepA-L 18 m). A child may drop out of a series; migrants' and rural children drop out more.
Doses are given on time or a few days late, at least 4 weeks apart. The child's ID number is
only known after hukou registration and often not keyed in: an empty `etsfz` is normal.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import polars as pl

from fpcredit.synth.clock import DAY_SECONDS, HORIZON_DAY, YEAR_DAYS, Days, date_text, time_text
from fpcredit.synth.feeds.base import DateSlot, Feed, IdSlot, Slots, clock_time, scramble, shown_id
from fpcredit.synth.rng import Floats, Ints, lognormal, stream, with_tail
from fpcredit.synth.world import World, take

__all__ = ["FEED", "SCHEDULE"]

# (vaccine code, scheduled age in days of each dose)
SCHEDULE: Final = (
    ("0101", (0, 30, 182)),
    ("0201", (0,)),
    ("0301", (61, 91)),
    ("0302", (122, 1461)),
    ("0401", (91, 122, 152, 548)),
    ("0402", (2191,)),
    ("1201", (243, 548)),
    ("1401", (243, 730)),
    ("1601", (182, 274)),
    ("1701", (1096, 2191)),
    ("1801", (548,)),
)
_MIN_GAP: Final = 28  # days between two doses of one vaccine
_CODES: Final = np.array([code for code, _ in SCHEDULE])


def rows(world: World, seed: int) -> pl.DataFrame:
    """Every dose given to the horizon, uploaded hours to days later."""
    rng = stream(seed, "cdc", "rows")
    keep = _compliance(rng, world)
    parts = [_series(rng, world, keep, v, ages) for v, (_, ages) in enumerate(SCHEDULE)]
    child, vaccine, dose, day = (np.concatenate([p[i] for p in parts]) for i in range(4))
    order = np.lexsort((day, child))
    child, vaccine, dose, day = child[order], vaccine[order], dose[order], day[order]
    n = len(child)
    kids = world.children
    hours = with_tail(rng, lognormal(rng, n, 3, 1.3, 0.1, 720) / 24, 0.01, 30, 180)
    recorded = day * DAY_SECONDS + clock_time(rng, n, 8, 16.5) + (hours * DAY_SECONDS).astype(int)
    known = (day >= kids.registration[child]) & (rng.random(n) < 0.55)
    return pl.DataFrame(
        {
            "_key": scramble(np.arange(n), 12, seed),
            "_recorded": recorded,
            "_child": kids.person[child],
            "_mother": kids.mother[child],
            "_child_id": np.where(known, kids.person[child], -1),
            "_vaccine": vaccine,
            "_dose": dose,
            "_day": day,
            "_u_mother_id": rng.random(n),
        }
    )


def _compliance(rng: np.random.Generator, world: World) -> Floats:
    """Chance that a child who had the previous dose of a series gets the next one."""
    persons = world.persons
    mother = world.children.mother
    level = np.where(persons.migrant[mother], 0.975, np.where(persons.urban[mother], 0.995, 0.988))
    # A few children leave the province or are never vaccinated here at all.
    return np.where(rng.random(len(mother)) < 0.005, 0.0, level)


def _series(
    rng: np.random.Generator, world: World, keep: Floats, vaccine: int, ages: tuple[int, ...]
) -> tuple[Ints, Ints, Ints, Days]:
    birth = world.children.birth
    n = len(birth)
    given = np.ones(n, dtype=bool)
    previous = np.full(n, -(10**6), dtype=np.int64)
    parts: list[tuple[Ints, Ints, Ints, Days]] = []
    for dose, age in enumerate(ages, start=1):
        given &= rng.random(n) < keep - 0.004 * age / YEAR_DAYS
        day = np.maximum(birth + age + _delay(rng, n, age), previous + _MIN_GAP)
        ok = given & (day <= HORIZON_DAY)
        idx = np.flatnonzero(ok)
        parts.append((idx, np.full(len(idx), vaccine), np.full(len(idx), dose), day[ok]))
        previous = day
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(4))  # type: ignore[return-value]


def _delay(rng: np.random.Generator, n: int, age: int) -> Ints:
    if age == 0:  # birth doses in the maternity ward, the day of birth or the next days
        return rng.choice(np.array([0, 0, 0, 1, 2, 3]), n).astype(np.int64)
    late = with_tail(rng, lognormal(rng, n, 5, 1.0, 0, 300), 0.03, 30, 180)
    return late.astype(np.int64)


def render(frame: pl.DataFrame, world: World) -> pl.DataFrame:
    """The CDC system's keys and codes."""
    text, persons = world.text, world.persons
    child, mother = frame["_child"].to_numpy(), frame["_mother"].to_numpy()
    return pl.DataFrame(
        {
            "jzjlid": "V" + frame["_key"].cast(pl.Utf8).str.zfill(12),
            "etxm": take(text["name"], child),
            "etsfz": take(text["id_number"], frame["_child_id"].to_numpy()),
            "xb": pl.Series(np.where(persons.sex[child] == 1, "M", "F")),
            "csrq": take(text["birth"], child),
            "mqxm": take(text["name"], mother),
            "mqsfz": shown_id(take(text["id_number"], mother), frame["_u_mother_id"], 0.3, 0),
            "ymdm": pl.Series(_CODES[frame["_vaccine"].to_numpy()]),
            "jc": frame["_dose"].cast(pl.Utf8),
            "jzrq": date_text(frame["_day"], "%Y-%m-%d"),
            "jzdw": take(text["residence"], child),
            "scsj": time_text(frame["_recorded"], "%Y-%m-%d %H:%M:%S"),
        }
    )


FEED = Feed(
    source="cdc",
    file="cdc.jsonl",
    encoding="utf-8",
    key="jzjlid",
    principal="child",
    roles=("child", "mother"),
    slots=Slots(
        ids=(IdSlot("etsfz", "child", False), IdSlot("mqsfz", "mother", True)),
        names=(("etxm", "child"), ("mqxm", "mother")),
        births=(DateSlot("csrq", "child", "%Y-%m-%d"),),
        event=DateSlot("jzrq", "child", "%Y-%m-%d"),
        code="ymdm",
        unknown_codes=("0000", "9999"),
    ),
    rows=rows,
    render=render,
)
