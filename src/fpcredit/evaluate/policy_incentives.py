"""The incentive catalogue of the policy file (R19): what each incentive is, who qualifies, cost.

One entry of the policy's top-level `incentives:` list is an `Incentive`. Who qualifies is a
set of grades and a list of conditions the person file can evaluate, all of which must hold:

- `{kind: child_age, min_years: 0, max_years: 3}`: a child whose age in whole years on the
  day of the check lies in the range (both ends included);
- `{kind: region, groups: [rural, migrant]}`: the person's region type (urban, rural,
  migrant, unknown — the evaluation's `group`) is one of these;
- `{kind: occupation, occupations: [farmer]}`: the person's occupation is one of these.

Money is exact: `cost_per_beneficiary` (yuan per beneficiary per year) and `annual_budget`
are decimals with at most two places (fen), never floats. `check_incentives` adds what the
fields alone cannot say (known grades, unique ids, condition kinds, dates in order); the
policy checks (`policy_checks.py`) call it so `fpcredit policy check` names each problem's line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from decimal import Decimal, InvalidOperation
from typing import Annotated, Final, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from fpcredit import messages

__all__ = ["CONDITION_KINDS", "Condition", "Incentive", "Text", "check_incentives"]

CONDITION_KINDS: Final = ("child_age", "region", "occupation")
_GROUP = Literal["urban", "rural", "migrant", "unknown"]
_FIELDS: Final = {"child_age": "min_years", "region": "groups", "occupation": "occupations"}


def _yuan(value: object) -> Decimal:
    """Yuan from YAML, exactly: 800.5 is 800.50, never the nearest binary fraction."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(messages.text("incentive.not_money", value=value))
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(messages.text("incentive.not_money", value=value)) from None
    if not amount.is_finite():
        raise ValueError(messages.text("incentive.not_money", value=value))
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise ValueError(messages.text("incentive.money_places", value=value))
    if amount < 0:
        raise ValueError(messages.text("incentive.money_negative", value=value))
    return amount.quantize(Decimal("0.01"))


Yuan = Annotated[Decimal, BeforeValidator(_yuan), PlainSerializer(str, return_type=str)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Model):
    """A sentence in both languages."""

    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Condition(_Model):
    """One condition on the person; `kind` says which of the other fields it uses."""

    kind: str
    min_years: int | None = Field(default=None, ge=0, le=30)
    max_years: int | None = Field(default=None, ge=0, le=30)
    groups: list[_GROUP] | None = Field(default=None, min_length=1)
    occupations: list[str] | None = Field(default=None, min_length=1)


class Incentive(_Model):
    """One incentive of the catalogue."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{1,39}$")
    name: Text
    description: Text
    department: str = Field(pattern=r"^[a-z][a-z_]{1,31}$")
    grades: list[str] = Field(min_length=1)
    conditions: list[Condition] = []
    benefit: Text
    cost_per_beneficiary: Yuan
    annual_budget: Yuan
    valid_from: dt.date
    valid_to: dt.date

    def valid_on(self, day: dt.date) -> bool:
        """Whether the incentive is offered on `day`."""
        return self.valid_from <= day <= self.valid_to


Loc = tuple[str | int, ...]


def check_incentives(
    incentives: Sequence[Incentive], grades: Sequence[str]
) -> Iterator[tuple[Loc, str]]:
    """Problems of the catalogue beyond single fields, each at its place in the file."""
    seen: set[str] = set()
    for i, inc in enumerate(incentives):
        at: Loc = ("incentives", i)
        if inc.id in seen:
            yield (*at, "id"), messages.text("incentive.duplicate", what=inc.id)
        seen.add(inc.id)
        for grade in inc.grades:
            if grade not in grades:
                yield (
                    (*at, "grades"),
                    messages.text("incentive.unknown_grade", what=grade, known=", ".join(grades)),
                )
        if inc.valid_from > inc.valid_to:
            yield (
                (*at, "valid_from"),
                messages.text("incentive.window", start=inc.valid_from, end=inc.valid_to),
            )
        for j, cond in enumerate(inc.conditions):
            yield from _condition_problems(cond, (*at, "conditions", j))


def _condition_problems(cond: Condition, at: Loc) -> Iterator[tuple[Loc, str]]:
    if cond.kind not in CONDITION_KINDS:
        known = ", ".join(CONDITION_KINDS)
        yield (
            (*at, "kind"),
            messages.text("incentive.unknown_condition", what=cond.kind, known=known),
        )
        return
    used = {
        "min_years": cond.min_years is not None or cond.max_years is not None,
        "groups": cond.groups is not None,
        "occupations": cond.occupations is not None,
    }
    needed = _FIELDS[cond.kind]
    if not used[needed]:
        yield at, messages.text("incentive.condition_needs", kind=cond.kind, field=needed)
    for name, present in used.items():
        if present and name != needed:
            yield at, messages.text("incentive.condition_extra", kind=cond.kind, field=name)
    low, high = cond.min_years, cond.max_years
    if low is not None and high is not None and low > high:
        yield at, messages.text("incentive.age_order", low=low, high=high)
