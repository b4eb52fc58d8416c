"""The attacker of masking: how many ID numbers fit what a reader was shown about a person.

An 18-character ID number is region (6) + birth date (8) + sequence (3; odd for men, even for
women) + ISO 7064 MOD 11-2 check character; a legacy 15-digit one is region + birth date
(YYMMDD) + sequence. `candidates` counts, exactly, the numbers that fit a shown (masked) number,
a sex and a range of birth dates. `Clues` gathers what answers said about one person and turns
it into that range, for the strongest reader: one who knows, for every date shown, whether it
lies before or after the birth (a prenatal check, the birth registration, a vaccination).

Scores are computed from birth dates (ages at the cut date, days from a birth to its
registration), so they could tell on which side of a day a birth fell without showing a date:
`Clues` also keeps the scores shown (`score_parts`), and `told_apart` compares them with what
the reader would have been shown had the births been on other days of the same months.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from fpcredit.standard.idcard import WEIGHTS

# The fewest ID numbers what a reader is shown of a person may leave (issue 21).
FLOOR: Final = 10_000
STAR: Final = "*"
_CHECK: Final = "10X98765432"
EARLIEST: Final = dt.date(1900, 1, 1)
# Dates of the evaluation itself, the same for every person: they are not dates about one.
EVALUATION_KEYS: Final = frozenset({"as_of", "score_date", "grade_date", "policy"})
# 2026-01-17, 2026-01-17T09:30:00, 2026-01-17 09:30, 2026-01, 20260117; not inside longer runs.
_DAY: Final = re.compile(r"(?<![0-9A-Za-z])(\d{4})-(\d{2})-(\d{2})(?!\d)")
_MONTH: Final = re.compile(r"(?<![0-9A-Za-z])(\d{4})-(\d{2})(?![-\d])")
_COMPACT: Final = re.compile(r"(?<![0-9A-Za-z])((?:19|20)\d{2})(\d{2})(\d{2})(?![0-9A-Za-z])")

# What answers show of scores: the credit route's and the explanation's totals, grades,
# points, dimensions, indicators (status, value, points, contribution) and next steps.
SCORE_KEYS: Final = (
    "total", "grade", "graded_total", "score_grade", "points", "dimensions", "indicators",
    "to_raise_grade",
)  # fmt: skip

Cell = tuple[dt.date, dt.date]


def _fits(shown: str, text: str) -> bool:
    return all(s in (STAR, c) for s, c in zip(shown, text, strict=True))


def _weighted(text: str, weights: tuple[int, ...]) -> int:
    return sum(int(c) * w for c, w in zip(text, weights, strict=True))


def _sequences(shown: str, sex: int | None) -> list[int]:
    """The weighted digit sum of every sequence number the shown digits and the sex allow
    (the sex is the parity of the sequence's last digit)."""
    start, step = (0, 1) if sex is None else ((1, 2) if sex == 1 else (0, 2))
    shown_seq = shown[14:17] if len(shown) == 18 else shown[12:15]
    texts = (f"{seq:03d}" for seq in range(start, 1000, step))
    return [_weighted(text, WEIGHTS[14:]) for text in texts if _fits(shown_seq, text)]


def _born(day: dt.date, length: int) -> str:
    return day.strftime("%Y%m%d") if length == 18 else day.strftime("%y%m%d")


def candidates(
    shown: str, sex: int | None, earliest: dt.date, latest: dt.date, *, limit: int | None = None
) -> int:
    """The ID numbers that fit `shown` (a star hides a character, any other is as shown), a
    birth date from `earliest` to `latest` and the sex (1 man, 2 woman, None unknown).

    Exact: each birth date × sequence number is built and its check character computed. With
    `limit`, counting stops there (the answer is then `limit`).
    """
    if len(shown) not in (15, 18) or STAR in shown[:6]:
        raise ValueError("a masked ID number of 15 or 18 characters that shows its region")
    region, length = shown[:6], len(shown)
    seqs = _sequences(shown, sex)
    check = shown[17] if length == 18 else STAR
    region_sum = _weighted(region, WEIGHTS[:6])
    count, day = 0, earliest
    while day <= latest:
        born = _born(day, length)
        if _fits(shown[6 : 6 + len(born)], born):
            if check == STAR:
                count += len(seqs)
            else:
                base = region_sum + sum(
                    int(c) * w for c, w in zip(born, WEIGHTS[6:14], strict=True)
                )
                count += sum(_CHECK[(base + s) % 11] == check for s in seqs)
            if limit is not None and count >= limit:
                return limit
        day += dt.timedelta(days=1)
    return count


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _cell(year: int, month: int, day: int | None = None) -> Cell | None:
    try:
        if day is None:
            return dt.date(year, month, 1), _month_end(year, month)
        exact = dt.date(year, month, day)
    except ValueError:
        return None
    return exact, exact


def cells_in_text(text: str) -> Iterator[Cell]:
    """Every date written in `text`, as the interval of days it stands for."""
    for pattern in (_DAY, _COMPACT):
        for m in pattern.finditer(text):
            found = _cell(int(m[1]), int(m[2]), int(m[3]))
            if found:
                yield found
    for m in _MONTH.finditer(text):
        found = _cell(int(m[1]), int(m[2]))
        if found:
            yield found


def cells(value: Any, key: str | None = None) -> Iterator[Cell]:
    """Every date in an answer (JSON), but those of the evaluation itself: a `birth_year` as
    its year, any other date written in any string (a month stands for its days)."""
    if key in EVALUATION_KEYS:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            yield from cells(v, str(k))
    elif isinstance(value, list):
        for v in value:
            yield from cells(v, key)
    elif key == "birth_year" and isinstance(value, int):
        yield dt.date(value, 1, 1), dt.date(value, 12, 31)
    elif isinstance(value, str):
        yield from cells_in_text(value)


def score_parts(body: Any) -> dict[str, Any]:
    """What an answer shows of scores (nothing for an answer without any)."""
    if not isinstance(body, dict):
        return {}
    return {k: body[k] for k in SCORE_KEYS if k in body}


@dataclass
class Clues:
    """What one reader was shown about one person, and where each part came from."""

    today: dt.date
    shown: str | None = None  # the masked ID number as shown
    sex: int | None = None
    cells: dict[Cell, str] = field(default_factory=dict)  # date interval → where it was shown
    bounds: dict[dt.date, str] = field(default_factory=dict)  # born on or before → why
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)  # where → scores shown

    def add(self, found: Iterator[Cell], where: str) -> None:
        for cell in found:
            self.cells.setdefault(cell, where)

    def add_scores(self, body: Any, where: str) -> None:
        parts = score_parts(body)
        if parts:
            self.scores[where] = parts

    def told_apart(self, other: Clues) -> list[str]:
        """Where the scores shown differ from `other`'s. With `other` what the reader is shown
        had the births been on other days of their months, any difference tells the days apart:
        one threshold day inside the month and the birth is on one side of it."""
        wheres = self.scores.keys() | other.scores.keys()
        return sorted(w for w in wheres if self.scores.get(w) != other.scores.get(w))

    def no_birth_year(self, where: str) -> None:
        """A masked view without a birth year: born this year or last (or unknown)."""
        self.cells.setdefault((dt.date(self.today.year - 1, 1, 1), self.today), where)

    def birth_range(self, born: dt.date) -> tuple[Cell, str]:
        """The birth dates the strongest reader is left with, and what bounded them.

        Such a reader knows of each date shown whether it is before or after the birth, so a
        date's interval that starts on or before the birth bounds it from below, one that ends
        on or after it from above. `born` (the truth) only tells which is which.
        """
        lows = [(start, w) for (start, _), w in self.cells.items() if start <= born]
        highs = [(end, w) for (_, end), w in self.cells.items() if end >= born]
        highs += [(day, w) for day, w in self.bounds.items() if day >= born]
        lo, lo_from = max(lows, default=(EARLIEST, "-"))
        hi, hi_from = min(highs, default=(self.today, "today"))
        if self.today < hi:
            hi, hi_from = self.today, "today"
        return (lo, hi), f"from {lo_from}, to {hi_from}"

    def count(self, born: dt.date, limit: int | None = None) -> tuple[int, str]:
        """How many ID numbers fit, and what narrowed the birth dates."""
        if self.shown is None:
            return 10**12, "no ID number shown"  # not even the region: more than any limit
        (lo, hi), why = self.birth_range(born)
        return candidates(self.shown, self.sex, lo, hi, limit=limit), f"{lo}…{hi} {why}"
