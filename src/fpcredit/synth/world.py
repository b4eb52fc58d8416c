"""The simulated province to the horizon: persons, marriages, pregnancies and children."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from fpcredit.synth.clock import date_text
from fpcredit.synth.fertility import Children, Pregnancies, simulate
from fpcredit.synth.geography import geography
from fpcredit.synth.population import Marriages, Persons, build_base
from fpcredit.synth.rng import Ints

__all__ = ["World", "build_world", "take"]


@dataclass(frozen=True)
class World:
    """Everything that happened, independent of `until`; the feeds are views of it."""

    seed: int
    persons: Persons
    n_base: int
    couples: Marriages
    pregnancies: Pregnancies
    children: Children
    text: pl.DataFrame  # per person: name, id_number, phone, address, hukou, residence, birth


def build_world(seed: int, people: int) -> World:
    """Simulate `people` base persons and their children to the horizon."""
    base, couples = build_base(seed, people)
    persons, pregnancies, children = simulate(seed, base, couples)
    return World(seed, persons, len(base), couples, pregnancies, children, _text(persons))


def _text(persons: Persons) -> pl.DataFrame:
    geo = geography()
    return pl.DataFrame(
        {
            "name": np.char.add(persons.surname, persons.given),
            "id_number": persons.id_number,
            "phone": persons.phone,
            "address": persons.address,
            "hukou": geo.code_series(persons.hukou),
            "residence": geo.code_series(persons.residence),
            "birth": date_text(persons.birth, "%Y-%m-%d"),
        }
    )


def take(series: pl.Series, index: Ints) -> pl.Series:
    """series[index], with "" where the index is negative (nobody)."""
    values = series.gather(np.maximum(index, 0))
    missing = np.flatnonzero(index < 0)
    return values.scatter(missing, "") if len(missing) else values
