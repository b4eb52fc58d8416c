"""Hard properties 1 and 2: same inputs give the same bytes; a later `until` only adds."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest

from fpcredit.synth import generate
from tests.synth.conftest import FILES, Run, read_feed


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_same_inputs_give_byte_identical_files(tmp_path: Path) -> None:
    until = dt.date(2024, 12, 31)
    generate(700, 11, tmp_path / "a", until=until)
    generate(700, 11, tmp_path / "b", until=until)
    first, second = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert len(first) == 10
    assert first == second


def test_another_seed_gives_other_people(tmp_path: Path) -> None:
    generate(300, 1, tmp_path / "a")
    generate(300, 2, tmp_path / "b")
    persons = "truth/persons.csv"
    assert _files(tmp_path / "a")[persons] != _files(tmp_path / "b")[persons]


def _lines(path: Path, encoding: str = "utf-8") -> Counter[str]:
    return Counter(path.read_bytes().decode(encoding).splitlines())


@pytest.mark.parametrize("source", ["health", "police", "hrss", "cdc", "credit"])
def test_every_earlier_line_is_in_the_later_file(early: Run, run: Run, source: str) -> None:
    encoding = "gb18030" if source == "health" else "utf-8"
    before = _lines(early.out / FILES[source], encoding)
    after = _lines(run.out / FILES[source], encoding)
    assert not before - after
    assert sum(after.values()) > sum(before.values())


@pytest.mark.parametrize("source", ["civil", "mch"])
def test_every_earlier_parquet_row_is_in_the_later_file(early: Run, run: Run, source: str) -> None:
    before = Counter(early.feed(source).rows())
    after = Counter(run.feed(source).rows())
    assert not before - after
    assert sum(after.values()) > sum(before.values())


@pytest.mark.parametrize("table", ["persons", "records", "mentions"])
def test_every_earlier_truth_line_is_in_the_later_file(early: Run, late: Run, table: str) -> None:
    name = f"truth/{table}.csv"
    before, after = _lines(early.out / name), _lines(late.out / name)
    assert not before - after
    assert sum(after.values()) > sum(before.values())


def test_earlier_rows_are_a_prefix_of_each_later_feed(early: Run, run: Run) -> None:
    # Rows are in recorded-time order, and a later `until` only adds later recorded times.
    before, after = early.truth("records"), run.truth("records")
    for source in FILES:
        keys = before.filter(source=source)["record_key"].to_list()
        assert after.filter(source=source)["record_key"].to_list()[: len(keys)] == keys


def test_chunked_rendering_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    generate(400, 5, tmp_path / "whole")
    monkeypatch.setattr("fpcredit.synth.pipeline._CHUNK", 997)
    generate(400, 5, tmp_path / "chunked")
    whole, chunked = _files(tmp_path / "whole"), _files(tmp_path / "chunked")
    for name in whole:
        if name.endswith(".parquet"):
            assert read_feed(tmp_path / "whole" / name).equals(
                read_feed(tmp_path / "chunked" / name)
            )
        else:
            assert whole[name] == chunked[name], name
