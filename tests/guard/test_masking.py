"""Masking of identifiers (R28) and the role table that decides who sees them in clear."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpcredit.guard.access import Role
from fpcredit.guard.masking import (
    REVEAL_ROLES,
    Dates,
    exact_dates,
    field_of,
    mask_address,
    mask_birth_date,
    mask_date,
    mask_fields,
    mask_id_number,
    mask_name,
    mask_phone,
    may_reveal,
    month_is_over,
)
from fpcredit.standard import idcard
from tests.standard.test_idcard import valid_ids

MOBILE = re.compile(r"1[3-9]\d{9}")
mobiles = st.from_regex(r"\A1[3-9][0-9]{9}\Z")
legacy_ids = st.builds(
    lambda p, c, d, s: p + c + d.strftime("%y%m%d") + s,
    st.sampled_from(sorted(idcard.PROVINCE_PREFIXES)),
    st.text("0123456789", min_size=4, max_size=4),
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(1999, 12, 31)),
    st.text("0123456789", min_size=3, max_size=3),
)


def test_documented_examples() -> None:
    assert mask_id_number("11010519491231002X") == "110105************"
    assert mask_id_number("110105491231002") == "110105*********"
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_name("John Smith") == "J*** *****"
    assert mask_name("阿依古丽·买买提") == "阿***·***"
    assert mask_name("张") == "*"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+86 138 1234 5678") == "+86 138 **** 5678"
    assert mask_phone("0571-88812345") == "0571-****2345"
    assert mask_phone("010-62345678") == "010-****5678"
    assert mask_phone("88812345") == "****2345"
    assert mask_phone("12345") == "*****"


@pytest.mark.parametrize(
    ("address", "code", "masked"),
    [
        ("浙江省杭州市西湖区文三路90号", "330106", "浙江省杭州市西湖区****"),
        ("杭州市西湖区文三路90号", "330106", "杭州市西湖区****"),
        ("北京市朝阳区建国路1号", "110105", "北京市朝阳区****"),
        ("浙江省杭州市西湖区文三路90号", None, "浙江省杭州市西湖区****"),
        ("浙江省义乌市稠城街道1号", None, "浙江省义乌市****"),
        ("浙江省温州市乐清市柳市镇", None, "浙江省温州市乐清市****"),
        ("上海市浦东新区世纪大道1号", None, "上海市浦东新区****"),
        ("内蒙古自治区呼和浩特市新城区1号", None, "内蒙古自治区呼和浩特市新城区****"),
        # The street never survives, even with 市 or 区 inside it.
        ("浙江省杭州市市场路5号", None, "浙江省杭州市****"),
        ("杭州市文一路小区5号", None, "杭州市****"),
        # A code that does not fit the address: the shape decides.
        ("浙江省宁波市奉化区府前路83号", "330106", "浙江省宁波市奉化区****"),
        ("某处", None, "****"),
    ],
)
def test_address_is_kept_down_to_the_county(address: str, code: str | None, masked: str) -> None:
    assert mask_address(address, code) == masked
    assert mask_address(masked, code) == masked


@given(valid_ids())
def test_masked_id_keeps_only_the_region(id_number: str) -> None:
    masked = mask_id_number(id_number)
    assert not idcard.is_valid(masked)
    assert len(masked) == len(id_number)
    # Birth date, sequence and check digit are all hidden: any of them shown beside the sex
    # would leave fewer than 10,000 candidates per month of birth (tests/web/test_reidentify.py).
    assert masked == id_number[:6] + "*" * 12
    assert mask_id_number(masked) == masked


@given(legacy_ids)
def test_masked_legacy_id_keeps_only_the_region(id_number: str) -> None:
    masked = mask_id_number(id_number)
    assert not idcard.is_valid(masked) and masked == id_number[:6] + "*" * 9
    assert mask_id_number(masked) == masked


@given(st.text(max_size=30))
def test_masking_is_idempotent_on_any_text(value: str) -> None:
    for mask in (mask_id_number, mask_name, mask_phone, mask_address):
        once = mask(value)
        assert mask(once) == once
    assert len(mask_id_number(value)) == len(value)
    assert len(mask_phone(value)) == len(value)
    assert len(mask_name(value)) == len(value)


@given(mobiles)
def test_masked_mobile_keeps_its_length_and_is_no_phone(phone: str) -> None:
    masked = mask_phone(phone)
    assert len(masked) == 11 and masked[:3] == phone[:3] and masked[-4:] == phone[-4:]
    assert not MOBILE.search(masked)
    assert mask_phone(masked) == masked


@given(st.text(alphabet=st.characters(categories=["Lo"]), min_size=2, max_size=6))
def test_only_the_first_character_of_a_name_survives(name: str) -> None:
    masked = mask_name(name)
    assert masked == name[0] + "*" * (len(name) - 1)


def test_field_keys() -> None:
    assert field_of("name") == "name"
    assert field_of("mother.id_number") == "id_number"
    assert field_of("father_phone") == "phone"
    assert field_of("address") == "address"
    assert field_of("file_name") is None
    assert field_of("hukou_region") is None


VALUES = {
    "name": "张三",
    "mother.id_number": "11010519491231002X",
    "phone": "13812345678",
    "address": "浙江省杭州市西湖区文三路90号",
    "hukou_region": "330106",
    "file_name": "health.csv",
    "father_phone": None,
}
MASKED = {
    "name": "张*",
    "mother.id_number": "110105************",
    "phone": "138****5678",
    "address": "浙江省杭州市西湖区****",
    "hukou_region": "330106",
    "file_name": "health.csv",
    "father_phone": None,
}


@pytest.mark.parametrize("role", list(Role))
def test_only_roles_that_need_identifiers_see_them_and_only_when_asked(role: Role) -> None:
    assert mask_fields(VALUES, role, reveal=False) == MASKED
    expected = VALUES if role in REVEAL_ROLES else MASKED
    assert mask_fields(VALUES, role, reveal=True) == expected
    assert may_reveal(role) is (role in REVEAL_ROLES)


def test_the_role_table() -> None:
    assert {Role.PROVINCE, Role.CITY, Role.COUNTY, Role.CITIZEN} == REVEAL_ROLES
    for never in (Role.NATIONAL, Role.AUDITOR, Role.DEPARTMENT):
        assert not may_reveal(never)


def test_the_role_table_is_the_one_in_the_docs() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "keys.md").read_text(encoding="utf-8")
    for role in Role:
        row = next(line for line in doc.splitlines() if line.startswith(f"| `{role.value}`"))
        assert ("in clear on request" in row) is (role in REVEAL_ROLES), row


def test_region_code_steers_the_address() -> None:
    got = mask_fields({"address": "西湖区文三路90号"}, Role.NATIONAL, False, region_code="330106")
    assert got == {"address": "西湖区****"}


def test_birth_year_examples() -> None:
    on = dt.date(2026, 1, 5)
    assert mask_birth_date(dt.date(1990, 8, 31), on) == 1990
    assert mask_birth_date(dt.date(2024, 12, 31), on) == 2024
    assert mask_birth_date(dt.date(2025, 1, 1), on) is None  # last year
    assert mask_birth_date(dt.date(2026, 1, 2), on) is None  # this year
    assert mask_birth_date(None, on) is None


@given(st.dates(min_value=dt.date(1900, 1, 1)), st.integers(0, 40_000))
def test_what_the_birth_year_shows_leaves_a_year_or_more(born: dt.date, age: int) -> None:
    """The births a reader who knows today cannot tell apart from this one span a year at
    least: a year that is over, or from 1 January of last year to today."""
    on = born + dt.timedelta(days=age)
    shown = mask_birth_date(born, on)
    if shown is None:
        first, last = dt.date(on.year - 1, 1, 1), on
    else:
        first, last = dt.date(shown, 1, 1), dt.date(shown, 12, 31)
        assert last < on  # a year still running is never shown
    assert first <= born <= last and (last - first).days + 1 >= 365
    for day in (first, last):
        assert mask_birth_date(day, on) == shown
    assert mask_birth_date(first - dt.timedelta(days=1), on) != shown


def test_dates_by_month() -> None:
    assert mask_date(dt.date(2026, 1, 17)) == "2026-01"
    assert month_is_over(dt.date(2026, 1, 17), dt.date(2026, 1, 31))
    assert not month_is_over(dt.date(2026, 1, 17), dt.date(2026, 1, 30))
    assert month_is_over(dt.date(2024, 2, 3), dt.date(2024, 2, 29))
    assert not month_is_over(dt.date(2024, 2, 3), dt.date(2024, 2, 28))


@given(st.dates(), st.dates())
def test_a_month_is_over_when_all_its_days_are_past(day: dt.date, on: dt.date) -> None:
    month = [d for d in (day.replace(day=1) + dt.timedelta(days=i) for i in range(31))]
    month = [d for d in month if d.month == day.month]
    assert month_is_over(day, on) is all(d <= on for d in month)
    assert {mask_date(d) for d in month} == {mask_date(day)}


def test_report_dates() -> None:
    exact, masked = Dates(), Dates(exact=False, on=dt.date(2026, 3, 31))
    day, time = dt.date(2026, 1, 17), dt.datetime(2026, 1, 20, 9, 30)
    assert exact.field("event", day) == {"event_date": "2026-01-17"}
    assert exact.field("registered", time) == {"registered_at": "2026-01-20 09:30:00"}
    assert masked.field("event", day) == {"event_month": "2026-01"}
    assert masked.field("registered", time) == {"registered_month": "2026-01"}
    assert (exact.text(day), masked.text(day)) == ("2026-01-17", "2026-01")
    assert masked.complete(dt.date(2026, 3, 31)) and not masked.complete(dt.date(2026, 4, 30))
    assert exact.complete(dt.date(2999, 12, 31))


@pytest.mark.parametrize("role", list(Role))
def test_dates_are_exact_only_in_a_reveal_or_for_the_citizen(role: Role) -> None:
    assert exact_dates(role, reveal=False) is (role is Role.CITIZEN)
    assert exact_dates(role, reveal=True) is (role in REVEAL_ROLES)
