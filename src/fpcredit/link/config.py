"""The linkage settings file (comparisons, blocking, thresholds), validated and hashed."""

from __future__ import annotations

import hashlib
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fpcredit.errors import ConfigError
from fpcredit.messages import text

__all__ = [
    "DEFAULT_CONFIG",
    "Backend",
    "Comparison",
    "Crosswalk",
    "CrosswalkFrom",
    "CrosswalkTo",
    "Level",
    "LinkConfig",
    "load_config",
]

DEFAULT_CONFIG = Path(str(files("fpcredit.link") / "linkage.yaml"))

# Where Splink runs: DuckDB in process, or Apache Spark in local mode (the `spark` extra).
Backend = Literal["duckdb", "spark"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Level(_Strict):
    """One comparison level: exactly one of exact, levenshtein, jaro_winkler or sql."""

    label: str
    exact: str | None = None
    tf: bool = False
    levenshtein: str | None = None
    jaro_winkler: str | None = None
    max: int | None = None
    min: float | None = None
    sql: str | None = None
    # Set both to fix the level's probabilities by policy instead of estimating them.
    m: float | None = Field(default=None, gt=0, lt=1)
    u: float | None = Field(default=None, gt=0, lt=1)

    @model_validator(mode="after")
    def _one_kind(self) -> Level:
        kinds = [k for k in (self.exact, self.levenshtein, self.jaro_winkler, self.sql) if k]
        if len(kinds) != 1:
            raise ValueError("a level needs exactly one of exact, levenshtein, jaro_winkler, sql")
        if self.levenshtein and self.max is None:
            raise ValueError("a levenshtein level needs max")
        if self.jaro_winkler and self.min is None:
            raise ValueError("a jaro_winkler level needs min")
        return self


class Fixed(_Strict):
    """A level whose probabilities are set by policy rather than estimated."""

    label: str
    m: float = Field(gt=0, lt=1)
    u: float = Field(gt=0, lt=1)


class Comparison(_Strict):
    name: str
    column: str  # a pair with this column empty on either side is "no evidence"
    levels: list[Level]
    # The level for "none of the above"; estimated unless fixed here.
    else_: Fixed | None = Field(default=None, alias="else")


class Thresholds(_Strict):
    link: float = Field(gt=0, lt=1)
    review: float = Field(gt=0, lt=1)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.review >= self.link:
            raise ValueError("the review threshold must be below the link threshold")
        return self


class Training(_Strict):
    sample: int = Field(gt=0)
    persons: int = Field(default=300_000, gt=0)
    seed: int
    u_max_pairs: int = Field(gt=0)
    prior_rules: list[str]
    prior_recall: float = Field(gt=0, le=1)
    em_blocks: list[str]


class CrosswalkFrom(_Strict):
    """The citing side: records of `source` whose fact attribute `attr` holds another
    department's record key, cited for the person named in `role`."""

    source: str
    role: str
    # A fact attribute (a data element name), also used in a JSON path: keep it a plain name.
    attr: str = Field(pattern=r"^[a-z][a-z0-9_]*$")


class CrosswalkTo(_Strict):
    """The cited side: the record of `source` whose record key is the code, and the person
    meant there: one `role`, or one role per sex of the citing person (1 male, 2 female)."""

    source: str
    role: str | None = None
    role_by_sex: dict[Literal[1, 2], str] | None = None

    @model_validator(mode="after")
    def _one_role(self) -> CrosswalkTo:
        if (self.role is None) == (not self.role_by_sex):
            raise ValueError("a crosswalk target needs exactly one of role, role_by_sex")
        return self


class Crosswalk(_Strict):
    """A code one department records that is another department's record key."""

    name: str
    from_: CrosswalkFrom = Field(alias="from")
    to: CrosswalkTo


class LinkConfig(_Strict):
    version: int
    thresholds: Thresholds
    training: Training
    blocking: list[str]
    comparisons: list[Comparison]
    crosswalks: list[Crosswalk] = []
    backend: Backend = "duckdb"
    sha256: str = ""

    @model_validator(mode="after")
    def _crosswalk_names_unique(self) -> LinkConfig:
        names = [c.name for c in self.crosswalks]
        if len(names) != len(set(names)):
            raise ValueError("crosswalk names must be unique")
        return self


def load_config(path: Path | None = None) -> LinkConfig:
    """Read and validate a linkage settings file (the packaged default when path is None)."""
    path = path or DEFAULT_CONFIG
    try:
        raw = path.read_bytes()
        data: Any = yaml.safe_load(raw)
        return LinkConfig.model_validate({**data, "sha256": hashlib.sha256(raw).hexdigest()})
    except FileNotFoundError as e:
        raise ConfigError(
            text("link.config_bad", path=path, reason=text("feed.file_not_found"))
        ) from e
    except (yaml.YAMLError, TypeError) as e:
        raise ConfigError(text("link.config_bad", path=path, reason=str(e))) from e
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            text("link.config_bad", path=path, reason=f"{where}: {first['msg']}")
        ) from e
