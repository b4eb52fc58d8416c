"""Feed rows joined with their truth: error kind and the persons each role stands for."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tests.synth.conftest import Run

Person = dict[str, str]


@dataclass(frozen=True)
class Row:
    """One feed row, its error kind and the true persons behind its roles."""

    values: dict[str, Any]
    kind: str
    who: dict[str, Person]  # role → truth/persons row
    previous: dict[str, Any] | None


def rows(run: Run, source: str) -> Iterator[Row]:
    """Every row of a feed, in file order."""
    persons = {p["person_key"]: p for p in run.truth("persons").iter_rows(named=True)}
    mentions: dict[str, dict[str, Person]] = {}
    for m in run.truth("mentions").filter(source=source).iter_rows(named=True):
        mentions.setdefault(m["record_key"], {})[m["role"]] = persons[m["person_key"]]
    records = run.truth("records").filter(source=source)
    previous = None
    for values, record in zip(
        run.feed(source).iter_rows(named=True), records.iter_rows(named=True), strict=True
    ):
        yield Row(values, record["error_kind"], mentions[record["record_key"]], previous)
        previous = values
