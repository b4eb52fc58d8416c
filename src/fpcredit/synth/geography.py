"""Where people live: 浙江's counties by population, migrants' home counties, addresses."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from fpcredit.standard import regions
from fpcredit.synth.rng import Floats, Ints

__all__ = ["PROVINCE", "Geography", "addresses", "geography", "phones"]

PROVINCE: Final = "33"
# 2020 census population of each prefecture of 浙江 (millions), and how strongly it draws migrants.
_PREFECTURES: Final = {
    "3301": (11.94, 1.3), "3302": (9.40, 1.3), "3303": (9.57, 1.1), "3304": (5.40, 1.3),
    "3305": (3.37, 0.9), "3306": (5.27, 1.0), "3307": (7.05, 1.3), "3308": (2.28, 0.4),
    "3309": (1.16, 0.6), "3310": (6.62, 0.9), "3311": (2.51, 0.4),
}  # fmt: skip
# Provinces 浙江's migrants come from, with their shares (census 2020, rounded).
_ORIGINS: Final = {
    "34": 0.22, "36": 0.16, "41": 0.14, "42": 0.07, "43": 0.08, "45": 0.04, "51": 0.11, "52": 0.18,
}  # fmt: skip
_ROADS: Final = (
    "解放路 中山路 人民路 建设路 文化路 新华路 和平路 延安路 凤起路 庆春路 学院路 湖滨路 江南大道 "
    "钱江路 世纪大道 东风路 青年路 工人路 胜利路 振兴路 兴业街 幸福路 园林路 环城北路 滨江路 "
    "体育场路 天目山路 文三路 新安路 府前路"
).split()
_TOWNS: Final = (
    "城关 新安 大溪 横山 白石 清溪 东岭 西河 南塘 北岙 石门 桥头 花园 灵山 岭下 高桥".split()
)
_VILLAGES: Final = (
    "上塘 下洋 前山 后岙 东村 西坞 新屋 塘头 溪口 竹林 枫树 岩头 金家 王家 李家".split()
)
_MOBILE_PREFIXES: Final = (
    "130 131 132 133 134 135 136 137 138 139 150 151 152 153 155 156 157 158 159 "
    "176 177 178 180 181 182 183 184 185 186 187 188 189 198 199"
).split()


@dataclass(frozen=True)
class Geography:
    """County-level regions used by the province, indexed 0..n-1 (浙江 first)."""

    codes: list[str]
    full_names: list[str]
    urban: npt.NDArray[np.bool_]
    zhejiang: Ints  # indices of 浙江's counties
    resident_weight: Floats  # over `zhejiang`: where residents with hukou in 浙江 live
    migrant_weight: Floats  # over `zhejiang`: where migrants live
    origins: Ints  # indices of migrants' home counties (outside 浙江)
    origin_weight: Floats

    @property
    def code_numbers(self) -> Ints:
        """The six-digit codes as integers."""
        return np.array([int(code) for code in self.codes], dtype=np.int64)

    @property
    def province_span(self) -> tuple[Ints, Ints]:
        """For each county, the first index and the number of the counties of its province."""
        province = np.array([int(code[:2]) for code in self.codes])
        _, first, size = np.unique(province, return_index=True, return_counts=True)
        group = np.searchsorted(np.unique(province), province)
        return first[group].astype(np.int64), size[group].astype(np.int64)

    def code_series(self, index: Ints) -> pl.Series:
        """The six-digit codes of the counties at `index`."""
        return pl.Series(self.codes, dtype=pl.Utf8).gather(index)


@cache
def geography() -> Geography:
    """The county table, from `fpcredit.standard.regions`."""
    home = regions.counties(PROVINCE)
    away = [r for p in _ORIGINS for r in regions.counties(p)]
    counties = home + away
    urban = np.array([r.urban for r in counties])
    n_home = len(home)
    resident, migrant = _home_weights(home)
    return Geography(
        codes=[r.code for r in counties],
        full_names=[regions.full_name(r.code) for r in counties],
        urban=urban,
        zhejiang=np.arange(n_home, dtype=np.int64),
        resident_weight=resident,
        migrant_weight=migrant,
        origins=np.arange(n_home, len(counties), dtype=np.int64),
        origin_weight=_origin_weights(away),
    )


def _home_weights(home: list[regions.Region]) -> tuple[Floats, Floats]:
    prefecture = [r.code[:4] for r in home]
    per_prefecture = {p: prefecture.count(p) for p in set(prefecture)}
    base = np.array([_PREFECTURES.get(p, (3.0, 1.0))[0] / per_prefecture[p] for p in prefecture])
    pull = np.array([_PREFECTURES.get(p, (3.0, 1.0))[1] for p in prefecture])
    district = np.array([r.urban for r in home])
    # Districts are denser than counties; migrants go to districts and county-level boom towns.
    resident = base * np.where(district, 1.3, 1.0)
    migrant = base * pull * np.where(district, 2.0, 1.0)
    return resident / resident.sum(), migrant / migrant.sum()


def _origin_weights(away: list[regions.Region]) -> Floats:
    province = [r.code[:2] for r in away]
    weights = np.array([_ORIGINS[p] / province.count(p) for p in province], dtype=np.float64)
    return np.asarray(weights / weights.sum(), dtype=np.float64)


def addresses(rng: np.random.Generator, county: Ints) -> pl.Series:
    """A plausible (fake) street or village address in each county."""
    geo = geography()
    n = len(county)
    village = ~geo.urban[county] & (rng.random(n) < 0.5)
    street = _pieces(_ROADS, rng, n) + pl.Series(rng.integers(1, 400, n)).cast(pl.Utf8) + "号"
    flat = pl.Series(rng.integers(1, 30, n)).cast(pl.Utf8) + "幢" + _room(rng, n) + "室"
    town = _pieces(_TOWNS, rng, n) + "镇" + _pieces(_VILLAGES, rng, n) + "村"
    house = pl.Series(rng.integers(1, 200, n)).cast(pl.Utf8) + "号"
    local = pl.select(
        pl.when(pl.Series(village)).then(town + house).otherwise(street + flat)
    ).to_series()
    return pl.Series(geo.full_names).gather(county) + local


def _pieces(words: list[str], rng: np.random.Generator, n: int) -> pl.Series:
    return pl.Series(words).gather(rng.integers(0, len(words), n))


def _room(rng: np.random.Generator, n: int) -> pl.Series:
    return pl.Series(rng.integers(1, 30, n) * 100 + rng.integers(1, 5, n)).cast(pl.Utf8)


def phones(rng: np.random.Generator, n: int) -> pl.Series:
    """Eleven-digit mobile numbers (random, so fake)."""
    suffix = pl.Series(rng.integers(0, 100_000_000, n)).cast(pl.Utf8).str.zfill(8)
    return _pieces(list(_MOBILE_PREFIXES), rng, n) + suffix
