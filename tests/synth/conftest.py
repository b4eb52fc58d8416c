"""Shared synthetic provinces for the synth tests (small, generated once per session)."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from fpcredit.synth import SynthSummary, generate

PEOPLE = 2000
SEED = 20260630
EARLY = dt.date(2021, 3, 31)
LATE = dt.date(2030, 12, 31)
FILES = {
    "health": "health.csv",
    "police": "police.jsonl",
    "civil": "civil.parquet",
    "hrss": "hrss.csv",
    "cdc": "cdc.jsonl",
    "mch": "mch.parquet",
    "credit": "credit.csv",
}
# Feeds too small in `run` (2000 people) to check row by row; their checks use `large`.
SMALL = frozenset({"credit"})


@dataclass(frozen=True)
class Run:
    """One generated directory and its summary."""

    out: Path
    summary: SynthSummary

    def feed(self, source: str) -> pl.DataFrame:
        """A feed with every value as a string ("" for no value)."""
        return read_feed(self.out / FILES[source])

    def truth(self, name: str) -> pl.DataFrame:
        """A truth table, all strings."""
        return pl.read_csv(self.out / "truth" / f"{name}.csv", infer_schema=False).fill_null("")


def read_feed(path: Path) -> pl.DataFrame:
    """Read any feed file as strings."""
    if path.suffix == ".csv":
        encoding = "gb18030" if path.name == "health.csv" else "utf-8"
        text = path.read_bytes().decode(encoding)
        frame = pl.read_csv(io.StringIO(text), infer_schema=False)
    elif path.suffix == ".jsonl":
        frame = pl.read_ndjson(path, infer_schema_length=None)
    else:
        frame = pl.read_parquet(path)
    return frame.fill_null("")


def _run(tmp: Path, until: dt.date, people: int = PEOPLE) -> Run:
    return Run(tmp, generate(people, SEED, tmp, until=until))


@pytest.fixture(scope="session")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The default `until`."""
    return _run(tmp_path_factory.mktemp("synth"), dt.date(2026, 6, 30))


@pytest.fixture(scope="session")
def early(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """An earlier `until`, same seed."""
    return _run(tmp_path_factory.mktemp("synth_early"), EARLY)


@pytest.fixture(scope="session")
def large(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """20,000 people to the horizon: enough rows of the small feeds (credit) to measure."""
    return _run(tmp_path_factory.mktemp("synth_large"), LATE, 20_000)


def run_for(request: pytest.FixtureRequest, source: str) -> Run:
    """`large` for the small feeds, else the default `run`."""
    run: Run = request.getfixturevalue("large" if source in SMALL else "run")
    return run


@pytest.fixture(scope="session")
def late(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The horizon as `until`: every event."""
    return _run(tmp_path_factory.mktemp("synth_late"), LATE)
