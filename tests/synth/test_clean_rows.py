"""Hard properties 4 and 6: a row without an error kind is clean, and recorded after the event."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from fpcredit.errors import InvalidIdNumber
from fpcredit.standard import idcard, regions
from tests.synth.conftest import FILES, LATE, Run
from tests.synth.rows import Row, rows
from tests.synth.spec import SPECS, Spec, parse_date, parse_time

REGION_COLUMNS = {
    "health": ("户籍地区划", "登记地区划"), "police": ("hjdz_xzqh", "jzd_xzqh"),
    "civil": ("reg_org",), "hrss": ("AAB301",), "cdc": ("jzdw",), "mch": ("jgdm",),
}  # fmt: skip


def _id_problems(spec: Spec, row: Row) -> list[str]:
    problems = []
    for column, role in spec.ids.items():
        value, person = row.values[column], row.who.get(role)
        if not value:
            child = person is not None and person["birth_date"] >= "2016"
            if column not in spec.optional_ids and not (column == "dxsfz" and child):
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
    return []


def problems(source: str, row: Row) -> list[str]:
    """Everything wrong with a row that claims to be clean."""
    spec = SPECS[source]
    return (
        _id_problems(spec, row) + _person_problems(spec, row) + _event_problems(spec, row)
        + _code_problems(spec, row, source) + _rule_problems(source, row)
    )  # fmt: skip


@pytest.mark.parametrize("source", list(FILES))
def test_rows_without_an_error_kind_are_clean(run: Run, source: str) -> None:
    checked, bad = 0, []
    for row in rows(run, source):
        if row.kind in ("", "duplicate"):
            checked += 1
            bad += [(row.values[SPECS[source].key], p) for p in problems(source, row)]
    assert checked > 100
    assert bad == []


@pytest.mark.parametrize("source", list(FILES))
def test_recorded_time_is_never_before_the_event(run: Run, source: str) -> None:
    spec = SPECS[source]
    for row in rows(run, source):
        event = parse_date(row.values[spec.event[0]], spec.event[1])
        if row.kind == "" and event is not None:
            assert parse_time(row.values[spec.recorded[0]], spec.recorded[1]).date() >= event
