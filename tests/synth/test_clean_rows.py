"""Hard properties 4 and 6: a row without an error kind is clean, and recorded after the event."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from fpcredit.errors import InvalidIdNumber
from fpcredit.standard import idcard, regions
from tests.synth.conftest import FILES, LATE, run_for
from tests.synth.rows import Row, rows
from tests.synth.spec import SPECS, Spec, parse_date, parse_time

REGION_COLUMNS = {
    "health": ("户籍地区划", "登记地区划"), "police": ("hjdz_xzqh", "jzd_xzqh"),
    "civil": ("reg_org",), "hrss": ("AAB301",), "cdc": ("jzdw",), "mch": ("jgdm",),
    "credit": ("认定地区划",),
}  # fmt: skip
# Which columns a credit row fills, by its 类别.
CREDIT_FIELDS = {
    "信用事件": ("事件类型", "严重程度"),
    "客观困难": ("困难范围", "困难原因", "有效期至"),
}


def _id_problems(spec: Spec, row: Row) -> list[str]:
    problems = []
    for column, role in spec.ids.items():
        value, person = row.values[column], row.who.get(role)
        if not value:
            child = person is not None and person["birth_date"] >= "2016"
            normal = column in spec.optional_ids or column in spec.sometimes_empty
            if not normal and not (column == "dxsfz" and child):
                problems.append(f"{column} empty")
            continue
        if person is None or _normal(value) != person["id_number"]:
            problems.append(f"{column} {value!r} is not the person's ID number")
    return problems


def _normal(value: str) -> str:
    try:
        return idcard.parse(value, today=LATE).text
    except InvalidIdNumber as error:
        return error.reason


def _person_problems(spec: Spec, row: Row) -> list[str]:
    problems = []
    for column, role in spec.names.items():
        expected = row.who[role]["name"] if role in row.who else ""
        if row.values[column] != expected:
            problems.append(f"{column} {row.values[column]!r} != {expected!r}")
    for column, (role, fmt) in spec.births.items():
        born = parse_date(row.values[column], fmt)
        if born is None or born.isoformat() != row.who[role]["birth_date"]:
            problems.append(f"{column} {row.values[column]!r} is not the birth date")
    return problems


def _event_problems(spec: Spec, row: Row) -> list[str]:
    event = parse_date(row.values[spec.event[0]], spec.event[1])
    recorded = parse_time(row.values[spec.recorded[0]], spec.recorded[1])
    if event is None:
        return [f"event {row.values[spec.event[0]]!r} is not a date"]
    return [] if recorded.date() >= event else [f"recorded {recorded} before event {event}"]


def _code_problems(spec: Spec, row: Row, source: str) -> list[str]:
    coded = {spec.code[0]: spec.code[1], **spec.codes}
    problems = [f"{c}={row.values[c]!r}" for c, ok in coded.items() if row.values[c] not in ok]
    for column in REGION_COLUMNS[source]:
        if not regions.is_known(row.values[column]):
            problems.append(f"{column} {row.values[column]!r} unknown")
    return problems


def _rule_problems(source: str, row: Row) -> list[str]:
    v = row.values
    if source == "health":
        mother = dt.date.fromisoformat(row.who["mother"]["birth_date"])
        fourteen = mother.replace(year=mother.year + 14, day=min(mother.day, 28))
        ok = int(v["孩次"]) <= int(v["孕次"]) and v["出生日期"] >= fourteen.isoformat()
        return [] if ok else ["births > pregnancies or mother under 14"]
    if source == "cdc":
        return [] if v["jzrq"] >= v["csrq"] else ["vaccinated before birth"]
    if source == "mch":
        return [] if v["fwrq"].replace("-", "") >= v["dxcsrq"] else ["service before birth"]
    if source == "hrss":
        return [] if re.fullmatch(r"\d+\.\d\d", v["AAE019"]) else ["amount"]
    if source == "credit":
        return _credit_problems(v)
    return []


def _credit_problems(v: dict[str, str]) -> list[str]:
    """Exactly the columns of the row's kind are filled; an exemption ends after its decision."""
    filled = CREDIT_FIELDS.get(v["类别"], ())
    others = [c for fields in CREDIT_FIELDS.values() for c in fields if c not in filled]
    problems = [f"{c} empty" for c in filled if not v[c]]
    problems += [f"{c} filled" for c in others if v[c]]
    until = v["有效期至"]
    if until and not (parse_date(until, "%Y-%m-%d") and until >= v["认定日期"]):
        problems.append(f"valid until {until} before {v['认定日期']}")
    return problems


def problems(source: str, row: Row) -> list[str]:
    """Everything wrong with a row that claims to be clean."""
    spec = SPECS[source]
    return (
        _id_problems(spec, row) + _person_problems(spec, row) + _event_problems(spec, row)
        + _code_problems(spec, row, source) + _rule_problems(source, row)
    )  # fmt: skip


@pytest.mark.parametrize("source", list(FILES))
def test_rows_without_an_error_kind_are_clean(request: pytest.FixtureRequest, source: str) -> None:
    checked, bad = 0, []
    for row in rows(run_for(request, source), source):
        if row.kind in ("", "duplicate"):
            checked += 1
            bad += [(row.values[SPECS[source].key], p) for p in problems(source, row)]
    assert checked > 100
    assert bad == []


@pytest.mark.parametrize("source", list(FILES))
def test_recorded_time_is_never_before_the_event(
    request: pytest.FixtureRequest, source: str
) -> None:
    spec = SPECS[source]
    for row in rows(run_for(request, source), source):
        event = parse_date(row.values[spec.event[0]], spec.event[1])
        if row.kind == "" and event is not None:
            assert parse_time(row.values[spec.recorded[0]], spec.recorded[1]).date() >= event
