"""Matching an outside list of people (CSV or Parquet) against the person index."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import polars as pl
import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fpcredit.collect.readers import parquet_as_text
from fpcredit.errors import ID_REASONS, ConfigError, FeedError, InvalidIdNumber, StoreError
from fpcredit.guard.keys.crypto import Vault
from fpcredit.link.config import LinkConfig, load_config
from fpcredit.link.features import features, plain_features
from fpcredit.link.registry import current_model
from fpcredit.messages import language, text
from fpcredit.standard import idcard
from fpcredit.store.arrow import read_arrow
from fpcredit.store.db import Store

__all__ = ["ListColumns", "MatchResult", "MatchRow", "Status", "load_map", "match_list"]
log = logging.getLogger(__name__)

Status = Literal["matched", "review", "unmatched", "rejected"]
FORMATS: Final = (".csv", ".parquet")
_SEX: Final = {
    **dict.fromkeys(("1", "男", "m", "male"), 1),
    **dict.fromkeys(("2", "女", "f", "female"), 2),
}
_DATE: Final = re.compile(r"(\d{4})([-/])(\d{1,2})\2(\d{1,2})|(\d{4})(\d{2})(\d{2})")
_REGION: Final = re.compile(r"\d{6}")
_EARLIEST_BIRTH: Final = dt.date(1900, 1, 1)
# Retired persons (merged into another, or left without mentions) are not candidates.
_PERSONS_SQL: Final = """
SELECT id, name_enc, id_number_bidx, sex, CAST(birth_date AS TEXT), hukou_region,
       residence_region
FROM persons WHERE merged_into IS NULL AND mentions > 0
ORDER BY id
"""
_PERSONS_SCHEMA: Final = pa.schema(
    [
        ("unique_id", pa.int64()),
        ("name_enc", pa.binary()),
        ("id_bidx", pa.binary()),
        ("sex", pa.int64()),
        ("birth_date", pa.string()),
        ("hukou_region", pa.string()),
        ("residence_region", pa.string()),
    ]
)


class ListColumns(BaseModel):
    """Which of the list's columns holds each field; name and birth date are required."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    birth_date: str = Field(min_length=1)
    sex: str | None = None
    id_number: str | None = None
    region: str | None = None


class _MapFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: ListColumns


@dataclass(frozen=True)
class MatchRow:
    """The outcome for one data row of the list (`row` counts from 0)."""

    row: int
    status: Status
    # The best candidate, also for "review"; only a match puts it in the JSON.
    candidate_id: int | None = None
    probability: float | None = None
    reason: str | None = None

    @property
    def person_id(self) -> int | None:
        return self.candidate_id if self.status == "matched" else None

    def as_json(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "person_id": self.person_id,
            "probability": self.probability,
            "status": self.status,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class MatchResult:
    """One `MatchRow` per data row of the list, in the list's order."""

    results: list[MatchRow]
    model_version: str

    @property
    def rows(self) -> int:
        return len(self.results)

    @property
    def matched(self) -> int:
        return sum(1 for r in self.results if r.status == "matched")

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status == status)

    def as_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "matched": self.matched,
            "results": [r.as_json() for r in self.results],
        }


@dataclass
class _Person:
    """One list row, normalised; `rejected` is set when it cannot be matched at all."""

    row: int
    name: str | None = None
    sex: int | None = None
    birth_date: str | None = None
    id_bidx: bytes | None = None
    region: str | None = None
    rejected: str | None = None
    notes: tuple[str, ...] = ()


# The data rows of a list: each row's values by column, or why the row cannot be parsed.
_Rows = list[dict[str, str | None] | str]


def match_list(
    store: Store, vault: Vault, path: Path, map_path: Path, config: LinkConfig | None = None
) -> MatchResult:
    """Match every row of the list at `path` (columns named by the map at `map_path`) to a
    person: by valid ID number first, then by the trained linkage model.

    A row is `matched` at or above the link threshold, `review` from the review threshold
    up (the candidate is kept, but no person is named), `unmatched` below it, and `rejected`
    when it is not a person at all; the reason says why, and notes any field set aside.
    """
    vault.refuse_during_move()  # persons' ID indexes are mixed while keys move profile
    columns = load_map(map_path)
    header, raw = _read_list(Path(path))
    for key, column in columns.model_dump(exclude_none=True).items():
        if column not in header:
            reason = text("match.map_no_column", item=f"columns.{key}", column=column)
            raise ConfigError(text("match.map_bad", path=map_path, reason=reason))
    config = config or load_config()
    model = current_model(store, config)
    if model is None:
        raise StoreError(text("link.no_model"))
    people = [_normalise(i, row, columns, vault) for i, row in enumerate(raw)]
    persons = _persons(store)
    owners = _id_owners(persons)
    results: dict[int, MatchRow] = {}
    pending: list[_Person] = []
    for p in people:
        if p.rejected is not None:
            results[p.row] = MatchRow(p.row, "rejected", reason=p.rejected)
        elif p.id_bidx is not None and len(owners.get(p.id_bidx, ())) == 1:
            # The same valid ID number is the same person, as in the index's own ID pass.
            results[p.row] = MatchRow(p.row, "matched", owners[p.id_bidx][0], 1.0, _join(*p.notes))
        else:
            pending.append(p)
    th = config.thresholds
    best: dict[int, tuple[int, float]] = {}
    if pending:
        pairs = model.link(features(persons, vault), _features(pending), th.review)
        best = _best_candidates(pairs)
    for p in pending:
        results[p.row] = _scored(p, best.get(p.row), th.link)
    result = MatchResult([results[i] for i in range(len(people))], model.version)
    # Counts only: the list's names and ID numbers must never reach a log.
    log.info(
        "match list: %d rows, %d matched, %d review, %d unmatched, %d rejected",
        result.rows,
        result.matched,
        result.count("review"),
        result.count("unmatched"),
        result.count("rejected"),
    )
    return result


def _scored(p: _Person, best: tuple[int, float] | None, link: float) -> MatchRow:
    """A model-scored row: a match at or above the link threshold; otherwise a clerk decides
    (the model only returns candidates at or above the review threshold) or nobody fits."""
    if best is None:
        return MatchRow(p.row, "unmatched", reason=_join(*p.notes, text("match.none")))
    person_id, probability = best
    if probability >= link:
        return MatchRow(p.row, "matched", person_id, probability, _join(*p.notes))
    reason = _join(*p.notes, text("match.review"))
    return MatchRow(p.row, "review", person_id, probability, reason)


def load_map(map_path: Path) -> ListColumns:
    """Read and validate a column map (`columns: {name: COL, birth_date: COL, ...}`)."""

    def bad(reason: str) -> ConfigError:
        return ConfigError(text("match.map_bad", path=map_path, reason=reason))

    try:
        data: Any = yaml.safe_load(Path(map_path).read_text(encoding="utf-8"))
        return _MapFile.model_validate(data).columns
    except FileNotFoundError as e:
        raise bad(text("feed.file_not_found")) from e
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise bad(str(e).splitlines()[0]) from e
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        if first["type"] == "missing":
            raise bad(text("match.map_missing", item=where)) from e
        if first["type"] == "extra_forbidden":
            model = ListColumns if len(first["loc"]) > 1 else _MapFile
            known = ", ".join(model.model_fields)
            raise bad(text("match.map_unknown", item=where, known=known)) from e
        raise bad(f"{where}: {first['msg']}" if where else first["msg"]) from e


def _read_list(path: Path) -> tuple[list[str], _Rows]:
    ext = path.suffix.lower()
    if ext not in FORMATS:
        raise FeedError(str(path), text("match.format", ext=ext or path.name))
    if not path.is_file():
        raise FeedError(str(path), text("feed.file_not_found"))
    if path.stat().st_size == 0:
        raise FeedError(str(path), text("feed.file_empty"))
    header, rows = _read_csv(path) if ext == ".csv" else _read_parquet(path)
    seen: set[str] = set()
    for column in header:
        if column in seen:
            raise FeedError(str(path), text("match.duplicate_column", column=column))
        seen.add(column)
    if not rows:
        raise FeedError(str(path), text("feed.no_rows"))
    return header, rows


def _decode(path: Path) -> str:
    data = path.read_bytes()
    # Lists come from Excel and from department systems: UTF-8 (with or without BOM) or GB18030.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise FeedError(str(path), text("feed.bad_encoding", encoding="UTF-8 / GB18030"))


def _read_csv(path: Path) -> tuple[list[str], _Rows]:
    try:
        lines = list(csv.reader(io.StringIO(_decode(path), newline="")))
    except csv.Error as e:
        raise FeedError(str(path), text("feed.bad_csv", detail=str(e).splitlines()[0])) from e
    # A wholly blank line is layout, not a data row.
    lines = [line for line in lines if line]
    if not lines:
        raise FeedError(str(path), text("feed.file_empty"))
    header = [c.strip() for c in lines[0]]
    rows: _Rows = []
    for line in lines[1:]:
        if len(line) != len(header):
            rows.append(text("match.row_fields", n=len(line), m=len(header)))
        else:
            rows.append(dict(zip(header, line, strict=True)))
    return header, rows


def _read_parquet(path: Path) -> tuple[list[str], _Rows]:
    table = parquet_as_text(path)
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    header = list(table.column_names)
    rows: _Rows = [{name: columns[name][i] for name in header} for i in range(table.num_rows)]
    return header, rows


def _value(row: dict[str, str | None], column: str | None) -> str | None:
    if column is None:
        return None
    value = (row.get(column) or "").strip()
    return value or None


def _normalise(
    index: int, raw: dict[str, str | None] | str, columns: ListColumns, vault: Vault
) -> _Person:
    if isinstance(raw, str):
        return _Person(index, rejected=raw)
    name, born = _value(raw, columns.name), _value(raw, columns.birth_date)
    sex, id_number = _value(raw, columns.sex), _value(raw, columns.id_number)
    region = _value(raw, columns.region)
    if not any((name, born, sex, id_number, region)):
        return _Person(index, rejected=text("match.row_empty"))
    if name is None:
        return _Person(index, rejected=text("match.row_no_name"))
    if born is None:
        return _Person(index, rejected=text("match.row_no_birth_date"))
    birth_date = _birth_date(born)
    if birth_date is None:
        return _Person(index, rejected=text("match.row_bad_birth_date"))
    person = _Person(index, name=name, birth_date=birth_date)
    notes: list[str] = []
    if sex is not None:
        person.sex = _SEX.get(sex.lower())
        if person.sex is None:
            notes.append(text("match.note_sex"))
    if id_number is not None:
        try:
            normalised = idcard.parse(id_number).text
            person.id_bidx = vault.blind_index(normalised, "id_number")
        except InvalidIdNumber as e:
            zh, en = ID_REASONS[e.reason]
            notes.append(text("match.note_id", reason=zh if language() == "zh" else en))
    if region is not None:
        if _REGION.fullmatch(region):
            person.region = region
        else:
            notes.append(text("match.note_region"))
    person.notes = tuple(notes)
    return person


def _birth_date(value: str) -> str | None:
    """YYYY-MM-DD from YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD; None if not a plausible birth date."""
    found = _DATE.fullmatch(value)
    if found is None:
        return None
    y, _, m, d, y8, m8, d8 = found.groups()
    try:
        born = dt.date(int(y or y8), int(m or m8), int(d or d8))
    except ValueError:
        return None
    if not _EARLIEST_BIRTH <= born <= dt.date.today():
        return None
    return born.isoformat()


def _persons(store: Store) -> pl.DataFrame:
    """Every live person's best values, in the shape `features` reads."""
    frame = pl.from_arrow(read_arrow(store.engine.url, _PERSONS_SQL, _PERSONS_SCHEMA))
    assert isinstance(frame, pl.DataFrame)
    # A match list names no relatives, so the relatives' columns are empty on both sides.
    return frame.with_columns(
        pl.col("birth_date").str.slice(0, 10),
        pl.lit(None, pl.String).alias("mother"),
        pl.lit(None, pl.String).alias("kin"),
    )


def _id_owners(persons: pl.DataFrame) -> dict[bytes, list[int]]:
    owners: dict[bytes, list[int]] = {}
    for pid, bidx in persons.select("unique_id", "id_bidx").drop_nulls().iter_rows():
        owners.setdefault(bytes(bidx), []).append(pid)
    return owners


def _features(people: list[_Person]) -> pa.Table:
    """The rows left for the model, as linker input (`unique_id` is the row number).

    A valid ID number that no person holds is kept: a person with a different valid number
    is then a different person.
    """
    frame = pl.DataFrame(
        {
            "unique_id": [p.row for p in people],
            "name": [p.name for p in people],
            "sex": [p.sex for p in people],
            "birth_date": [p.birth_date for p in people],
            # The linker's region level compares it with both of a person's regions.
            "hukou_region": [p.region for p in people],
            "residence_region": [None] * len(people),
            "mother": [None] * len(people),
            "kin": [None] * len(people),
            "id_bidx": [p.id_bidx for p in people],
        },
        schema={
            "unique_id": pl.Int64,
            "name": pl.String,
            "sex": pl.Int64,
            "birth_date": pl.String,
            "hukou_region": pl.String,
            "residence_region": pl.String,
            "mother": pl.String,
            "kin": pl.String,
            "id_bidx": pl.Binary,
        },
    )
    return plain_features(frame)


def _best_candidates(pairs: pa.Table) -> dict[int, tuple[int, float]]:
    """Row number → (person id, probability) of its most probable person."""
    frame = pl.from_arrow(pairs.select(["person_id", "mention_id", "probability"]))
    assert isinstance(frame, pl.DataFrame)
    # Ties go to the lowest person id, so that the same list gives the same answer.
    best = frame.sort(["mention_id", "probability", "person_id"], descending=[False, True, False])
    best = best.unique("mention_id", keep="first", maintain_order=True)
    return {row: (pid, prob) for pid, row, prob in best.iter_rows()}


def _join(*parts: str | None) -> str | None:
    kept = [p for p in parts if p]
    return ("；" if language() == "zh" else "; ").join(kept) or None
