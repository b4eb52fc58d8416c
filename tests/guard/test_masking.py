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
    field_of,
    mask_address,
    mask_fields,
    mask_id_number,
    mask_name,
    mask_phone,
    may_reveal,
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
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_id_number("110105491231002") == "110105*****1002"
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
def test_masked_id_is_never_a_valid_id_and_keeps_its_length(id_number: str) -> None:
    masked = mask_id_number(id_number)
    assert not idcard.is_valid(masked)
    assert len(masked) == len(id_number)
    assert masked[:6] == id_number[:6] and masked[-4:] == id_number[-4:]
    assert mask_id_number(masked) == masked
    assert id_number[6:14] not in masked  # the birth date is gone


@given(legacy_ids)
def test_masked_legacy_id_is_not_valid(id_number: str) -> None:
    masked = mask_id_number(id_number)
    assert not idcard.is_valid(masked) and len(masked) == 15
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
    "mother.id_number": "110105********002X",
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
