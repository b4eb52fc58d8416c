"""卫健委信用管理 credit events and objective difficulties, `credit.csv` (UTF-8).

A credit event (信用事件) is the health commission's formal finding that a person made a false
declaration (a wrong birth order declared, a birth hidden to get a subsidy) or committed data
fraud (forged data, another person's identity used), with its severity under NDRC Order 58
(2023); the policy, not the feed, decides how long each severity counts. An objective
difficulty (客观困难) is recorded by the county health bureau where the person lives: illness,
disability, a natural disaster, migrant work or income hardship exempts the person from one area
of indicators for 6–24 months (SPEC R14). Both are rare and happen to adults only.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import polars as pl

from fpcredit.synth.clock import (
    HORIZON_DAY,
    WINDOW_START,
    Days,
    add_months,
    add_years,
    date_text,
    time_text,
)
from fpcredit.synth.feeds.base import clock_time, late, scramble, self_feed, shown_id
from fpcredit.synth.population import Strs
from fpcredit.synth.rng import Floats, Ints, lognormal, pick, stream, with_tail
from fpcredit.synth.world import World, take

__all__ = ["FEED"]

EVENT_RATE: Final = 0.015  # of adults, one credit event each over the window
DIFFICULTY_RATE: Final = 0.03  # of adults, one difficulty each over the window
_CATEGORIES: Final = np.array(["信用事件", "客观困难"])
# Native labels: 数据造假 and 冒用身份 are both data fraud in the standard.
_EVENT_TYPES: Final = np.array(["虚假申报", "数据造假", "冒用身份"])
_EVENT_TYPE_SHARES: Final = (70, 18, 12)
_SEVERITIES: Final = np.array(["轻微", "一般", "严重"])
_SEVERITY_SHARES: Final = (60, 30, 10)
_SCOPES: Final = np.array(["避孕节育", "生育保险缴费", "健康检查", "预防接种", "婴幼儿照护"])
# Vaccination and infant care only concern parents; contraception and insurance come first.
_SCOPES_PARENT: Final = (34, 26, 14, 14, 12)
_SCOPES_OTHER: Final = (48, 36, 16, 0, 0)
_REASONS: Final = np.array(["疾病", "残疾", "自然灾害", "外出务工", "收入困难", "其他"])
_REASONS_URBAN: Final = (36, 15, 5, 4, 25, 15)
_REASONS_RURAL: Final = (26, 10, 12, 24, 20, 8)
_REASONS_MIGRANT: Final = (16, 8, 4, 50, 15, 7)
_EVENT, _DIFFICULTY = 0, 1
_CODE_COLUMNS: Final = ("type", "severity", "scope", "reason", "valid_until")


def rows(world: World, seed: int) -> pl.DataFrame:
    """Decisions to the horizon, keyed in a few days later by the credit office."""
    rng = stream(seed, "credit", "rows")
    events, difficulties = _events(rng, world), _difficulties(rng, world)
    part = {name: np.concatenate([events[name], difficulties[name]]) for name in events}
    order = np.lexsort((part["_kind"], part["_day"], part["_self"]))
    n = len(order)
    frame = pl.DataFrame({name: values[order] for name, values in part.items()})
    lag = with_tail(rng, lognormal(rng, n, 4, 0.6, 1, 20), 0.02, 30, 120)
    return frame.with_columns(
        pl.Series("_key", scramble(np.arange(n), 12, seed)),
        pl.Series("_recorded", late(frame["_day"].to_numpy(), lag, clock_time(rng, n, 8.5, 17.5))),
        # A formal decision names the person's ID number, but not always.
        pl.Series("_has_id", rng.random(n) < 0.95),
        pl.Series("_u_id", rng.random(n)),
    )


Part = dict[str, Ints]  # _self, _kind, _day and the codes of the row (-1: not applicable)


def _part(person: Ints, kind: int, day: Days, **codes: Ints) -> Part:
    n = len(person)
    none = np.full(n, -1, dtype=np.int64)
    columns = {f"_{name}": codes.get(name, none) for name in _CODE_COLUMNS}
    return {"_self": person, "_kind": np.full(n, kind, dtype=np.int64), "_day": day, **columns}


def _adult_from(world: World) -> Days:
    """First day of the window on which each base person is 18 or older."""
    born = world.persons.birth[: world.n_base]
    return np.maximum(add_years(born, 18), WINDOW_START)


def _first_births(world: World) -> Days:
    """The day each base person's first child of the window was born (after the horizon: none)."""
    first = np.full(world.n_base, HORIZON_DAY + 1, dtype=np.int64)
    kids = world.children
    np.minimum.at(first, kids.mother, kids.birth)
    np.minimum.at(first, kids.father, kids.birth)
    return first


def _chosen(rng: np.random.Generator, rate: float, weight: Floats) -> Ints:
    """Base persons chosen with probability `rate` on average, in proportion to `weight`."""
    return np.flatnonzero(rng.random(len(weight)) < rate * weight / weight.mean())


def _days(rng: np.random.Generator, first: Days) -> Days:
    """A uniform day from `first` to the horizon."""
    first = np.minimum(first, HORIZON_DAY)
    return first + (rng.random(len(first)) * (HORIZON_DAY - first + 1)).astype(np.int64)


def _events(rng: np.random.Generator, world: World) -> Part:
    # Declarations concern births and subsidies: parents are found out twice as often, and
    # only after their first child of the window was born.
    first_birth = _first_births(world)
    parent = first_birth <= HORIZON_DAY
    person = _chosen(rng, EVENT_RATE, np.where(parent, 2.0, 1.0))
    after_birth = np.where(parent[person], first_birth[person] + 30, WINDOW_START)
    day = _days(rng, np.maximum(_adult_from(world)[person], after_birth))
    n = len(person)
    kinds = pick(rng, n, _EVENT_TYPE_SHARES)
    return _part(person, _EVENT, day, type=kinds, severity=pick(rng, n, _SEVERITY_SHARES))


def _difficulties(rng: np.random.Generator, world: World) -> Part:
    persons = world.persons
    urban, migrant = persons.urban[: world.n_base], persons.migrant[: world.n_base]
    # Rural people and migrants meet objective difficulties about twice as often.
    person = _chosen(rng, DIFFICULTY_RATE, np.where(urban & ~migrant, 1.0, 2.0))
    n = len(person)
    day = _days(rng, _adult_from(world)[person])
    parent = _first_births(world)[person] <= HORIZON_DAY
    scope = np.where(parent, pick(rng, n, _SCOPES_PARENT), pick(rng, n, _SCOPES_OTHER))
    reason = np.where(
        migrant[person],
        pick(rng, n, _REASONS_MIGRANT),
        np.where(urban[person], pick(rng, n, _REASONS_URBAN), pick(rng, n, _REASONS_RURAL)),
    )
    valid_until = add_months(day, rng.integers(6, 25, n))
    return _part(person, _DIFFICULTY, day, scope=scope, reason=reason, valid_until=valid_until)


def render(frame: pl.DataFrame, world: World) -> pl.DataFrame:
    """The credit office's columns."""
    text = world.text
    person = frame["_self"].to_numpy()
    ids = take(text["id_number"], np.where(frame["_has_id"].to_numpy(), person, -1))
    until = frame["_valid_until"].to_numpy()
    return pl.DataFrame(
        {
            "记录编号": "C" + frame["_key"].cast(pl.Utf8).str.zfill(12),
            "类别": _label(_CATEGORIES, frame["_kind"]),
            "姓名": take(text["name"], person),
            "身份证号": shown_id(ids, frame["_u_id"], 0.2, 0),
            "性别": pl.Series(np.where(world.persons.sex[person] == 1, "男", "女"), dtype=pl.Utf8),
            "出生日期": take(text["birth"], person),
            "事件类型": _label(_EVENT_TYPES, frame["_type"]),
            "严重程度": _label(_SEVERITIES, frame["_severity"]),
            "困难范围": _label(_SCOPES, frame["_scope"]),
            "困难原因": _label(_REASONS, frame["_reason"]),
            "有效期至": _dates(until),
            "认定日期": date_text(frame["_day"], "%Y-%m-%d"),
            "认定地区划": take(text["residence"], person),
            "录入时间": time_text(frame["_recorded"], "%Y-%m-%d %H:%M:%S"),
            "_has_id": frame["_has_id"],
        }
    )


def _dates(days: Days) -> pl.Series:
    """Dates as YYYY-MM-DD, "" where the day is -1 (not applicable)."""
    text = date_text(np.maximum(days, 0), "%Y-%m-%d")
    return pl.select(pl.when(pl.Series(days >= 0)).then(text).otherwise(pl.lit(""))).to_series()


def _label(labels: Strs, index: pl.Series) -> pl.Series:
    """labels[index], "" where the index is -1 (not applicable)."""
    i = index.to_numpy()
    return pl.Series(np.where(i >= 0, labels[np.maximum(i, 0)], ""), dtype=pl.Utf8)


FEED = self_feed(
    "credit.csv", "记录编号", rows, render,
    ids=("身份证号", "_has_id"), name="姓名", birth=("出生日期", "%Y-%m-%d"),
    event=("认定日期", "%Y-%m-%d"), codes=("类别", ("其他", "9")),
    # Formal decisions are keyed with care: a quarter of the seed's error rate.
    error_scale=0.25,
)  # fmt: skip
