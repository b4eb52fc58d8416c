"""GB/T 2260 administrative division codes: a partial table (all provinces, Zhejiang in full)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Final, Literal, cast

__all__ = ["Region", "counties", "full_name", "is_known", "lookup", "province_of"]

Level = Literal["province", "prefecture", "county"]
_LEVELS: Final = ("province", "prefecture", "county")
# GB/T 2260 lists the districts of municipalities under a pseudo-prefecture "市辖区"
# (e.g. 110100); it is not part of anyone's address, so full names leave it out.
_PSEUDO_PREFECTURE: Final = "市辖区"


@dataclass(frozen=True, slots=True)
class Region:
    """One row of the division table."""

    code: str  # six digits
    name: str  # e.g. 西湖区
    level: Level
    parent: str | None  # code of the parent region (county → prefecture → province)
    urban: bool  # counties: 区 True; 县, 自治县, 县级市 False; provinces/prefectures True


def _region(row: dict[str, str]) -> Region:
    level = row["level"]
    if level not in _LEVELS:
        raise ValueError(f"regions.csv: unknown level {level!r} for {row['code']}")
    # Only districts (区) count as urban; counties and county-level cities keep rural hukou.
    urban = level != "county" or row["name"].endswith("区")
    return Region(row["code"], row["name"], cast(Level, level), row["parent"] or None, urban)


@cache
def _table() -> dict[str, Region]:
    text = files(__package__ or "fpcredit.standard").joinpath("regions.csv").read_text("utf-8")
    return {r.code: r for r in map(_region, csv.DictReader(io.StringIO(text)))}


def lookup(code: str) -> Region | None:
    """The region with this six-digit code, or None when the table does not have it."""
    return _table().get(code)


def is_known(code: str) -> bool:
    """True when the code is in the table."""
    return code in _table()


def counties(prefix: str = "") -> list[Region]:
    """County-level regions whose code starts with `prefix`, sorted by code."""
    found = (r for r in _table().values() if r.level == "county" and r.code.startswith(prefix))
    return sorted(found, key=lambda r: r.code)


def province_of(code: str) -> str:
    """The province-level code a six-digit code belongs to."""
    return code[:2] + "0000"


def full_name(code: str) -> str:
    """E.g. "浙江省杭州市西湖区"; raise KeyError for codes not in the table."""
    table = _table()
    parts: list[str] = []
    region: Region | None = table[code]
    while region is not None:
        if region.name != _PSEUDO_PREFECTURE:
            parts.append(region.name)
        region = table[region.parent] if region.parent else None
    return "".join(reversed(parts))
