"""Response models shared by the person routes, and how a person file becomes one (masked)."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Annotated, Any, Literal

from fastapi import Response
from pydantic import AfterValidator, BaseModel, Field
from pydantic_core import to_json

from fpcredit.guard.access import Role
from fpcredit.guard.masking import (
    exact_dates,
    mask_birth_date,
    mask_date,
    mask_fields,
    may_reveal,
    month_is_over,
    today,
)
from fpcredit.link.file import PersonFile

__all__ = [
    "CreditView",
    "DatePrecision",
    "ExplanationView",
    "FactView",
    "PersonView",
    "UtcTime",
    "credit_response",
    "person_view",
]


def _utc(value: dt.datetime) -> dt.datetime:
    # The store keeps naive UTC; RFC 3339 (OpenAPI date-time) wants the offset written.
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


UtcTime = Annotated[dt.datetime, AfterValidator(_utc)]


Month = Annotated[str, Field(pattern=r"^\d{4}-\d{2}$", examples=["2026-01"])]
DatePrecision = Literal["day", "month"]
_PRECISION = (
    "`day`: dates to the day (a reveal, or the citizen's own view); `month`: a masked view, "
    "where dates about the person are months, the birth date a year (docs/keys.md, Masking)."
)


class FactView(BaseModel):
    """A fact; its dates to the day only where the view's `date_precision` is `day`."""

    id: int
    kind: str
    source: str
    event_month: Month
    event_date: dt.date | None = Field(description="Only in a view of `day` precision.")
    recorded_month: Month
    recorded_at: UtcTime | None = Field(description="Only in a view of `day` precision.")
    disputed: bool


class PersonView(BaseModel):
    """A person file; identifiers masked, dates by month, unless the caller may and asked to
    see them (the citizen's own file: identifiers masked, dates to the day)."""

    person_id: int
    masked: bool = Field(description="Whether name, ID number, phone and address are masked.")
    date_precision: DatePrecision = Field(description=_PRECISION)
    name: str | None
    id_number: str | None = Field(
        description="Masked: the region (6 digits) and a star for each other character."
    )
    phone: str | None
    address: str | None
    sex: int | None
    birth_year: int | None = Field(
        description="Masked: null also for a birth this year or last (docs/keys.md, Masking)."
    )
    birth_date: dt.date | None = Field(description="Only in a view of `day` precision.")
    hukou_region: str | None
    residence_region: str | None
    urban_rural: str | None
    occupation: str | None
    sources: dict[str, str | None]
    records_by_source: dict[str, int]
    facts: list[FactView]
    facts_total: int


class CreditView(BaseModel):
    """A person's result in the latest official evaluation."""

    person_id: int
    total: str | None
    grade: str | None
    points: int | None
    policy_id: str
    policy_version: str
    policy_sha256: str
    score_date: dt.date
    grade_date: dt.date
    dimensions: dict[str, str | None]
    indicators: dict[str, int | None]


class ExplanationView(BaseModel):
    """`fpcredit explain` as JSON: each indicator's line, its facts, and how to raise the grade.

    At `month` precision every date about the person or their children is a month (`…_month`
    keys instead of `…_date`), and only dates of months that are over are shown."""

    person_id: int
    date_precision: DatePrecision = Field(description=_PRECISION)
    as_of: str
    score_date: str
    grade_date: str
    policy: dict[str, str]
    total: str | None
    grade: str | None
    points: int | None
    dimensions: list[dict[str, Any]]
    indicators: list[dict[str, Any]]
    to_raise_grade: Any


_IDENTIFIERS = ("name", "id_number", "phone", "address")


def _fact(fact: dict[str, Any], exact: bool) -> FactView:
    event, recorded = fact["event_date"], fact["recorded_at"]
    return FactView(
        id=fact["id"],
        kind=fact["kind"],
        source=fact["source"],
        event_month=mask_date(event),
        event_date=event if exact else None,
        recorded_month=mask_date(recorded),
        recorded_at=recorded if exact else None,
        disputed=fact["disputed"],
    )


def _shown(fact: dict[str, Any], on: dt.date) -> bool:
    # A masked view lists a fact once the months of its event and of its recording are over.
    return month_is_over(fact["event_date"], on) and month_is_over(fact["recorded_at"].date(), on)


def person_view(
    file: PersonFile, role: Role, reveal: bool, *, on: dt.date | None = None
) -> PersonView:
    """The file as `role` sees it on day `on` (default today): masked unless `reveal` by a role
    that may; its dates by month, unless exact for this caller (`exact_dates`)."""
    on = on or today()
    values = {k: getattr(file, k) for k in _IDENTIFIERS}
    exact = exact_dates(role, reveal)
    facts = file.facts if exact else [f for f in file.facts if _shown(f, on)]
    born = file.birth_date
    return PersonView(
        person_id=file.person_id,
        masked=not (reveal and may_reveal(role)),
        date_precision="day" if exact else "month",
        **mask_fields(values, role, reveal, region_code=file.residence_region),
        sex=file.sex,
        birth_year=(born.year if born else None) if exact else mask_birth_date(born, on),
        birth_date=born if exact else None,
        hukou_region=file.hukou_region,
        residence_region=file.residence_region,
        urban_rural=file.urban_rural,
        occupation=file.occupation,
        sources=file.sources,
        records_by_source=file.records_by_source,
        facts=[_fact(f, exact) for f in facts],
        facts_total=file.facts_total,
    )


def _centi(value: Any) -> str | None:
    return None if value is None else f"{float(value):.2f}"


@functools.lru_cache(maxsize=64)
def _groups(keys: tuple[str, ...]) -> tuple[tuple[tuple[str, str], ...], ...]:
    """A results row's dimension and indicator columns and the names they are shown under:
    worked out once per set of columns (a province's every lookup shares one)."""
    dims = tuple((k, k[4:]) for k in keys if k.startswith("dim_"))
    inds = tuple((k, k[: -len("_score")]) for k in keys if k.endswith("_score"))
    return dims, inds


def credit_response(row: dict[str, Any]) -> Response:
    """A results row (evaluate.results) as a `CreditView`, written straight to JSON.

    The hottest read of the service: building and validating the model and then dumping it
    cost more than finding the row. The row's types are the results file's (the evaluation
    writes them), so pydantic's serialiser without the model writes the model's own dump,
    byte for byte; tests hold the two equal on every row of an evaluated province and on
    generated rows. Returned as a Response, FastAPI does not
    validate it again against the route's response_model, which still documents it."""
    dim_keys, ind_keys = _groups(tuple(row))
    body = {
        "person_id": row["person_id"],
        "total": _centi(row["total"]),
        "grade": row["grade"],
        "points": row["points"],
        "policy_id": row["policy_id"],
        "policy_version": row["policy_version"],
        "policy_sha256": row["policy_sha256"],
        "score_date": row["score_date"],
        "grade_date": row["grade_date"],
        "dimensions": {name: _centi(row[k]) for k, name in dim_keys},
        "indicators": {name: row[k] for k, name in ind_keys},
    }
    return Response(to_json(body), media_type="application/json")
