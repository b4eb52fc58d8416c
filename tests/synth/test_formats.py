"""The feeds follow docs/feeds.md: files, encodings, columns, keys, string types."""

from __future__ import annotations

import json
import re

import pyarrow.parquet as pq
import pytest

from tests.synth.conftest import FILES, Run
from tests.synth.spec import SPECS


@pytest.mark.parametrize("source", list(FILES))
def test_columns_are_those_of_the_contract(run: Run, source: str) -> None:
    assert tuple(run.feed(source).columns) == SPECS[source].columns


def test_health_is_gb18030(run: Run) -> None:
    data = (run.out / "health.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert data.decode("gb18030").startswith("登记证编号,母亲姓名,")


def test_hrss_is_utf8(run: Run) -> None:
    assert (run.out / "hrss.csv").read_bytes().decode("utf-8").startswith("AAZ220,AAC002,")


def test_credit_is_utf8(run: Run) -> None:
    assert (run.out / "credit.csv").read_bytes().decode("utf-8").startswith("记录编号,类别,姓名,")


@pytest.mark.parametrize("source", ["civil", "mch"])
def test_parquet_columns_are_strings(run: Run, source: str) -> None:
    schema = pq.read_schema(run.out / FILES[source])
    assert {str(field.type) for field in schema} == {"string"}


@pytest.mark.parametrize("source", ["police", "cdc"])
def test_json_values_are_strings(run: Run, source: str) -> None:
    lines = (run.out / FILES[source]).read_text("utf-8").splitlines()
    for line in lines[:500]:
        record = json.loads(line)
        assert list(record) == list(SPECS[source].columns)
        assert all(isinstance(value, str) for value in record.values())


@pytest.mark.parametrize("source", list(FILES))
def test_record_keys_have_their_format_and_repeat_only_as_duplicates(run: Run, source: str) -> None:
    spec = SPECS[source]
    keys = run.feed(source)[spec.key].to_list()
    assert all(re.fullmatch(spec.key_pattern, key) for key in keys)
    records = run.truth("records").filter(source=source)
    duplicates = records.filter(error_kind="duplicate").height
    assert len(set(keys)) == len(keys) - duplicates


def test_police_household_numbers_have_eight_digits(run: Run) -> None:
    assert all(re.fullmatch(r"\d{8}", hh) for hh in run.feed("police")["hh"].to_list())


def test_truth_tables_have_the_contracted_columns(run: Run) -> None:
    assert run.truth("persons").columns == [
        "person_key", "name", "sex", "birth_date", "id_number", "hukou_region",
        "residence_region", "urban_rural", "occupation",
    ]  # fmt: skip
    assert run.truth("records").columns == ["source", "record_key", "person_key", "error_kind"]
    assert run.truth("mentions").columns == ["source", "record_key", "role", "person_key"]


def test_records_follow_the_feeds_row_by_row(run: Run) -> None:
    records = run.truth("records")
    for source, spec in SPECS.items():
        keys = records.filter(source=source)["record_key"].to_list()
        assert keys == run.feed(source)[spec.key].to_list()
