"""What every department feed declares: its file, roles, error slots, row builder and renderer.

A feed is built in two steps. `rows(world, seed)` draws, to the horizon, one numeric row per
record with at least `_key` (record key number), `_recorded` (recorded time, seconds) and one
`_<role>` column per person role (person index, -1 when the row does not mention anyone in that
role). `render(rows, world)` turns the rows kept for `until` into the department's columns,
all strings. Every random number is drawn in `rows`, so rendering a subset renders each row as
it would be rendered in the full set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypedDict, Unpack

import numpy as np
import polars as pl

from fpcredit.synth.clock import DAY_SECONDS, Days
from fpcredit.synth.rng import Floats, Ints

if TYPE_CHECKING:
    from fpcredit.synth.world import World

__all__ = [
    "DateSlot",
    "Feed",
    "IdSlot",
    "Slots",
    "Tuning",
    "clock_time",
    "late",
    "scramble",
    "self_feed",
    "shown_id",
]

_MULTIPLIER: Final = 7_394_820_133  # odd and not a multiple of 5: a bijection modulo 10^k


@dataclass(frozen=True)
class IdSlot:
    """An ID-number column.

    A `required` column is never empty unless `id_missing` was injected; a string names a
    boolean column of the rendered frame that says so row by row (mch: women yes, children no).
    """

    column: str
    role: str
    required: bool | str


@dataclass(frozen=True)
class DateSlot:
    """A date column and its strftime format."""

    column: str
    role: str
    fmt: str


@dataclass(frozen=True)
class Slots:
    """Where each error kind can be injected in a feed (see docs/feeds.md)."""

    ids: tuple[IdSlot, ...]
    names: tuple[tuple[str, str], ...]  # (column, role)
    births: tuple[DateSlot, ...]
    event: DateSlot
    code: str
    unknown_codes: tuple[str, ...]
    order: tuple[str, str] | None = None  # (孩次, 孕次) columns
    id_missing_weight: float = 1.0
    error_scale: float = 1.0  # times the seed's error rate (and the id_15 rate) for this feed


@dataclass(frozen=True)
class Feed:
    """One department's feed."""

    source: str
    file: str
    encoding: str  # of CSV files; JSON Lines are UTF-8, Parquet has none
    key: str  # record key column
    principal: str  # the role whose person key goes to truth/records.csv
    roles: tuple[str, ...]
    slots: Slots
    rows: Callable[[World, int], pl.DataFrame]
    render: Callable[[pl.DataFrame, World], pl.DataFrame]


class Tuning(TypedDict, total=False):
    """A feed's departures from the seed's error rates (the defaults of `Slots`)."""

    id_missing_weight: float
    error_scale: float


def self_feed(
    file: str,
    key: str,
    rows: Callable[[World, int], pl.DataFrame],
    render: Callable[[pl.DataFrame, World], pl.DataFrame],
    *,
    ids: tuple[str, bool | str],
    name: str,
    birth: tuple[str, str] | None,
    event: tuple[str, str],
    codes: tuple[str, tuple[str, ...]],
    **tuning: Unpack[Tuning],
) -> Feed:
    """A UTF-8 feed whose every record is about one person, the subject `self`: one ID column
    (`ids`: its name and `IdSlot.required`), one name column, at most one birth date and the
    event date (each `(column, strftime format)`), and the code column with the codes that
    stand for unknown ones; the source is the file's stem."""
    role = "self"
    slots = Slots(
        ids=(IdSlot(ids[0], role, ids[1]),),
        names=((name, role),),
        births=() if birth is None else (DateSlot(birth[0], role, birth[1]),),
        event=DateSlot(event[0], role, event[1]),
        code=codes[0],
        unknown_codes=codes[1],
        **tuning,
    )
    source = file.partition(".")[0]
    return Feed(source, file, "utf-8", key, role, (role,), slots, rows, render)


def scramble(index: Ints, digits: int, seed: int) -> Ints:
    """Distinct pseudo-random record numbers of `digits` digits for distinct indices."""
    modulus = 10**digits
    offset = (seed * 1_000_003) % modulus
    # Products stay below 2^63 for fewer than ~10^9 rows.
    return np.asarray((index * (_MULTIPLIER % modulus) + offset) % modulus, dtype=np.int64)


def clock_time(rng: np.random.Generator, n: int, start_hour: float, end_hour: float) -> Ints:
    """Seconds after midnight, uniform between two hours (office hours, batch windows)."""
    return rng.integers(int(start_hour * 3600), int(end_hour * 3600), n).astype(np.int64)


def late(day: Days, lag_days: Floats, time_of_day: Ints) -> Ints:
    """Recorded time in seconds: the event day, plus a lag, at a time of day."""
    return (day + np.floor(lag_days).astype(np.int64)) * DAY_SECONDS + time_of_day


def shown_id(ids: pl.Series, u: pl.Series, lower: float, spaced: float) -> pl.Series:
    """ID numbers as a clerk typed them: some with a lower-case x, some split by spaces.

    Both forms normalise to the same number, so they are not errors.
    """
    frame = pl.DataFrame({"id": ids, "u": u})
    spaced_form = pl.concat_str(
        pl.col("id").str.slice(0, 6), pl.col("id").str.slice(6, 8), pl.col("id").str.slice(14),
        separator=" ",
    )  # fmt: skip
    return frame.select(
        pl.when(pl.col("id") == "")
        .then(pl.col("id"))
        .when(pl.col("u") < lower)
        .then(pl.col("id").str.to_lowercase())
        .when(pl.col("u") < lower + spaced)
        .then(spaced_form)
        .otherwise(pl.col("id"))
    ).to_series()
