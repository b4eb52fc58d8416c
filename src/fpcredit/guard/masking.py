"""Masking (脱敏) of ID numbers, names, phones, addresses and dates; who may see them (R28)."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from fpcredit.guard.access import Role
from fpcredit.standard import regions

__all__ = [
    "MASKED_FIELDS",
    "REVEAL_ROLES",
    "Dates",
    "exact_dates",
    "field_of",
    "mask_address",
    "mask_birth_date",
    "mask_date",
    "mask_fields",
    "mask_id_number",
    "mask_name",
    "mask_phone",
    "mask_value",
    "may_reveal",
    "month_is_over",
    "today",
]

STAR: Final = "*"
# What follows the kept part of an address: a fixed mark, so its length tells nothing.
ADDRESS_TAIL: Final = "****"

# The one table of who may see identifiers unmasked (docs/keys.md, "Masking"). Staff of a
# province, city or county deliver services to persons in their region and must read the real
# ID number, name, phone and address to do so; a citizen sees their own record (PIPL Art. 45).
# National staff supervise with aggregates, auditors read the trail, department clients verify
# eligibility by exact match: none of them needs an identifier in clear, so they never get one.
REVEAL_ROLES: Final = frozenset({Role.PROVINCE, Role.CITY, Role.COUNTY, Role.CITIZEN})

# Characters a masked string may already hold in place of a digit: masking stays idempotent.
_DIGIT_OR_STAR: Final = frozenset("0123456789" + STAR)
# Separators kept in masked names and phones (they carry no identity).
_NAME_SEPARATORS: Final = frozenset(" ·•.-'’\u3000")
# County-level unit of an address without a region code: optional province, optional
# prefecture, then the first district/county/county-level city/banner (北京市朝阳区,
# 浙江省温州市乐清市, 内蒙古自治区…旗). Lazy parts stop at the earliest unit that fits; a unit
# name never holds digits or street words, so 杭州市文一路小区 keeps only 杭州市.
_UNIT: Final = r"[^\d\s*路街道号巷弄村镇乡幢楼室组]"
_COUNTY_PREFIX: Final = re.compile(
    rf"^(?:{_UNIT}{{2,8}}?(?:省|自治区))?(?:{_UNIT}{{1,8}}?(?:市|自治州|地区|盟))?"
    rf"{_UNIT}{{1,8}}?(?:区|县|市|旗)"
)


def mask_id_number(value: str) -> str:
    """`11010519491231002X` → `110105************`: only the region (6) stays.

    The other digits are the birth date, the sequence (its parity is the sex, shown anyway) and
    the check digit; with the sex known, each shown digit of those divides the ID numbers left
    per birth date by ten, the check digit by eleven, so none is kept (docs/keys.md, "Masking").
    A legacy 15-digit number likewise (`110105491231002` → `110105*********`). A value of any
    other length is not an ID number the standard knows: nothing of it is kept.
    """
    if len(value) in (15, 18):
        return value[:6] + STAR * (len(value) - 6)
    return STAR * len(value)


def today() -> dt.date:
    """The date masked views are shown on: UTC, which is never ahead of the China dates stored,
    so a month counted as over here is over where the data was recorded too."""
    return dt.datetime.now(dt.UTC).date()


def mask_birth_date(value: dt.date | None, on: dt.date) -> int | None:
    """The birth year a masked view shows on day `on`; None for a birth this year or last.

    The attacker knows today: a year still running, or a null that means "this year", would
    leave only the days since 1 January. A null that means "this year or last" leaves a year
    or more, and a year shown is one that is over.
    """
    if value is None or value.year >= on.year - 1:
        return None
    return value.year


def mask_date(value: dt.date) -> str:
    """`2026-01-17` → `2026-01`: a date about a person as a masked view shows it (a month).

    Every fact about a person happens on or after their birth, so each date shown bounds the
    birth date; at month precision the bound leaves a whole month (28 days and more).
    """
    return f"{value.year:04d}-{value.month:02d}"


def month_is_over(value: dt.date, on: dt.date) -> bool:
    """Whether the month of `value` has ended by day `on` (its last day is `on` or earlier).

    A masked view shows only dates of months that are over: a month still running, cut at
    today, leaves only its first days.
    """
    last = calendar.monthrange(value.year, value.month)[1]
    return dt.date(value.year, value.month, last) <= on


def mask_name(value: str) -> str:
    """`张三` → `张*`, `欧阳娜娜` → `欧***`, `John Smith` → `J*** *****`.

    Only the first character stays, also for compound surnames (欧阳, 司马): telling a compound
    surname from a single one would need a list and would reveal more. Separators stay, so the
    shape of a transliterated name (`阿依古丽·买买提` → `阿***·***`) is kept; a one-character
    name is masked entirely.
    """
    if len(value) <= 1:
        return STAR * len(value)
    return value[0] + "".join(c if c in _NAME_SEPARATORS else STAR for c in value[1:])


def mask_phone(value: str) -> str:
    """`13812345678` → `138****5678`; `0571-88812345` → `0571-****2345`.

    A mobile number keeps its 3-digit carrier prefix (after +86 when given), a landline its area
    code (3 digits for 010 and 02x, else 4); both keep the last 4 digits. Other numbers keep only
    the last 4 digits, and those with fewer than 8 digits nothing. Separators stay in place.
    """
    slots = [i for i, c in enumerate(value) if c in _DIGIT_OR_STAR]
    digits = "".join(value[i] for i in slots)
    if len(digits) == 13 and digits.startswith("86") and digits[2] == "1":
        head, tail = 5, 4  # +86 and the carrier prefix
    elif len(digits) == 11 and digits[0] == "1":
        head, tail = 3, 4
    elif digits.startswith("0") and len(digits) >= 10:
        head, tail = (3 if digits[1] in "12" else 4), 4
    elif len(digits) >= 8:
        head, tail = 0, 4
    else:
        head, tail = 0, 0
    hidden = set(slots[head : len(slots) - tail])
    return "".join(STAR if i in hidden else c for i, c in enumerate(value))


def _region_prefixes(code: str) -> list[str]:
    """The region's full name and its shorter forms (without province, without prefecture)."""
    region = regions.lookup(code)
    if region is None or region.level != "county":
        return []
    full = regions.full_name(code)
    forms = [full]
    parent = regions.lookup(region.parent) if region.parent else None
    province = regions.lookup(regions.province_of(code))
    if province and full.startswith(province.name):
        forms.append(full[len(province.name) :])
    if parent and parent.level == "prefecture" and parent.name != "市辖区":
        forms.append(region.name)
    return forms


def mask_address(value: str, region_code: str | None = None) -> str:
    """Keep the address down to its district or county, then `****`.

    `浙江省杭州市西湖区文三路90号` → `浙江省杭州市西湖区****`. With the GB/T 2260 code of the
    address's county the names come from the division table; without it (or when the address
    does not start with that county's names) the first 区/县/市/旗 unit after the optional
    province and prefecture ends the kept part. An address of no recognisable shape keeps nothing.
    """
    if region_code:
        for prefix in _region_prefixes(region_code):
            if value.startswith(prefix):
                return prefix + ADDRESS_TAIL
    match = _COUNTY_PREFIX.match(value)
    return (match.group() if match else "") + ADDRESS_TAIL


# The identifier fields and how each is masked; every other field passes unchanged.
MASKED_FIELDS: Final[Mapping[str, Callable[[str], str]]] = {
    "id_number": mask_id_number,
    "name": mask_name,
    "phone": mask_phone,
    "address": mask_address,
}
# Keys that end in `_name` but never hold a person's name.
_NOT_PERSON_NAMES: Final = frozenset(
    {
        "column_name",
        "field_name",
        "file_name",
        "host_name",
        "logger_name",
        "policy_name",
        "region_name",
        "source_name",
        "table_name",
    }
)


def field_of(key: str) -> str | None:
    """The identifier field a key holds: `name`, `mother.id_number`, `father_phone` → the field.

    The standard names a role's field `role.field` (`mother.id_number`); structured logs and
    exports also write `role_field`. None when the key is not an identifier.
    """
    if key in _NOT_PERSON_NAMES:
        return None
    for field in MASKED_FIELDS:
        if key == field or key.endswith(("." + field, "_" + field)):
            return field
    return None


def mask_value(key: str, value: str) -> str:
    """Mask `value` as the identifier field `key` holds; any other key's value is unchanged."""
    field = field_of(key)
    return MASKED_FIELDS[field](value) if field else value


def may_reveal(role: Role) -> bool:
    """Whether `role` may be shown identifiers unmasked at all (see `REVEAL_ROLES`)."""
    return role in REVEAL_ROLES


@dataclass(frozen=True)
class Dates:
    """How a report presents the dates about a person: to the day (`exact`), or masked: by
    month, and only as of a day whose month is over by `on` (default today)."""

    exact: bool = True
    on: dt.date | None = None

    def complete(self, day: dt.date) -> bool:
        """Whether a report as of `day` may be shown: always when exact, else once the month
        of `day` is over (a later day would show dates of a month still running)."""
        return self.exact or month_is_over(day, self.on or today())

    def field(self, key: str, day: dt.date | dt.datetime) -> dict[str, str]:
        """`{key}_date` (`{key}_at` for a time) to the day, or masked `{key}_month`."""
        if not self.exact:
            return {f"{key}_month": mask_date(day)}
        if isinstance(day, dt.datetime):
            return {f"{key}_at": day.isoformat(sep=" ")}
        return {f"{key}_date": day.isoformat()}

    def text(self, day: dt.date) -> str:
        """A date inside a sentence: the day, or masked its month."""
        return day.isoformat() if self.exact else mask_date(day)


def exact_dates(role: Role, reveal: bool) -> bool:
    """Whether a view shows the dates about a person to the day, rather than by month and year.

    Only where identifiers are revealed (`reveal` by a role that may) and in a citizen's own
    views: the citizen knows their ID number, so their dates narrow nothing they do not know.
    """
    return role is Role.CITIZEN or (reveal and may_reveal(role))


def mask_fields(
    values: Mapping[str, str | None],
    role: Role,
    reveal: bool,
    *,
    region_code: str | None = None,
) -> dict[str, str | None]:
    """A copy of `values` with identifier fields masked, unless shown in clear.

    Values are in clear only when the caller asks (`reveal`, e.g. a clerk pressing "show") and
    the role is in `REVEAL_ROLES`; the caller records such a reveal in the audit trail with its
    purpose (R27, R30). `region_code` is the county of the `address` field, if known.
    """
    if reveal and may_reveal(role):
        return dict(values)
    out: dict[str, str | None] = {}
    for key, value in values.items():
        field = field_of(key)
        if value is None or field is None:
            out[key] = value
        elif field == "address":
            out[key] = mask_address(value, region_code)
        else:
            out[key] = MASKED_FIELDS[field](value)
    return out
