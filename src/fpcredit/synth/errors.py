"""Error injection: the seed's 8.7 % of records with one error each, 45 % of them in dates.

Kinds and where they go are those of docs/feeds.md. A kind is only drawn for a row where it can
be applied (a swap needs a day ≤ 12 that differs from the month; an ID error needs an ID), and
its share is then spread over the other kinds of its group (dates 45 %, the rest 55 %).
`duplicate` counts among the errors: the original row stays clean and a verbatim copy follows
it. `id_15` (the legacy form, not an error once upgraded) comes on top, on 4 % of the clean
rows that mention someone born before 1985. A feed of carefully keyed formal decisions (credit)
scales both rates down (`Slots.error_scale`); the kinds and their shares stay the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl

from fpcredit.synth import names
from fpcredit.synth.feeds.base import DateSlot, IdSlot, Slots
from fpcredit.synth.idnumbers import legacy15
from fpcredit.synth.rng import Floats

__all__ = ["BIRTH_KINDS", "KINDS", "RATE", "Draws", "draw", "inject", "rows_of", "subset"]

RATE: Final = 0.087
BIRTH_SHARE: Final = 0.45
ID15_RATE: Final = 0.04
BIRTH_KINDS: Final = ("birth_day_month_swap", "birth_year_wrong", "event_date_impossible")
_WEIGHTS: Final = {
    # A swap fits only ~38 % of dates (day ≤ 12, day ≠ month): weighted up to be seen as often.
    "birth_day_month_swap": 0.20,
    "birth_year_wrong": 0.15,
    "event_date_impossible": 0.10,
    "id_check_digit": 0.17,
    "id_missing": 0.12,
    "name_homophone": 0.14,
    "code_unknown": 0.05,
    "births_gt_pregnancies": 0.02,
    "duplicate": 0.05,
}
KINDS: Final = (*_WEIGHTS, "id_15")
# Digits a slip may hit: not the province (2) nor the birth year (4), so that the number still
# looks local and plausible and only its check digit gives it away.
_DIGITS: Final = (2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 16)
_IMPOSSIBLE: Final = ((2, 30), (2, 31), (4, 31), (6, 31), (9, 31), (11, 31), (13, 0))

Row = dict[str, Any]  # column → value (str, or bool for the rendered helper columns)
Change = tuple[str, str]  # (column, new value)


@dataclass(frozen=True)
class Draws:
    """Random numbers for the error of each row, drawn before `until` filters the rows."""

    select: Floats  # per row
    params: npt.NDArray[np.float64]  # per row: (kind, slot, a, b); NaN when not needed


def _thresholds(scale: float) -> tuple[float, float]:
    """A row's `select` draw below the first bound gets an error; below the second, id_15."""
    rate = RATE * scale
    # Duplicates add rows: select a little more so that errors / all rows stays at the rate.
    error = rate / (1 - rate * _WEIGHTS["duplicate"])
    return error, error + ID15_RATE * scale


def draw(rng: np.random.Generator, n: int, scale: float = 1.0) -> Draws:
    """Draws for `n` rows, in row order, for a feed whose error rate is `scale` × the seed's."""
    select = rng.random(n)
    params = np.full((n, 4), np.nan)
    wanted = select < _thresholds(scale)[1]
    params[wanted] = rng.random((int(wanted.sum()), 4))
    return Draws(select, params)


def subset(draws: Draws, keep: npt.NDArray[np.bool_]) -> Draws:
    """The draws of the kept rows."""
    return Draws(draws.select[keep], draws.params[keep])


def rows_of(draws: Draws, start: int, count: int) -> Draws:
    """The draws of rows start … start + count - 1."""
    return Draws(draws.select[start : start + count], draws.params[start : start + count])


def inject(frame: pl.DataFrame, slots: Slots, draws: Draws) -> tuple[pl.DataFrame, list[str]]:
    """The frame with errors (and duplicate rows) injected, and each row's error kind."""
    kinds = [""] * frame.height
    patches: dict[str, dict[int, str]] = {}
    error, legacy_bound = _thresholds(slots.error_scale)
    chosen = np.flatnonzero(draws.select < error)
    for index, row in zip(chosen, _rows(frame, slots, chosen), strict=True):
        kinds[index], change = _error(slots, row, draws.params[index])
        _patch(patches, int(index), change)
    legacy = np.flatnonzero((draws.select >= error) & (draws.select < legacy_bound))
    for index, row in zip(legacy, _rows(frame, slots, legacy), strict=True):
        change = _legacy(slots, row, draws.params[index])
        if change:
            kinds[index] = "id_15"
            _patch(patches, int(index), change)
    return _duplicated(_apply(frame, patches), kinds)


def _rows(frame: pl.DataFrame, slots: Slots, index: npt.NDArray[np.int64]) -> list[Row]:
    columns = _columns(slots, frame)
    subset = frame.select(columns)[index]
    return [dict(zip(columns, values, strict=True)) for values in subset.iter_rows()]


def _columns(slots: Slots, frame: pl.DataFrame) -> list[str]:
    wanted = [s.column for s in slots.ids] + [c for c, _ in slots.names]
    wanted += [s.column for s in slots.births] + [slots.event.column, slots.code]
    wanted += [s.required for s in slots.ids if isinstance(s.required, str)]
    wanted += list(slots.order or ())
    return [c for c in dict.fromkeys(wanted) if c in frame.columns]


def _patch(patches: dict[str, dict[int, str]], index: int, change: Change | None) -> None:
    if change is not None:
        patches.setdefault(change[0], {})[int(index)] = change[1]


def _apply(frame: pl.DataFrame, patches: dict[str, dict[int, str]]) -> pl.DataFrame:
    for column, values in patches.items():
        series = frame[column].scatter(list(values), list(values.values()))
        frame = frame.with_columns(series)
    return frame


def _duplicated(frame: pl.DataFrame, kinds: list[str]) -> tuple[pl.DataFrame, list[str]]:
    copies = np.array([k == "duplicate" for k in kinds], dtype=bool)
    if not copies.any():
        return frame, kinds
    order = np.repeat(np.arange(frame.height), 1 + copies)
    labels = [("" if k == "duplicate" else k) for k in kinds]
    # The copy follows its original; the original itself is clean.
    repeated = [labels[i] for i in order]
    first = np.flatnonzero(np.diff(order, prepend=-1) == 0)
    for position in first:
        repeated[position] = "duplicate"
    return frame[order], repeated


# --- choosing the kind -------------------------------------------------------------------------


def _error(slots: Slots, row: Row, u: Floats) -> tuple[str, Change | None]:
    options = {kind: targets for kind in _WEIGHTS if (targets := _targets(kind, slots, row))}
    kind = _choose(options, slots, float(u[0]))
    if kind == "duplicate":
        return kind, None
    target = options[kind][int(u[1] * len(options[kind]))]
    return kind, (target, _MUTATIONS[kind](row, target, slots, float(u[2]), float(u[3])))


def _choose(options: dict[str, list[str]], slots: Slots, u: float) -> str:
    cumulative = _cumulative(tuple(options), slots.id_missing_weight)
    for kind, bound in cumulative:
        if u < bound:
            return kind
    return cumulative[-1][0]


@cache
def _cumulative(kinds: tuple[str, ...], id_missing_weight: float) -> tuple[tuple[str, float], ...]:
    """Cumulative shares of the applicable kinds, each group renormalised to its share."""
    weight = dict(_WEIGHTS, id_missing=_WEIGHTS["id_missing"] * id_missing_weight)
    births = [k for k in kinds if k in BIRTH_KINDS]
    others = [k for k in kinds if k not in BIRTH_KINDS]
    shares = [(k, BIRTH_SHARE * weight[k] / sum(weight[b] for b in births)) for k in births]
    shares += [(k, (1 - BIRTH_SHARE) * weight[k] / sum(weight[o] for o in others)) for k in others]
    bounds = np.cumsum([share for _, share in shares])
    return tuple((kind, float(bound)) for (kind, _), bound in zip(shares, bounds, strict=True))


def _targets(kind: str, slots: Slots, row: Row) -> list[str]:
    """Columns of this row where `kind` can be injected (none: not applicable)."""
    if kind in ("event_date_impossible", "code_unknown", "duplicate"):
        return [slots.event.column if kind != "code_unknown" else slots.code]
    if kind == "births_gt_pregnancies":
        return [slots.order[0]] if slots.order else []
    if kind.startswith("id_"):
        return [s.column for s in slots.ids if row[s.column] and _may(kind, s, row)]
    if kind == "name_homophone":
        return [c for c, _ in slots.names if names.homophone(row[c], 0, 0)]
    return [s.column for s in slots.births if _DATE_TESTS[kind](_date(row, s))]


def _date(row: Row, slot: DateSlot) -> dt.date:
    """The slot's date, parsed once per row."""
    key = "\0" + slot.column
    if key not in row:
        row[key] = _parse(row[slot.column], slot.fmt)
    return row[key]  # type: ignore[no-any-return]


def _may(kind: str, slot: IdSlot, row: Row) -> bool:
    if kind != "id_missing":
        return True
    return bool(row[slot.required]) if isinstance(slot.required, str) else slot.required


_DATE_TESTS: Final[dict[str, Callable[[dt.date], bool]]] = {
    "birth_day_month_swap": lambda d: d.day <= 12 and d.day != d.month,
    "birth_year_wrong": lambda d: (d.month, d.day) != (2, 29),
}


def _parse(text: str, fmt: str) -> dt.date:
    # Slicing, not strptime: this runs for every erroneous row and strptime is 20× slower.
    if fmt == "%Y-%m-%d":
        return dt.date(int(text[:4]), int(text[5:7]), int(text[8:10]))
    return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]) if fmt == "%Y%m%d" else 1)


def _text(date: dt.date, fmt: str) -> str:
    sep = "-" if fmt == "%Y-%m-%d" else ""
    return f"{date.year:04d}{sep}{date.month:02d}{sep}{date.day:02d}"


# --- mutations ---------------------------------------------------------------------------------


def _check_digit(row: Row, column: str, slots: Slots, a: float, b: float) -> str:
    number = str(row[column]).replace(" ", "").upper()
    position = _DIGITS[int(a * len(_DIGITS))]
    changed = _replace_digit(number, position, b)
    if not _valid_date(changed[6:14]):
        changed = _replace_digit(number, 14 + position % 3, b)
    return changed


def _replace_digit(number: str, position: int, b: float) -> str:
    # Any single-digit change breaks ISO 7064 MOD 11-2: weights and differences are non-zero mod 11.
    digit = (int(number[position]) + 1 + int(b * 9)) % 10
    return number[:position] + str(digit) + number[position + 1 :]


def _valid_date(digits: str) -> bool:
    try:
        dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return False
    return True


def _missing(row: Row, column: str, slots: Slots, a: float, b: float) -> str:
    return ""


def _homophone(row: Row, column: str, slots: Slots, a: float, b: float) -> str:
    return names.homophone(row[column], a, b) or row[column]


def _swap(row: Row, column: str, slots: Slots, a: float, b: float) -> str:
    fmt = _format(slots, column)
    date = _parse(row[column], fmt)
    return _text(date.replace(month=date.day, day=date.month), fmt)


def _year(row: Row, column: str, slots: Slots, a: float, b: float) -> str:
    fmt = _format(slots, column)
    date = _parse(row[column], fmt)
    shift = (1 + int(a * 3)) * (1 if b < 0.5 else -1)
    return _text(date.replace(year=date.year + shift), fmt)


def _impossible(row: Row, column: str, slots: Slots, a: float, b: float) -> str:
    fmt = slots.event.fmt
    date = _parse(row[column], fmt)
    if fmt == "%Y%m":
        return f"{date.year:04d}{13 if b < 0.7 else 0:02d}"
    month, day = _IMPOSSIBLE[int(a * len(_IMPOSSIBLE))]
    day = day or date.day
    sep = "-" if "-" in fmt else ""
    return f"{date.year:04d}{sep}{month:02d}{sep}{day:02d}"


def _unknown(row: Row, column: str, slots: Slots, a: float, b: float) -> str:
    return slots.unknown_codes[int(a * len(slots.unknown_codes))]


def _births(row: Row, column: str, slots: Slots, a: float, b: float) -> str:
    assert slots.order is not None
    return str(int(row[slots.order[1]]) + 1 + int(a * 2))


def _format(slots: Slots, column: str) -> str:
    return next(s.fmt for s in (*slots.births, slots.event) if s.column == column)


_MUTATIONS: Final[dict[str, Callable[[Row, str, Slots, float, float], str]]] = {
    "id_check_digit": _check_digit,
    "id_missing": _missing,
    "name_homophone": _homophone,
    "birth_day_month_swap": _swap,
    "birth_year_wrong": _year,
    "event_date_impossible": _impossible,
    "code_unknown": _unknown,
    "births_gt_pregnancies": _births,
}


def _legacy(slots: Slots, row: Row, u: Floats) -> Change | None:
    """Write one ID of a person born before 1985 in the 15-digit form, if the row has one."""
    old = [s.column for s in slots.ids if _legacy_ok(row[s.column])]
    if not old:
        return None
    column = old[int(u[1] * len(old))]
    return column, legacy15(row[column].replace(" ", "").upper())


def _legacy_ok(number: str) -> bool:
    number = number.replace(" ", "")
    return len(number) == 18 and "1900" <= number[6:10] < "1985"
