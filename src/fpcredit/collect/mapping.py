"""Department mapping files: native columns and codes → the data element standard (R2)."""

from __future__ import annotations

import functools
import re
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fpcredit.config import validation_problems
from fpcredit.errors import StandardError
from fpcredit.messages import text
from fpcredit.standard.elements import COMMON_FIELDS, Standard, load_standard

__all__ = ["ColumnMap", "Derived", "KindFromColumn", "Mapping", "Target", "load_mapping", "sources"]

PERSON_DATASET = "person"
YAML: Final = ".yaml"
# A source name is a mapping file's stem; it names files, CLI arguments and stored rows.
SOURCE_NAME: Final = re.compile(r"[a-z][a-z0-9_]*")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Target(_Strict):
    """Where a value lands: `fact.<element>` or `<role>.<person element>`."""

    owner: str
    element: str

    @property
    def path(self) -> str:
        return f"{self.owner}.{self.element}"


def _target(text: str) -> Target:
    owner, _, element = text.partition(".")
    if not element:
        raise ValueError(f"target {text!r} must look like fact.<element> or <role>.<element>")
    return Target(owner=owner, element=element)


class ColumnMap(_Strict):
    to: list[Target] = Field(default_factory=list)
    format: str | None = None
    codes: dict[str, str] | None = None

    @field_validator("to", mode="before")
    @classmethod
    def _targets(cls, value: object) -> list[Target]:
        if value is None:
            return []
        items = value if isinstance(value, list) else [value]
        return [_target(str(v)) for v in items]


class Derived(_Strict):
    """A standard field computed from a native column through a code table (`from`)."""

    source_column: str = Field(alias="from")
    codes: dict[str, str]


class KindFromColumn(_Strict):
    source_column: str = Field(alias="from")
    codes: dict[str, str]


class Mapping(_Strict):
    source: str
    format: Literal["csv", "jsonl", "parquet"]
    encoding: str = "utf-8"
    record_key: str
    kind: str | KindFromColumn
    subject: str
    columns: dict[str, ColumnMap]
    constants: dict[str, str] = Field(default_factory=dict)
    derived: dict[str, Derived] = Field(default_factory=dict)

    def kinds(self) -> list[str]:
        return (
            list(self.kind.codes.values()) if isinstance(self.kind, KindFromColumn) else [self.kind]
        )

    def roles(self) -> list[str]:
        """Person roles this feed mentions, subject first."""
        seen = [t.owner for c in self.columns.values() for t in c.to if t.owner != "fact"]
        seen += [k.partition(".")[0] for k in (*self.constants, *self.derived)]
        return [self.subject, *sorted(set(seen) - {self.subject})]

    def targets(self) -> list[tuple[str, Target]]:
        """(native column, target) for every mapped value."""
        return [(col, t) for col, spec in self.columns.items() for t in spec.to]

    def check_against(self, std: Standard) -> None:
        """Every target names an element the standard allows there."""
        person = std.datasets[PERSON_DATASET].fields
        allowed_fact = set(COMMON_FIELDS)
        for kind in self.kinds():
            if kind not in std.datasets:
                raise ValueError(f"kind {kind!r} is not a data set of the standard")
            allowed_fact |= set(std.datasets[kind].fields)
        paths = [t.path for _, t in self.targets()] + [*self.constants, *self.derived]
        for path in paths:
            owner, _, element = path.partition(".")
            ok = element in allowed_fact if owner == "fact" else element in person
            if not ok:
                raise ValueError(f"{path}: {element!r} is not a standard element for {owner}")
        missing = set(COMMON_FIELDS) - {t.element for _, t in self.targets() if t.owner == "fact"}
        if missing:
            raise ValueError(f"no column maps to fact.{sorted(missing)[0]}")

    @model_validator(mode="after")
    def _record_key_is_a_column(self) -> Mapping:
        if self.record_key not in self.columns:
            raise ValueError(f"record_key {self.record_key!r} is not one of the columns")
        return self


def parse_mapping(content: str, origin: str, source: str | None = None) -> Mapping:
    """Validate a mapping file against the standard; StandardError names the file and the
    problem in one line. `source` (the file's stem) fills a missing `source:` and must equal a
    given one."""
    try:
        data = yaml.safe_load(content)
        if source is not None and isinstance(data, dict):
            data.setdefault("source", source)
        mapping = Mapping.model_validate(data)
        if source is not None and mapping.source != source:
            raise ValueError(text("mapping.source_differs", named=mapping.source, source=source))
        mapping.check_against(load_standard())
    except yaml.YAMLError as e:
        raise StandardError(text("mapping.invalid", file=origin, why=_yaml_reason(e))) from e
    except ValidationError as e:
        raise StandardError(text("mapping.invalid", file=origin, why=_pydantic_reason(e))) from e
    except ValueError as e:
        raise StandardError(text("mapping.invalid", file=origin, why=e)) from e
    return mapping


def _yaml_reason(error: yaml.YAMLError) -> str:
    # PyYAML's own text spans several lines (it quotes the file); a clerk needs the line.
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        found = f"line {error.problem_mark.line + 1}: {error.problem}"
        if error.context and error.context_mark is not None:
            found += f" ({error.context} at line {error.context_mark.line + 1})"
        return found
    return str(error).splitlines()[0]


def _pydantic_reason(error: ValidationError) -> str:
    parts = []
    for where, why in validation_problems(error):
        at = ".".join(str(part) for part in where)
        parts.append(f"{at}: {why}" if at else why)
    return "; ".join(parts)


@functools.cache
def _packaged_files() -> dict[str, Traversable]:
    folder = resources.files("fpcredit.collect") / "mappings"
    files = [p for p in folder.iterdir() if p.name.endswith(YAML)]
    return {p.name.removesuffix(YAML): p for p in sorted(files, key=lambda p: p.name)}


def _operator_files(mappings_dir: Path | None) -> dict[str, Path]:
    """The extra folder's mapping files by source; one that names a packaged department, or
    whose name cannot be a source, is refused."""
    if mappings_dir is None:
        return {}
    packaged = _packaged_files()
    found = {}
    for path in sorted(mappings_dir.glob(f"*{YAML}")):
        if not SOURCE_NAME.fullmatch(path.stem):
            raise StandardError(text("mapping.bad_name", file=str(path)))
        if path.stem in packaged:
            raise StandardError(text("mapping.packaged", file=str(path), source=path.stem))
        found[path.stem] = path
    return found


def sources(mappings_dir: Path | None = None) -> list[str]:
    """Department sources, one per mapping file, in ingestion order: the packaged ones by name,
    then those of the operator's folder `mappings_dir` (Settings.mappings_dir) by name."""
    return [*_packaged_files(), *_operator_files(mappings_dir)]


def load_mapping(source: str, mappings_dir: Path | None = None) -> Mapping:
    """The mapping file of a department source, packaged or in `mappings_dir`."""
    extra = _operator_files(mappings_dir)  # refuses a misnamed or clashing file in any case
    if source in _packaged_files():
        return _packaged_mapping(source)
    if source not in extra:
        known = ", ".join(sorted(sources(mappings_dir)))
        raise StandardError(text("feed.unknown_source", source=source, known=known))
    path = extra[source]
    return parse_mapping(_read(path), str(path), source)


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        why = e.strerror if isinstance(e, OSError) else text("mapping.not_utf8")
        raise StandardError(text("mapping.invalid", file=str(path), why=why)) from e


@functools.cache
def _packaged_mapping(source: str) -> Mapping:
    path = _packaged_files()[source]
    return parse_mapping(path.read_text(encoding="utf-8"), f"mappings/{source}{YAML}", source)
