"""Reading a department file into a table of strings, keeping rows that cannot be parsed.

Every value comes out as a string (or null): typing happens in validation, where a bad value
becomes a quality issue instead of a failed read. A file that cannot be read as a whole raises
FeedError and nothing is stored.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from fpcredit.collect.mapping import Mapping
from fpcredit.errors import FeedError
from fpcredit.messages import text

__all__ = ["BrokenRow", "FeedTable", "parquet_as_text", "read_feed"]


@dataclass(frozen=True)
class BrokenRow:
    """A physical row that could not be parsed, kept verbatim for the quarantine."""

    row_number: int
    raw: str


@dataclass
class FeedTable:
    """The parsed rows (all string columns, plus `_row`: 1-based data row number)."""

    table: pa.Table
    broken: list[BrokenRow] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return int(self.table.num_rows) + len(self.broken)


def read_feed(path: Path, mapping: Mapping) -> FeedTable:
    """Read a feed in the mapping's format; FeedError with a one-line reason if unreadable."""
    if not path.is_file():
        raise FeedError(str(path), text("feed.file_not_found"))
    if path.stat().st_size == 0:
        raise FeedError(str(path), text("feed.file_empty"))
    readers = {"csv": _read_csv, "jsonl": _read_jsonl, "parquet": _read_parquet}
    feed = readers[mapping.format](path, mapping)
    if feed.rows == 0:
        raise FeedError(str(path), text("feed.no_rows"))
    return feed


def _decode(path: Path, encoding: str) -> str:
    try:
        return path.read_bytes().decode(encoding)
    except (UnicodeDecodeError, LookupError) as e:
        raise FeedError(str(path), text("feed.bad_encoding", encoding=encoding.upper())) from e


def _number_rows(table: pa.Table, broken: list[BrokenRow]) -> pa.Table:
    skipped = {b.row_number for b in broken}
    numbers: list[int] = []
    n = 0
    while len(numbers) < table.num_rows:
        n += 1
        if n not in skipped:
            numbers.append(n)
    return table.append_column("_row", pa.array(numbers, pa.int64()))


def _read_csv(path: Path, mapping: Mapping) -> FeedTable:
    content = _decode(path, mapping.encoding).lstrip("\ufeff")
    header = next(csv.reader(io.StringIO(content.partition("\n")[0])), [])
    broken: list[BrokenRow] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        # pyarrow counts physical lines from 1 including the header.
        broken.append(BrokenRow((row.number or 0) - 1, row.text))
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(content.encode()),
            read_options=pacsv.ReadOptions(use_threads=False, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except (pa.ArrowInvalid, ValueError) as e:
        # Keep only the parser's reason: what follows it can quote row content (identifiers).
        reason = ":".join(str(e).splitlines()[0].split(":")[:2])
        raise FeedError(str(path), text("feed.bad_csv", detail=reason)) from e
    return FeedTable(_number_rows(table, broken), broken)


def _read_jsonl(path: Path, mapping: Mapping) -> FeedTable:
    lines = _decode(path, mapping.encoding).lstrip("\ufeff").splitlines()
    columns: dict[str, list[str | None]] = {}
    numbers: list[int] = []
    broken: list[BrokenRow] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError("not an object")
        except ValueError:
            broken.append(BrokenRow(number, line))
            continue
        for key, value in obj.items():
            if key not in columns:  # a key first seen late gets nulls for the rows before it
                columns[key] = [None] * len(numbers)
            columns[key].append(_as_text(value))
        numbers.append(number)
        if len(obj) < len(columns):
            for values in columns.values():
                if len(values) < len(numbers):
                    values.append(None)
    arrays = {k: pa.array(v, pa.string()) for k, v in columns.items()}
    arrays["_row"] = pa.array(numbers, pa.int64())
    return FeedTable(pa.table(arrays), broken)


def _as_text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)


def parquet_as_text(path: Path) -> pa.Table:
    """A Parquet file with every column as text; FeedError when the file or a column is not.

    A nested or binary column has no text form: name it rather than fail inside Arrow.
    """
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as e:
        raise FeedError(str(path), text("feed.bad_parquet")) from e
    columns = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        try:
            columns.append(column.cast(pa.string()))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            raise FeedError(str(path), text("feed.column_not_text", column=name)) from e
    return pa.Table.from_arrays(columns, names=table.column_names)


def _read_parquet(path: Path, _mapping: Mapping) -> FeedTable:
    table = parquet_as_text(path)
    numbers = pa.array(range(1, table.num_rows + 1), pa.int64())
    return FeedTable(table.append_column("_row", numbers))
