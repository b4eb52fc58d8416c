"""The policy file (R10): its Pydantic model, loading with line numbers, and semantic checks.

docs/policy.md defines what every field means; this module only says what a valid file is.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    model_validator,
)

from fpcredit import messages
from fpcredit.errors import PolicyError
from fpcredit.evaluate import ahp
from fpcredit.standard.elements import load_standard

__all__ = [
    "FLAGS",
    "GROUPS",
    "SCOPES",
    "Dimension",
    "Indicator",
    "LoadedPolicy",
    "Measure",
    "Policy",
    "default_policy_path",
    "load_policy",
    "parse_policy",
]

FLAGS = (
    "id_valid",
    "name_consistent",
    "birth_date_consistent",
    "hukou_known",
    "residence_known",
    "phone_known",
)
GROUPS = ("urban", "rural", "migrant", "unknown")
SCOPES = ("contraception", "insurance", "checks", "vaccination", "infant_care")
WEIGHT_UNIT = 10_000  # weights are exact in ten-thousandths
Flag = Literal[
    "id_valid",
    "name_consistent",
    "birth_date_consistent",
    "hukou_known",
    "residence_known",
    "phone_known",
]
Group = Literal["urban", "rural", "migrant", "unknown"]
Scope = Literal["contraception", "insurance", "checks", "vaccination", "infant_care"]
Severity = Literal["minor", "general", "serious"]


MAX_DENOMINATOR = 10**6  # keeps cross-multiplied thresholds inside 64-bit integers


def _exact(value: object) -> Fraction:
    """An exact number from YAML: 0.15 is 15/100, not the nearest float; '1/3' is a third."""
    if isinstance(value, bool) or not isinstance(value, Fraction | int | float | str):
        raise ValueError(messages.text("policy.not_number", value=value))
    if isinstance(value, Fraction | int):
        number = Fraction(value)
    else:
        text = str(value).strip()
        try:
            number = Fraction(text) if "/" in text else Fraction(Decimal(text))
        except (ValueError, ZeroDivisionError, InvalidOperation):
            raise ValueError(messages.text("policy.not_number", value=text)) from None
    if number.denominator > MAX_DENOMINATOR or abs(number) > MAX_DENOMINATOR:
        raise ValueError(messages.text("policy.number_size", value=value))
    return number


Exact = Annotated[
    Fraction, BeforeValidator(_exact), PlainSerializer(lambda f: str(f), return_type=str)
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Model):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Band(_Model):
    at_least: Exact | None = None
    at_most: Exact | None = None
    points: int = Field(ge=0, le=100)

    @model_validator(mode="after")
    def _has_threshold(self) -> Band:
        if self.at_least is None and self.at_most is None:
            raise ValueError(messages.text("policy.band"))
        return self


class Scoring(_Model):
    bands: list[Band] = Field(min_length=1)
    otherwise: int = Field(default=0, ge=0, le=100)


Where = dict[str, Annotated[list[str], Field(min_length=1)]]


class FlagMeasure(_Model):
    type: Literal["flag"]
    field: Flag


class CountMeasure(_Model):
    type: Literal["count"]
    kinds: list[str] = Field(min_length=1)
    where: Where = {}
    of: Literal["self", "children"] = "self"
    window_months: int | None = Field(default=None, ge=1, le=600)


class ScheduleItem(_Model):
    due_months: int = Field(ge=0, le=240)
    where: Where = {}


class ScheduleMeasure(_Model):
    type: Literal["schedule"]
    kind: str
    items: list[ScheduleItem] = Field(min_length=1)
    grace_months: int = Field(default=0, ge=0, le=24)


class TimelinessMeasure(_Model):
    type: Literal["registration_timeliness"]
    within_days: int = Field(ge=0, le=3650)


class SpacingMeasure(_Model):
    type: Literal["birth_spacing"]
    min_months: int = Field(ge=1, le=120)


class CoverageMeasure(_Model):
    type: Literal["coverage"]
    kind: str
    where: Where = {}
    # At most 60: a window's months are the bits of one 64-bit integer in the engine.
    window_months: int = Field(ge=1, le=60)
    month_from: Literal["period", "event_date"] = "event_date"
    duration_attr: str | None = None
    durations: dict[str, int] = {}
    default_duration: int = Field(default=1, ge=0, le=600)
    since_first: bool = False
    until_last: bool = False
    buffer: bool = False


class EventsMeasure(_Model):
    type: Literal["events"]
    event_types: list[str] = Field(min_length=1)


Measure = Annotated[
    FlagMeasure
    | CountMeasure
    | ScheduleMeasure
    | TimelinessMeasure
    | SpacingMeasure
    | CoverageMeasure
    | EventsMeasure,
    Field(discriminator="type"),
]


class Applies(_Model):
    sex: Literal[1, 2] | None = None
    min_age: int | None = Field(default=None, ge=0, le=150)
    max_age: int | None = Field(default=None, ge=0, le=150)
    groups: list[Group] | None = None
    occupations: list[str] | None = None
    has_children: bool | None = None
    child_under_months: int | None = Field(default=None, ge=1, le=240)
    has_fact: list[str] | None = None


class Indicator(_Model):
    id: str = Field(pattern=r"^[A-Z][A-Z0-9_]{1,15}$")
    name: Text
    dimension: str
    weight: Exact
    rationale: Text
    measure: Measure
    scoring: Scoring
    applies: Applies = Applies()
    only_raises: bool = False
    regional: bool = False
    exempt_by: list[Scope] = []


class Comparisons(_Model):
    """Pairwise comparisons in compact form: the strict upper triangle, row by row."""

    expert: list[list[Exact]]
    public: list[list[Exact]]
    expert_share: Exact = Fraction(3, 5)


class Dimension(_Model):
    id: str = Field(pattern=r"^[a-z][a-z_]{1,31}$")
    name: Text
    weight: Exact
    ahp: Comparisons | None = None


class SeverityRule(_Model):
    points: int = Field(le=0, ge=-1000)
    min_months: int = Field(ge=0, le=120)
    max_months: int = Field(ge=1, le=120)


class PointRule(_Model):
    kind: str
    where: Where = {}
    of: Literal["self", "children"] = "self"
    points: int = Field(ge=-1000, le=1000)
    cap: int | None = Field(default=None, ge=0)


class Points(_Model):
    initial: int = Field(default=0, ge=0, le=10_000)
    rules: list[PointRule] = []


class Grades(_Model):
    cutoffs: dict[str, Exact] = Field(min_length=1)
    lowest: str
    caps: dict[Severity, str] = {}


class Schedule(_Model):
    score: Literal["monthly", "daily"] = "monthly"
    grade: Literal["quarterly", "monthly"] = "quarterly"


class Buffer(_Model):
    occupations: list[str] = []
    months_after_birth: int = Field(default=0, ge=0, le=60)


class Population(_Model):
    min_age: int = Field(default=18, ge=0, le=150)


class Incentive(_Model):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{1,39}$")
    name: Text
    min_grade: str
    points: int = Field(default=0, ge=0)
    provider: str
    rationale: Text


class Policy(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    effective: dt.date
    title: Text
    population: Population = Population()
    schedule: Schedule = Schedule()
    dimensions: list[Dimension] = Field(min_length=1)
    ahp: Comparisons | None = None
    indicators: list[Indicator] = Field(min_length=1)
    coefficients: dict[Group, Exact] = {}
    buffer: Buffer = Buffer()
    severities: dict[Severity, SeverityRule] = {}
    points: Points = Points()
    grades: Grades
    incentives: list[Incentive] = []

    @cached_property
    def grade_order(self) -> list[str]:
        """Grades from best to worst: cut-offs in descending order, then the lowest."""
        ranked = sorted(self.grades.cutoffs, key=lambda g: -self.grades.cutoffs[g])
        return [*ranked, self.grades.lowest]

    def indicators_of(self, dimension: str) -> list[Indicator]:
        return [i for i in self.indicators if i.dimension == dimension]

    def attributes(self) -> list[str]:
        """Every fact attribute the policy reads: the loader extracts exactly these."""
        found = {"credit_event_type", "severity", "difficulty_scope", "valid_until"}
        for ind in self.indicators:
            m = ind.measure
            found |= set(getattr(m, "where", {}))
            if isinstance(m, ScheduleMeasure):
                for item in m.items:
                    found |= set(item.where)
            if isinstance(m, CoverageMeasure):
                found |= {"period"} if m.month_from == "period" else set()
                found |= {m.duration_attr} if m.duration_attr else set()
        for rule in self.points.rules:
            found |= set(rule.where)
        return sorted(found)


class LoadedPolicy:
    """A validated policy with its provenance: path, content hash, and the AHP derivation."""

    def __init__(self, policy: Policy, path: str, sha256: str) -> None:
        self.policy = policy
        self.path = path
        self.sha256 = sha256

    @property
    def label(self) -> str:
        return f"{self.policy.id}@{self.policy.version}"


def default_policy_path() -> Path:
    """`policies/default.yaml`, shipped inside the package."""
    return Path(str(resources.files("fpcredit.evaluate") / "policies" / "default.yaml"))


def load_policy(path: str | Path | None = None) -> LoadedPolicy:
    """Read and validate a policy file; PolicyError lists every problem with its line."""
    file = Path(path) if path else default_policy_path()
    try:
        data = file.read_bytes()
    except OSError as e:
        why = messages.text("policy.unreadable", why=e.strerror)
        raise PolicyError(str(file), [(None, why)]) from None
    return parse_policy(data, str(file))


def parse_policy(data: bytes, origin: str = "policy.yaml") -> LoadedPolicy:
    """Validate policy text (bytes, so that the hash is of exactly what was read)."""
    try:
        text = data.decode("utf-8")
        tree = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except UnicodeDecodeError:
        raise PolicyError(origin, [(None, messages.text("policy.not_utf8"))]) from None
    except yaml.MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark else None
        raise PolicyError(origin, [(line, messages.text("policy.yaml", why=e.problem))]) from None
    lines = dict(_lines(tree, ())) if tree is not None else {}
    if not isinstance(raw, dict):
        raise PolicyError(origin, [(1, messages.text("policy.not_mapping"))])
    try:
        policy = Policy.model_validate(raw)
    except ValidationError as e:
        problems = [(_line(lines, err["loc"]), _explain(err)) for err in e.errors()]
        raise PolicyError(origin, problems) from None
    problems = [(_line(lines, loc), why) for loc, why in check(policy)]
    if problems:
        raise PolicyError(origin, problems)
    return LoadedPolicy(policy, origin, hashlib.sha256(data).hexdigest())


Loc = tuple[str | int, ...]


def _lines(node: yaml.Node, path: Loc) -> Iterator[tuple[Loc, int]]:
    yield path, node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield (*path, key.value), key.start_mark.line + 1
            yield from _lines(value, (*path, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _lines(item, (*path, i))


def _line(lines: dict[Loc, int], loc: Loc) -> int | None:
    """The line of the deepest part of `loc` present in the file (Pydantic adds union tags)."""
    path: Loc = ()
    best = lines.get(())
    for part in loc:
        if (*path, part) in lines:
            path = (*path, part)
            best = lines[path]
    return best


def _explain(err: Any) -> str:
    where = ".".join(str(p) for p in err["loc"])
    known = f"policy.pydantic_{err['type']}"
    if messages.known(known):
        return messages.text(known, where=where, **{k: v for k, v in err.get("ctx", {}).items()})
    return messages.text("policy.field", where=where, why=err["msg"])


def check(policy: Policy) -> list[tuple[Loc, str]]:
    """Semantic problems Pydantic cannot see: references, sums, AHP agreement, known kinds."""
    return [
        *_check_ids(policy),
        *_check_weights(policy),
        *_check_kinds(policy),
        *_check_grades(policy),
    ]


def _check_ids(policy: Policy) -> Iterator[tuple[Loc, str]]:
    dims = [d.id for d in policy.dimensions]
    for i, d in enumerate(dims):
        if d in dims[:i]:
            yield ("dimensions", i, "id"), messages.text("policy.duplicate", what=d)
    seen: set[str] = set()
    for i, ind in enumerate(policy.indicators):
        if ind.id in seen:
            yield ("indicators", i, "id"), messages.text("policy.duplicate", what=ind.id)
        seen.add(ind.id)
        if ind.dimension not in dims:
            yield (
                ("indicators", i, "dimension"),
                messages.text(
                    "policy.unknown_dimension", what=ind.dimension, known=", ".join(dims)
                ),
            )
    grades = set(policy.grade_order)
    for i, inc in enumerate(policy.incentives):
        if inc.min_grade not in grades:
            yield (
                ("incentives", i, "min_grade"),
                messages.text("policy.unknown_grade", what=inc.min_grade),
            )


def _weight_problems(weights: list[Fraction], where: Loc) -> Iterator[tuple[Loc, str]]:
    for i, w in enumerate(weights):
        if w <= 0 or (w * WEIGHT_UNIT).denominator != 1:
            yield (*where, i, "weight"), messages.text("policy.weight_unit", weight=float(w))
    if weights and sum(weights) != 1:
        yield where, messages.text("policy.weight_sum", total=float(sum(weights)))


def _check_weights(policy: Policy) -> Iterator[tuple[Loc, str]]:
    yield from _weight_problems([d.weight for d in policy.dimensions], ("dimensions",))
    if policy.ahp:
        ids = [d.id for d in policy.dimensions]
        dim_weights = [d.weight for d in policy.dimensions]
        yield from _ahp_agrees(policy.ahp, ids, dim_weights, ("ahp",))
    for di, dim in enumerate(policy.dimensions):
        members = [(i, ind) for i, ind in enumerate(policy.indicators) if ind.dimension == dim.id]
        if not members:
            yield ("dimensions", di, "id"), messages.text("policy.empty_dimension", what=dim.id)
            continue
        weights = [ind.weight for _, ind in members]
        for i, w in zip((i for i, _ in members), weights, strict=True):
            if w <= 0 or (w * WEIGHT_UNIT).denominator != 1:
                yield (
                    ("indicators", i, "weight"),
                    messages.text("policy.weight_unit", weight=float(w)),
                )
        if sum(weights) != 1:
            yield (
                ("dimensions", di, "id"),
                messages.text(
                    "policy.indicator_weight_sum", what=dim.id, total=float(sum(weights))
                ),
            )
        if dim.ahp:
            names = [ind.id for _, ind in members]
            yield from _ahp_agrees(dim.ahp, names, weights, ("dimensions", di, "ahp"))


def derive(comparisons: Comparisons) -> tuple[tuple[float, ...], ahp.Consistency, ahp.Consistency]:
    """Blended AHP weights and the consistency of the experts' and the public's matrices."""
    expert, public = ahp.from_upper(comparisons.expert), ahp.from_upper(comparisons.public)
    we, _ = ahp.priorities(expert)
    wp, _ = ahp.priorities(public)
    blended = ahp.blend(we, wp, comparisons.expert_share)
    return blended, ahp.consistency(expert), ahp.consistency(public)


def _ahp_agrees(
    comparisons: Comparisons, members: list[str], weights: list[Fraction], where: Loc
) -> Iterator[tuple[Loc, str]]:
    try:
        derived, _, _ = derive(comparisons)
    except PolicyError as e:
        yield where, str(e.problems[0][1])
        return
    if len(derived) != len(weights):
        yield where, messages.text("policy.ahp_size", n=len(derived), m=len(weights))
        return
    for member, w, d in zip(members, weights, derived, strict=True):
        if abs(float(w) - d) > 1.5 / WEIGHT_UNIT:
            yield (
                where,
                messages.text("policy.ahp_disagrees", member=member, stored=float(w), derived=d),
            )


def _check_kinds(policy: Policy) -> Iterator[tuple[Loc, str]]:
    for i, ind in enumerate(policy.indicators):
        m = ind.measure
        kinds = list(m.kinds) if isinstance(m, CountMeasure) else [getattr(m, "kind", None)]
        wheres = [getattr(m, "where", {})]
        if isinstance(m, ScheduleMeasure):
            wheres += [item.where for item in m.items]
        if isinstance(m, CoverageMeasure) and m.duration_attr:
            wheres.append({m.duration_attr: []})
        found = [k for k in kinds if k is not None]
        yield from _kind_problems(found, wheres, ("indicators", i, "measure"))
        yield from _kind_problems(ind.applies.has_fact or [], [], ("indicators", i, "applies"))
    for i, rule in enumerate(policy.points.rules):
        yield from _kind_problems([rule.kind], [rule.where], ("points", "rules", i))


def _kind_problems(
    kinds: list[str], wheres: list[dict[str, list[str]]], where: Loc
) -> Iterator[tuple[Loc, str]]:
    """Kinds must be data sets of the standard, and filtered attributes fields of them."""
    datasets = load_standard().datasets
    for kind in kinds:
        if kind not in datasets:
            yield where, messages.text("policy.unknown_kind", what=kind)
            continue
        for attrs in wheres:
            for attr in attrs:
                if attr not in datasets[kind].fields:
                    yield where, messages.text("policy.unknown_attr", what=attr, kind=kind)


def _check_grades(policy: Policy) -> Iterator[tuple[Loc, str]]:
    g = policy.grades
    if g.lowest in g.cutoffs:
        yield ("grades", "lowest"), messages.text("policy.duplicate", what=g.lowest)
    for value in g.cutoffs.values():
        if not 0 <= value <= 100 or (value * 100).denominator != 1:
            yield ("grades", "cutoffs"), messages.text("policy.cutoff", value=float(value))
    for severity, grade in g.caps.items():
        if grade not in policy.grade_order:
            yield ("grades", "caps", severity), messages.text("policy.unknown_grade", what=grade)
    for i, ind in enumerate(policy.indicators):
        if isinstance(ind.measure, EventsMeasure) and not policy.severities:
            yield ("indicators", i, "measure"), messages.text("policy.no_severities")
    for sev, rule in policy.severities.items():
        if rule.min_months > rule.max_months:
            yield ("severities", sev), messages.text("policy.severity_order")
