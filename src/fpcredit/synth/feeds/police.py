"""公安 hukou registrations (户籍): one row per person registered in a household, `police.jsonl`.

Rows: every base person's registration in force on 2016-01-01 (back-dated history), the new
household of each couple that marries in the window, each child's hukou registration (落户), and
the divorced wife's new household.

As in real hukou registration, a row cites the document it was made on: a child's 落户 the
卫健委 birth registration certificate (`csdjzbh`), a wedding's new household the 民政 marriage
certificate (`jhzbh`), when those departments registered the event.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from fpcredit.synth.clock import HORIZON_DAY, WINDOW_START, YEAR_DAYS, Days, date_text, time_text
from fpcredit.synth.feeds import civil, health
from fpcredit.synth.feeds.base import clock_time, late, scramble, self_feed
from fpcredit.synth.population import NEVER
from fpcredit.synth.rng import Ints, lognormal, stream, with_tail
from fpcredit.synth.world import World, take

__all__ = ["FEED"]

_RELATIONS = np.array(["02", "10", "20", "30", "50", "99"])  # GB/T 4761
HEAD, SPOUSE, SON, DAUGHTER, OTHER = 0, 1, 2, 3, 5
Part = tuple[Ints, Ints, Ints, Days]  # person, household, relation, effective day


def rows(world: World, seed: int) -> pl.DataFrame:
    """All registrations to the horizon; recorded days to months after they take effect."""
    rng = stream(seed, "police", "rows")
    parts = (_initial(rng, world), _weddings(rng, world), _births(world), _divorces(rng, world))
    person, household, relation, day = (np.concatenate([p[i] for p in parts]) for i in range(4))
    birth_cert, marriage_cert = _citations(world, seed, parts)
    keep = day <= HORIZON_DAY
    person, household, relation, day = person[keep], household[keep], relation[keep], day[keep]
    n = len(person)
    lag = with_tail(rng, lognormal(rng, n, 3, 1.2, 0, 90), 0.03, 60, 300)
    return pl.DataFrame(
        {
            "_key": scramble(np.arange(n), 11, seed),
            "_recorded": late(day, lag, clock_time(rng, n, 8.5, 17.5)),
            "_self": person,
            "_household": scramble(household, 8, seed),
            "_relation": relation,
            "_day": day,
            "_no_phone": rng.random(n) < 0.1,
            "_birth_cert": birth_cert[keep],
            "_marriage_cert": marriage_cert[keep],
        }
    )


def _citations(world: World, seed: int, parts: tuple[Part, Part, Part, Part]) -> tuple[Ints, Ints]:
    """The certificate numbers the rows cite (-1 for none), in the order of `parts`.

    Recomputed from the health and civil feeds' own streams, so the police stream is not touched
    and every other police column keeps its values.
    """
    initial, weddings, births, divorces = parts
    by_child = health.certificates(world, seed)
    by_couple = civil.marriage_certificates(world, seed)

    def none(part: Part) -> Ints:
        return np.full(len(part[0]), -1, dtype=np.int64)

    # A wedding row's household is its couple's index; a birth row's person is the child.
    birth = np.concatenate([none(initial), none(weddings), by_child[births[0]], none(divorces)])
    marriage = np.concatenate([none(initial), by_couple[weddings[1]], none(births), none(divorces)])
    return birth, marriage


def _couple_roles(world: World) -> tuple[Ints, Ints]:
    couples = world.couples
    wife = np.where(couples.wife_heads, HEAD, SPOUSE)
    return wife, np.where(couples.wife_heads, SPOUSE, HEAD)


def _initial(rng: np.random.Generator, world: World) -> Part:
    """The registration in force on 2016-01-01 for each base person."""
    persons, couples = world.persons, world.couples
    n = world.n_base
    household = len(couples.wife) + np.arange(n)
    age = (WINDOW_START - persons.birth[:n]) / YEAR_DAYS
    child = np.where(persons.sex[:n] == 1, SON, DAUGHTER)
    alone = np.where(rng.random(n) < 0.93, HEAD, OTHER)
    relation = np.where(age < 30, child, alone)
    grown = persons.birth[:n] + ((18 + 8 * rng.random(n)) * YEAR_DAYS).astype(np.int64)
    day = np.where(age < 30, persons.birth[:n] + rng.integers(10, 200, n), grown)
    day = np.minimum(day, WINDOW_START - 1)
    wed = _married_before(world)
    wife_role, husband_role = _couple_roles(world)
    for spouse, role in ((couples.wife, wife_role), (couples.husband, husband_role)):
        household[spouse[wed]] = np.flatnonzero(wed)
        relation[spouse[wed]] = role[wed]
        day[spouse[wed]] = _moved_in(rng, couples.date[wed])
    return np.arange(n), household, relation, day


def _married_before(world: World) -> np.ndarray:
    return world.couples.date < WINDOW_START


def _moved_in(rng: np.random.Generator, date: Days) -> Days:
    return date + lognormal(rng, len(date), 40, 0.8, 1, 365).astype(np.int64)


def _weddings(rng: np.random.Generator, world: World) -> Part:
    """Couples marrying in the window register a new household, both spouses."""
    couples = world.couples
    new = np.flatnonzero(~_married_before(world))
    wife_role, husband_role = _couple_roles(world)
    day = _moved_in(rng, couples.date[new])
    person = np.concatenate([couples.wife[new], couples.husband[new]])
    relation = np.concatenate([wife_role[new], husband_role[new]])
    return person, np.concatenate([new, new]), relation, np.concatenate([day, day])


def _births(world: World) -> Part:
    """Children registered (落户) in their parents' household."""
    children = world.children
    done = children.registration < NEVER
    relation = np.where(world.persons.sex[children.person] == 1, SON, DAUGHTER)
    return children.person[done], children.couple[done], relation[done], children.registration[done]


def _divorces(rng: np.random.Generator, world: World) -> Part:
    """After a divorce the wife heads a household of her own."""
    couples = world.couples
    split = np.flatnonzero(couples.divorce < NEVER)
    household = len(couples.wife) + world.n_base + np.arange(len(split))
    day = couples.divorce[split] + lognormal(rng, len(split), 60, 0.8, 1, 365).astype(np.int64)
    return couples.wife[split], household, np.full(len(split), HEAD), day


def render(frame: pl.DataFrame, world: World) -> pl.DataFrame:
    """The department's keys and codes."""
    text, persons = world.text, world.persons
    person = frame["_self"].to_numpy()
    phone = take(text["phone"], np.where(frame["_no_phone"].to_numpy(), -1, person))
    return pl.DataFrame(
        {
            "rkbm": "R" + frame["_key"].cast(pl.Utf8).str.zfill(11),
            "hh": frame["_household"].cast(pl.Utf8).str.zfill(8),
            "gmsfhm": take(text["id_number"], person),
            "xm": take(text["name"], person),
            "xb": pl.Series(persons.sex[person]).cast(pl.Utf8),
            "csrq": date_text(persons.birth[person], "%Y%m%d"),
            "yhzgx": pl.Series(_RELATIONS[frame["_relation"].to_numpy()]),
            "hkxz": pl.Series(np.where(persons.urban[person], "1", "2")),
            "hjdz_xzqh": take(text["hukou"], person),
            "jzd_xzqh": take(text["residence"], person),
            "zy": pl.Series(persons.occupation[person]),
            "lxdh": phone,
            "zz": take(text["address"], person),
            "csdjzbh": _code_text(frame["_birth_cert"], 12),
            "jhzbh": _code_text(frame["_marriage_cert"], 10),
            "bdrq": date_text(frame["_day"], "%Y%m%d"),
            "djsj": time_text(frame["_recorded"], "%Y-%m-%dT%H:%M:%S"),
        }
    )


def _code_text(codes: pl.Series, digits: int) -> pl.Series:
    """A cited certificate number as the department writes it; empty when none is cited."""
    written = codes.cast(pl.Utf8).str.zfill(digits)
    return pl.select(pl.when(codes >= 0).then(written).otherwise(pl.lit(""))).to_series()


FEED = self_feed(
    "police.jsonl", "rkbm", rows, render,
    ids=("gmsfhm", True), name="xm", birth=("csrq", "%Y%m%d"),
    event=("bdrq", "%Y%m%d"), codes=("yhzgx", ("00", "X1")),
)  # fmt: skip
