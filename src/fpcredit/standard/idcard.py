"""Resident identity numbers (GB 11643-1999): validation, 15→18 upgrade and field extraction."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Final

from fpcredit.errors import InvalidIdNumber

__all__ = [
    "PROVINCE_PREFIXES",
    "WEIGHTS",
    "IdNumber",
    "InvalidIdNumber",
    "birth_date",
    "check_digit",
    "is_valid",
    "normalize",
    "parse",
    "region_code",
    "sex",
    "upgrade15",
]

# ISO 7064 MOD 11-2 weights for positions 1..17 and the check character for each remainder.
WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS: Final = "10X98765432"

# Province-level prefixes of GB/T 2260 (incl. Taiwan 71, Hong Kong 81, Macao 82). Only the
# province is checked strictly: six-digit county codes change over the years and IDs keep the
# code that was in force when they were issued.
PROVINCE_PREFIXES: Final = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
    ]
)
_EARLIEST_BIRTH: Final = dt.date(1900, 1, 1)
_SPACES: Final = re.compile(r"[\s\u3000-]+")


@dataclass(frozen=True, slots=True)
class IdNumber:
    """A valid 18-character ID number and what it encodes."""

    text: str
    region: str
    birth_date: dt.date
    sex: int  # GB/T 2261.1: 1 male, 2 female


def check_digit(first17: str) -> str:
    """The MOD 11-2 check character for the first 17 digits."""
    total = sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def upgrade15(text: str) -> str:
    """Upgrade a legacy 15-digit number (issued before 2000, year 19YY) to 18 characters."""
    if len(text) != 15 or not (text.isascii() and text.isdigit()):
        raise InvalidIdNumber("length" if len(text) != 15 else "characters", text)
    first17 = text[:6] + "19" + text[6:]
    return first17 + check_digit(first17)


def _parse_date(digits: str) -> dt.date | None:
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def parse(text: str, *, today: dt.date | None = None) -> IdNumber:
    """Validate and normalise; raise InvalidIdNumber naming the first failed check."""
    cleaned = _SPACES.sub("", text).upper()
    if not cleaned:
        raise InvalidIdNumber("empty", text)
    if len(cleaned) not in (15, 18):
        raise InvalidIdNumber("length", text)
    body, last = (cleaned, "") if len(cleaned) == 15 else (cleaned[:17], cleaned[17])
    if not body.isascii() or not body.isdigit() or (last and last not in "0123456789X"):
        raise InvalidIdNumber("characters", text)
    if cleaned[:2] not in PROVINCE_PREFIXES:
        raise InvalidIdNumber("region", text)
    full = upgrade15(cleaned) if len(cleaned) == 15 else cleaned
    born = _parse_date(full[6:14])
    limit = today or dt.date.today()
    if born is None or not _EARLIEST_BIRTH <= born <= limit:
        raise InvalidIdNumber("birth_date", text)
    if check_digit(full[:17]) != full[17]:
        raise InvalidIdNumber("check_digit", text)
    return IdNumber(full, full[:6], born, 1 if int(full[16]) % 2 else 2)


def normalize(text: str) -> str:
    """Return the canonical 18-character form (spaces stripped, x upper-cased, 15→18)."""
    return parse(text).text


def is_valid(text: str) -> bool:
    """True when `normalize` would succeed."""
    try:
        parse(text)
    except InvalidIdNumber:
        return False
    return True


def region_code(text: str) -> str:
    """Six-digit GB/T 2260 code of the issuing region."""
    return parse(text).region


def birth_date(text: str) -> dt.date:
    """Birth date encoded in the number."""
    return parse(text).birth_date


def sex(text: str) -> int:
    """1 (male) or 2 (female), from the parity of the sequence code."""
    return parse(text).sex
