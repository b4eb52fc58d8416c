"""Hard cases of the probabilistic pass: homophones, swapped dates, namesakes in one county.

A small province is ingested and linked; then a crafted hukou file of records without an ID
number arrives and is linked incrementally, as a new month's feed would be.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from fpcredit.collect.ingest import ingest_file
from fpcredit.config import Settings
from fpcredit.guard.keys.crypto import create_keys, load_vault
from fpcredit.link.config import load_config
from fpcredit.link.export import links_frame
from fpcredit.link.features import pinyin
from fpcredit.link.index import link
from fpcredit.service import feed_path
from fpcredit.standard import idcard
from fpcredit.store.db import open_store
from fpcredit.synth import generate

pytestmark = pytest.mark.slow
SOURCES = ("police", "civil", "health", "hrss", "cdc", "mch")
# Characters with a common homophone (same toneless pinyin, different character).
HOMOPHONES = {
    **{"张": "章", "王": "汪", "刘": "柳", "杨": "阳", "吴": "武", "徐": "许", "周": "舟"},
    **{"伟": "玮", "丽": "莉", "静": "婧", "婷": "亭", "芳": "方", "华": "桦", "军": "君"},
    **{"杰": "洁", "涛": "滔", "明": "鸣", "勇": "涌", "艳": "燕", "娟": "鹃", "霞": "侠"},
    **{"平": "萍", "玲": "铃", "红": "虹", "英": "瑛", "辉": "晖", "建": "健", "文": "雯"},
    **{"云": "芸", "斌": "彬", "欣": "鑫", "佳": "嘉", "怡": "宜", "强": "墙", "雨": "宇"},
}


def _police(province: Path) -> pl.DataFrame:
    rows = pl.read_ndjson(feed_path(province, "police"), infer_schema_length=None)
    valid = rows.filter(
        pl.col("gmsfhm").map_elements(idcard.is_valid, return_dtype=pl.Boolean)
        & (pl.col("csrq") == pl.col("gmsfhm").str.slice(6, 8))
        & (pl.col("hjdz_xzqh") == pl.col("jzd_xzqh"))
    )
    # People with exactly one registration row, so the expected person is unambiguous.
    return valid.filter(pl.len().over("gmsfhm") == 1)


def _pick_homophone(police: pl.DataFrame) -> tuple[dict[str, Any], str]:
    """A person whose surname and one given-name character both have a homophone: the variant
    is two characters off, so only the pinyin comparison can see it is the same name."""
    for row in police.iter_rows(named=True):
        name = row["xm"]
        given = [i for i, ch in enumerate(name) if i > 0 and ch in HOMOPHONES]
        if name[0] in HOMOPHONES and given:
            chars = list(name)
            for i in (0, given[0]):
                chars[i] = HOMOPHONES[chars[i]]
            return row, "".join(chars)
    raise AssertionError("the province has no name with two homophone-prone characters")


def _pick_swappable(police: pl.DataFrame, exclude: str) -> tuple[dict[str, Any], str]:
    for row in police.iter_rows(named=True):
        month, day = row["csrq"][4:6], row["csrq"][6:8]
        if row["gmsfhm"] != exclude and int(day) <= 12 and day != month:
            return row, row["csrq"][:4] + day + month
    raise AssertionError("the province has no birth date whose day and month can swap")


def _namesakes(police: pl.DataFrame) -> tuple[dict[str, Any], str, str]:
    """A holder of the province's most common women's name, and two new birth dates in her
    birth year that no typo of hers could explain."""
    women = police.filter(pl.col("xb") == "2")
    name = women.group_by("xm").len().sort("len", "xm", descending=[True, False])["xm"][0]
    holder = women.filter(pl.col("xm") == name).sort("rkbm").row(0, named=True)
    born = holder["csrq"]
    start = dt.date(int(born[:4]), 1, 1)
    free = [
        d.strftime("%Y%m%d")
        for d in (start + dt.timedelta(days=k) for k in range(3, 360, 11))
        if d.strftime("%m") != born[4:6] and d.strftime("%d") not in (born[6:8], born[4:6])
    ]
    return holder, free[0], free[-1]


def _row(key: str, like: dict[str, Any], **changes: str) -> dict[str, Any]:
    return {**like, "rkbm": key, "gmsfhm": "", "djsj": "2026-06-01T09:00:00", **changes}


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    province = tmp_path_factory.mktemp("province")
    generate(people=3000, seed=11, out=province)
    settings = Settings(home=tmp_path_factory.mktemp("home"))
    create_keys(settings.keys_dir)
    store = open_store(settings)
    store.upgrade()
    vault = load_vault(settings.keys_dir)
    for source in SOURCES:
        ingest_file(store, vault, source, feed_path(province, source))
    link(store, vault, load_config())

    police = _police(province)
    homo, homo_name = _pick_homophone(police)
    swap, swap_date = _pick_swappable(police, exclude=homo["gmsfhm"])
    namesake, first, second = _namesakes(police)
    crafted = [
        _row("RX000000001", homo, xm=homo_name),
        _row("RX000000002", swap, csrq=swap_date),
        _row("RX000000003", namesake, csrq=first),
        _row("RX000000004", namesake, csrq=second),
    ]
    path = tmp_path_factory.mktemp("month") / "police.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in crafted))
    report = ingest_file(store, vault, "police", path)
    assert report.accepted == len(crafted), "every crafted row must be accepted"
    link(store, vault, load_config())

    links = links_frame(store).filter(pl.col("source") == "police")
    person = dict(zip(links["record_key"].to_list(), links["person_id"].to_list(), strict=True))
    yield {
        "person": person,
        "homo": (homo, homo_name),
        "swap": (swap, swap_date),
        "namesake": namesake,
        "holders": {
            person[r["rkbm"]]
            for r in police.filter(pl.col("xm") == namesake["xm"]).iter_rows(named=True)
        },
    }


def test_homophone_name_with_the_same_birth_date_is_linked(cases: dict[str, Any]) -> None:
    original, variant = cases["homo"]
    assert variant != original["xm"]
    same_sound = pinyin(pl.Series([variant, original["xm"]]))
    assert same_sound[0] == same_sound[1]
    person = cases["person"]
    assert person["RX000000001"] == person[original["rkbm"]]


def test_day_month_swapped_birth_date_is_linked(cases: dict[str, Any]) -> None:
    original, swapped = cases["swap"]
    assert swapped != original["csrq"]
    person = cases["person"]
    assert person["RX000000002"] == person[original["rkbm"]]


def test_namesakes_born_the_same_year_in_one_county_stay_apart(cases: dict[str, Any]) -> None:
    person = cases["person"]
    first, second = person["RX000000003"], person["RX000000004"]
    assert first != second
    # Neither is taken for an existing holder of the name, the one in their county included.
    assert len(cases["holders"]) >= 3, "the name should be common"
    assert not {first, second} & cases["holders"]
