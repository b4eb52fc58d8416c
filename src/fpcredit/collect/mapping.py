"""Department mapping files: native columns and codes → the data element standard (R2)."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fpcredit.errors import StandardError
from fpcredit.messages import text
from fpcredit.standard.elements import COMMON_FIELDS, Standard, load_standard

__all__ = ["ColumnMap", "Derived", "KindFromColumn", "Mapping", "Target", "load_mapping", "sources"]

PERSON_DATASET = "person"


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


def parse_mapping(text: str, origin: str) -> Mapping:
    """Validate a mapping file against the standard; StandardError names the problem."""
    try:
        mapping = Mapping.model_validate(yaml.safe_load(text))
        mapping.check_against(load_standard())
    except (yaml.YAMLError, ValidationError, ValueError) as e:
        raise StandardError(f"{origin}: {e}") from e
    return mapping


@functools.cache
def load_mapping(source: str) -> Mapping:
    """The mapping file shipped for a department source."""
    path = resources.files("fpcredit.collect") / "mappings" / f"{source}.yaml"
    if not path.is_file():
        raise StandardError(text("feed.unknown_source", source=source, known=", ".join(sources())))
    return parse_mapping(path.read_text(encoding="utf-8"), f"mappings/{source}.yaml")


def sources() -> list[str]:
    """Department sources that have a mapping file."""
    folder = resources.files("fpcredit.collect") / "mappings"
    return sorted(Path(p.name).stem for p in folder.iterdir() if p.name.endswith(".yaml"))
