"""The policy file's Pydantic model (R10): what a valid policy is, field by field.

docs/policy.md defines what every field means; policy_checks.py adds what a field alone cannot
say (references, sums, AHP agreement), and policy.py reads a file into this model.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import cached_property
from typing import Annotated, Final, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, model_validator

from fpcredit import messages
from fpcredit.evaluate.policy_cases import CasesPolicy
from fpcredit.evaluate.policy_incentives import Incentive
from fpcredit.evaluate.policy_points import Redeemables

__all__ = [
    "FLAGS",
    "GROUPS",
    "SCOPES",
    "WEIGHT_UNIT",
    "Applies",
    "Band",
    "Comparisons",
    "CountMeasure",
    "CoverageMeasure",
    "Dimension",
    "EventsMeasure",
    "Flag",
    "FlagMeasure",
    "Incentive",
    "Indicator",
    "Measure",
    "Policy",
    "ScheduleMeasure",
    "SpacingMeasure",
    "TimelinessMeasure",
    "Where",
]

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
# The same values as tuples, for code that iterates over them.
FLAGS: Final[tuple[Flag, ...]] = get_args(Flag)
GROUPS: Final[tuple[Group, ...]] = get_args(Group)
SCOPES: Final[tuple[Scope, ...]] = get_args(Scope)

WEIGHT_UNIT = 10_000  # weights are exact in ten-thousandths
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
    # Only births in the last N months count: a late registration stops counting then.
    window_months: int | None = Field(default=None, ge=1, le=600)


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
    redeemables: Redeemables = []  # points (R21): evaluate/policy_points.py
    cases: CasesPolicy = CasesPolicy()

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
