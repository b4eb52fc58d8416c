"""Pregnancies and births: each married woman's reproductive history, and the children born.

A woman wants 0–3 children (shares by hukou type and migration); after marriage she waits to
conceive (about a year for the first child, 2–6 years between births), loses some pregnancies
(more with age), and stops at her wish, at the end of her fertile years or at divorce. Births
before 2016 only count in her parity (孩次) and gravidity (孕次). Until 2015 a second child was
allowed to few urban couples and 2021 opened the third: attempts held back by the rules wait for
the change, which gives the 2016–2017 birth peak. The period TFR comes out about 1.0–1.3.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields, replace
from typing import Final

import numpy as np

from fpcredit.synth import names
from fpcredit.synth.clock import HORIZON_DAY, WINDOW_START, YEAR_DAYS, Days, day_number
from fpcredit.synth.geography import geography
from fpcredit.synth.idnumbers import id_numbers
from fpcredit.synth.population import NEVER, Bools, Marriages, Persons
from fpcredit.synth.rng import Floats, Ints, lognormal, pick, stream, with_tail

__all__ = ["Children", "Pregnancies", "simulate"]

_TWO_CHILD: Final = day_number(dt.date(2015, 11, 1))  # announced 2015-10-29, in force 2016
_THREE_CHILD: Final = day_number(dt.date(2021, 6, 1))
_MAX_ROUNDS: Final = 12
# Desired number of children 0..3 for urban natives, rural natives and migrants.
_DESIRE: Final = ((0.12, 0.56, 0.29, 0.03), (0.08, 0.46, 0.41, 0.05), (0.08, 0.46, 0.40, 0.06))
# Share of the couples held back by the rules who still try once the rules allow it.
_STILL_WANT: Final = 0.5


@dataclass(frozen=True)
class Pregnancies:
    """Pregnancies ending from 2016-01-01 to the horizon, ordered by mother and conception."""

    mother: Ints
    couple: Ints  # index into Marriages
    conception: Days
    outcome: Days  # birth, or the end of a lost pregnancy
    live: Bools
    parity: Ints  # 孩次: the mother's births so far, this one included when live
    gravidity: Ints  # 孕次: her pregnancies so far, this one included
    child: Ints  # person index of the child, -1 for a lost pregnancy

    def __len__(self) -> int:
        return len(self.mother)


@dataclass(frozen=True)
class Children:
    """The children born in the window, in person order."""

    person: Ints
    mother: Ints
    father: Ints
    couple: Ints  # index into Marriages
    birth: Days
    parity: Ints  # 孩次
    gravidity: Ints  # 孕次 at this birth
    registration: Days  # hukou registration (落户) with the police; NEVER if not by the horizon


def simulate(
    seed: int, persons: Persons, couples: Marriages
) -> tuple[Persons, Pregnancies, Children]:
    """All persons (the base ones then the children), the pregnancies and the children."""
    rng = stream(seed, "fertility")
    history = _histories(rng, persons, couples)
    window = history.outcome >= WINDOW_START
    pregnancies = Pregnancies(**{f.name: getattr(history, f.name)[window] for f in fields(history)})
    pregnancies, children = _number_children(pregnancies, len(persons), couples)
    kids = _child_persons(stream(seed, "children"), persons, children)
    return persons.concat(kids), pregnancies, _registered(rng, children)


def _histories(rng: np.random.Generator, persons: Persons, couples: Marriages) -> Pregnancies:
    wife = couples.wife
    desire = _desired(rng, persons, wife)
    fertile_until = persons.birth[wife] + (
        np.clip(rng.normal(43, 2.5, len(wife)), 38, 48) * YEAR_DAYS
    )
    end = np.minimum(np.minimum(couples.divorce, HORIZON_DAY), fertile_until.astype(np.int64))
    state = _State(couples.date, desire)
    for _ in range(_MAX_ROUNDS):
        if not state.round(rng, persons, wife, end):
            break
    extra = rng.poisson(0.12, len(wife))  # pregnancies before marriage (induced abortions)
    return state.result(wife, extra)


def _desired(rng: np.random.Generator, persons: Persons, wife: Ints) -> Ints:
    group = np.where(persons.migrant[wife], 2, np.where(persons.urban[wife], 0, 1))
    draws = np.stack([pick(rng, len(wife), weights) for weights in _DESIRE])
    return draws[group, np.arange(len(wife))]


class _State:
    """Per-couple state of the pregnancy chain, advanced one pregnancy per round."""

    def __init__(self, married: Days, desire: Ints) -> None:
        n = len(married)
        self.t = married.astype(np.float64)  # earliest start of the wait for the next conception
        self.births = np.zeros(n, np.int64)
        self.preg = np.zeros(n, np.int64)
        self.after_loss = np.zeros(n, bool)
        self.desire = desire
        self.active = desire > 0
        self.records: list[tuple[Ints, Floats, Floats, Bools, Ints, Ints]] = []

    def round(self, rng: np.random.Generator, persons: Persons, wife: Ints, end: Days) -> bool:
        idx = np.flatnonzero(self.active)
        if not len(idx):
            return False
        conception = _policy(
            rng, self.t[idx] + self._wait(rng, idx), self.births[idx], persons, wife[idx]
        )
        age = (conception - persons.birth[wife[idx]]) / YEAR_DAYS
        live = rng.random(len(idx)) >= 0.10 + 0.012 * np.maximum(age - 30, 0)
        length = np.where(
            live, np.clip(rng.normal(266, 12, len(idx)), 196, 294), rng.uniform(42, 140, len(idx))
        )
        outcome = conception + length
        ok = (conception <= end[idx]) & (outcome <= HORIZON_DAY)
        self._record(idx[ok], conception[ok], outcome[ok], live[ok])
        self.active[idx[~ok]] = False
        self.active &= self.births < self.desire
        return True

    def _wait(self, rng: np.random.Generator, idx: Ints) -> Floats:
        n = len(idx)
        first = rng.gamma(1.6, 0.6 * YEAR_DAYS, n)
        again = rng.gamma(1.5, 0.3 * YEAR_DAYS, n)
        spacing = lognormal(rng, n, 2.6 * YEAR_DAYS, 0.5, 0.3 * YEAR_DAYS, 15 * YEAR_DAYS)
        after_birth = np.where(self.births[idx] == 0, first, spacing)
        return np.where(self.after_loss[idx], again, after_birth)

    def _record(self, idx: Ints, conception: Floats, outcome: Floats, live: Bools) -> None:
        self.births[idx] += live
        self.preg[idx] += 1
        self.after_loss[idx] = ~live
        self.t[idx] = outcome
        self.records.append((idx, conception, outcome, live, self.births[idx], self.preg[idx]))

    def result(self, wife: Ints, extra: Ints) -> Pregnancies:
        couple, conception, outcome, live, parity, gravidity = (
            np.concatenate([r[i] for r in self.records]) if self.records else np.zeros(0, np.int64)
            for i in range(6)
        )
        couple = couple.astype(np.int64)
        order = np.lexsort((conception, wife[couple]))
        return Pregnancies(
            mother=wife[couple][order], couple=couple[order],
            conception=conception[order].astype(np.int64), outcome=outcome[order].astype(np.int64),
            live=live[order].astype(bool), parity=parity[order].astype(np.int64),
            gravidity=(gravidity + extra[couple])[order].astype(np.int64),
            child=np.full(len(order), -1, np.int64),
        )  # fmt: skip


def _policy(
    rng: np.random.Generator, conception: Floats, births: Ints, persons: Persons, wife: Ints
) -> Floats:
    """Hold back attempts the birth-planning rules of the time did not allow until they changed."""
    rural = persons.migrant[wife] | ~persons.urban[wife]
    n = len(wife)
    second = (
        (births == 1) & (conception < _TWO_CHILD) & (rng.random(n) >= np.where(rural, 0.45, 0.12))
    )
    third = (
        (births >= 2) & (conception < _THREE_CHILD) & (rng.random(n) >= np.where(rural, 0.25, 0.06))
    )
    wait_two = _TWO_CHILD + rng.gamma(1.3, 0.7 * YEAR_DAYS, n)
    wait_three = _THREE_CHILD + rng.gamma(1.5, 1.0 * YEAR_DAYS, n)
    # Many who were held back for years no longer want the child (np.inf: never conceives).
    gave_up = (second | third) & (rng.random(n) >= _STILL_WANT)
    held = np.where(second, wait_two, np.where(third, wait_three, conception))
    return np.where(gave_up, np.inf, held)


def _number_children(
    pregnancies: Pregnancies, first: int, couples: Marriages
) -> tuple[Pregnancies, Children]:
    live = np.flatnonzero(pregnancies.live)
    # Children are numbered by birth date, so keys do not depend on `until` or on the mother.
    order = live[np.lexsort((pregnancies.mother[live], pregnancies.outcome[live]))]
    child = pregnancies.child.copy()
    child[order] = first + np.arange(len(order))
    columns = {f.name: getattr(pregnancies, f.name) for f in fields(pregnancies)}
    numbered = Pregnancies(**{**columns, "child": child})
    couple = pregnancies.couple[order]
    children = Children(
        person=child[order], mother=pregnancies.mother[order], father=couples.husband[couple],
        couple=couple, birth=pregnancies.outcome[order], parity=pregnancies.parity[order],
        gravidity=pregnancies.gravidity[order], registration=pregnancies.outcome[order],
    )  # fmt: skip
    return numbered, children


def _child_persons(rng: np.random.Generator, persons: Persons, children: Children) -> Persons:
    n = len(children.person)
    mother, father, birth = children.mother, children.father, children.birth
    sex = np.where(rng.random(n) < 0.525, 1, 2)  # sex ratio at birth ~111 (2016–2020)
    # A child takes the hukou of the father or of the mother, and mostly the father's surname.
    by_father = rng.random(n) < 0.5
    hukou = np.where(by_father, persons.hukou[father], persons.hukou[mother])
    surname = np.where(rng.random(n) < 0.9, persons.surname[father], persons.surname[mother])
    return Persons(
        sex=sex, birth=birth, hukou=hukou, residence=persons.residence[mother],
        urban=np.where(by_father, persons.urban[father], persons.urban[mother]),
        migrant=~np.isin(hukou, geography().zhejiang), occupation=np.full(n, "N"),
        surname=surname, given=names.given_names(rng, sex, np.full(n, 2)),
        id_number=id_numbers(rng, geography().code_numbers[hukou], birth, sex),
        phone=np.full(n, "", dtype="U11"), address=persons.address[mother],
    )  # fmt: skip


def _registered(rng: np.random.Generator, children: Children) -> Children:
    """Children with their hukou registration day: mostly within weeks, a few very late or never."""
    n = len(children.person)
    lag = with_tail(rng, lognormal(rng, n, 25, 0.7, 3, 180), 0.02, 180, 700)
    day = children.birth + lag.astype(np.int64)
    never = (rng.random(n) < 0.01) | (day > HORIZON_DAY)
    return replace(children, registration=np.where(never, NEVER, day))
