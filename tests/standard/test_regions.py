"""Tests for the GB/T 2260 region table."""

from __future__ import annotations

import re
from importlib.resources import files

import pytest

from fpcredit.standard import regions
from fpcredit.standard.regions import Region

PARENT_LEVEL = {"prefecture": "province", "county": "prefecture"}
MIGRANT_PROVINCES = ("34", "36", "41", "42", "43", "45", "51", "52")


def _csv_rows() -> list[list[str]]:
    text = files("fpcredit.standard").joinpath("regions.csv").read_text("utf-8")
    return [line.split(",") for line in text.splitlines()]


def test_csv_header_and_unique_six_digit_codes() -> None:
    header, *rows = _csv_rows()
    assert header == ["code", "name", "level", "parent"]
    codes = [row[0] for row in rows]
    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"\d{6}", code) for code in codes)
    assert all(regions.is_known(code) for code in codes)


def test_every_parent_exists_with_the_right_level() -> None:
    for code, _, level, parent in _csv_rows()[1:]:
        region = regions.lookup(code)
        assert region is not None and region.level == level
        if level == "province":
            assert region.parent is None and code.endswith("0000")
            continue
        parent_region = regions.lookup(parent)
        assert parent_region is not None, code
        assert parent_region.level == PARENT_LEVEL[level], code


def test_codes_nest_under_their_parents() -> None:
    for region in map(regions.lookup, (row[0] for row in _csv_rows()[1:])):
        assert region is not None
        if region.level == "county":
            assert region.parent is not None and region.code[:4] == region.parent[:4]
        elif region.level == "prefecture":
            assert region.parent == regions.province_of(region.code)
            assert region.code.endswith("00") and not region.code.endswith("0000")


def test_all_34_provinces() -> None:
    provinces = [row for row in _csv_rows()[1:] if row[2] == "province"]
    assert len(provinces) == 34
    assert regions.full_name("110000") == "北京市"
    assert regions.full_name("820000") == "澳门特别行政区"


def test_zhejiang_is_complete() -> None:
    prefectures = [r for r in _csv_rows()[1:] if r[2] == "prefecture" and r[0].startswith("33")]
    assert len(prefectures) == 11
    assert len(regions.counties("33")) >= 85
    assert {r.parent for r in regions.counties("33")} == {p[0] for p in prefectures}


@pytest.mark.parametrize("province", MIGRANT_PROVINCES)
def test_migrant_provinces_have_prefectures_and_counties(province: str) -> None:
    rows = _csv_rows()[1:]
    assert sum(1 for r in rows if r[2] == "prefecture" and r[0].startswith(province)) >= 4
    found = regions.counties(province)
    assert len(found) >= 5
    assert any(r.urban for r in found) and not all(r.urban for r in found)


def test_lookup() -> None:
    assert regions.lookup("330106") == Region("330106", "西湖区", "county", "330100", True)
    assert regions.lookup("330100") == Region("330100", "杭州市", "prefecture", "330000", True)
    assert regions.lookup("330000") == Region("330000", "浙江省", "province", None, True)
    assert regions.lookup("999999") is None
    assert regions.lookup("") is None
    assert not regions.is_known("330103")  # 下城区, merged away in 2021


@pytest.mark.parametrize(
    ("code", "urban"),
    [("330106", True), ("330122", False), ("330182", False), ("331127", False), ("310115", True)],
)
def test_urban_flag(code: str, urban: bool) -> None:
    region = regions.lookup(code)
    assert region is not None and region.urban is urban


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("330106", "浙江省杭州市西湖区"),
        ("330100", "浙江省杭州市"),
        ("331127", "浙江省丽水市景宁畲族自治县"),
        ("110105", "北京市朝阳区"),  # the pseudo-prefecture 市辖区 is not part of the name
        ("310115", "上海市浦东新区"),
        ("440305", "广东省深圳市南山区"),
        ("522700", "贵州省黔南布依族苗族自治州"),
    ],
)
def test_full_name(code: str, name: str) -> None:
    assert regions.full_name(code) == name


@pytest.mark.parametrize("code", ["999999", "330103", "", "33010"])
def test_full_name_unknown_raises_key_error(code: str) -> None:
    with pytest.raises(KeyError):
        regions.full_name(code)


def test_counties() -> None:
    hangzhou = regions.counties("3301")
    assert [r.code for r in hangzhou] == sorted(r.code for r in hangzhou)
    assert hangzhou[0].code == "330102" and hangzhou[-1].code == "330182"
    assert all(r.level == "county" for r in regions.counties())
    assert regions.counties("330106") == [regions.lookup("330106")]
    assert regions.counties("99") == []


def test_province_of() -> None:
    assert regions.province_of("330106") == "330000"
    assert regions.province_of("110000") == "110000"
