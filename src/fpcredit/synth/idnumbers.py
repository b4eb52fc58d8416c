"""Resident ID numbers (GB 11643-1999) for synthetic persons, vectorised and unique."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from fpcredit.standard.idcard import WEIGHTS
from fpcredit.synth.clock import Days, ymd
from fpcredit.synth.rng import Ints

__all__ = ["id_numbers", "legacy15"]

_CHECK: Final = np.frombuffer(b"10X98765432", dtype=np.uint8)
_POWERS: Final = 10 ** np.arange(16, -1, -1, dtype=np.int64)
_MAX_ROUNDS: Final = 1000


def id_numbers(
    rng: np.random.Generator, region: Ints, birth: Days, sex: Ints
) -> npt.NDArray[np.str_]:
    """18-character numbers: region, birth date, a sequence code of the sex's parity, check digit.

    `region` holds six-digit codes as integers; `sex` is 1 (male, odd sequence) or 2 (female).
    Two persons never share a number: clashes move the later person's sequence code on.
    """
    year, month, day = ymd(birth)
    stem = region * 10**11 + (year * 10_000 + month * 100 + day) * 1000
    seq = _unique_sequences(stem, 2 * rng.integers(0, 500, len(stem)) + (sex == 1))
    return _render(stem + seq)


def _unique_sequences(stem: Ints, seq: Ints) -> Ints:
    seq = np.where(seq == 0, 2, seq)  # 000 is not issued
    for _ in range(_MAX_ROUNDS):
        _, first = np.unique(stem + seq, return_index=True)
        clash = np.ones(len(seq), dtype=bool)
        clash[first] = False
        if not clash.any():
            return seq
        moved = (seq[clash] + 2) % 1000
        seq[clash] = np.where(moved == 0, 2, moved)
    raise RuntimeError("too many persons born on one day in one county")


def _render(first17: Ints) -> npt.NDArray[np.str_]:
    digits = (first17[:, None] // _POWERS) % 10
    check = _CHECK[(digits @ np.array(WEIGHTS, dtype=np.int64)) % 11]
    text = np.empty((len(first17), 18), dtype=np.uint8)
    text[:, :17] = digits + ord("0")
    text[:, 17] = check
    return text.view("S18").ravel().astype("U18")


def legacy15(number: str) -> str:
    """The pre-1999 15-digit form of an 18-character number (century and check digit dropped)."""
    return number[:6] + number[8:17]
