"""Response models shared by the person routes, and how a person file becomes one (masked)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import Response
from pydantic import AfterValidator, BaseModel, Field

from fpcredit.guard.access import Role
from fpcredit.guard.masking import mask_fields
from fpcredit.link.file import PersonFile

__all__ = [
    "CreditView",
    "ExplanationView",
    "FactView",
    "PersonView",
    "UtcTime",
    "credit_view",
    "json_response",
    "person_view",
]


def _utc(value: dt.datetime) -> dt.datetime:
    # The store keeps naive UTC; RFC 3339 (OpenAPI date-time) wants the offset written.
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


UtcTime = Annotated[dt.datetime, AfterValidator(_utc)]


class FactView(BaseModel):
    id: int
    kind: str
    source: str
    event_date: dt.date
    recorded_at: UtcTime
    disputed: bool


class PersonView(BaseModel):
    """A person file; identifiers masked unless the caller may and asked to see them."""

    person_id: int
    masked: bool = Field(description="Whether name, ID number, phone and address are masked.")
    name: str | None
    id_number: str | None
    phone: str | None
    address: str | None
    sex: int | None
    birth_date: dt.date | None
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
    """`fpcredit explain` as JSON: each indicator's line, its facts, and how to raise the grade."""

    person_id: int
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


def person_view(file: PersonFile, role: Role, reveal: bool) -> PersonView:
    values = {k: getattr(file, k) for k in _IDENTIFIERS}
    shown = mask_fields(values, role, reveal, region_code=file.residence_region)
    return PersonView(
        person_id=file.person_id,
        masked=shown != values,
        **shown,
        sex=file.sex,
        birth_date=file.birth_date,
        hukou_region=file.hukou_region,
        residence_region=file.residence_region,
        urban_rural=file.urban_rural,
        occupation=file.occupation,
        sources=file.sources,
        records_by_source=file.records_by_source,
        facts=[FactView(**f) for f in file.facts],
        facts_total=file.facts_total,
    )


def _centi(value: Any) -> str | None:
    return None if value is None else f"{float(value):.2f}"


def json_response(view: BaseModel) -> Response:
    """A view that its model has already validated, as JSON: returned as a Response, FastAPI
    does not validate and serialise it a second time against the route's response_model (which
    still documents it). For the hottest routes only: the lookups of the benchmark."""
    return Response(view.model_dump_json(), media_type="application/json")


def credit_view(row: dict[str, Any]) -> CreditView:
    dims = {k[4:]: _centi(v) for k, v in row.items() if k.startswith("dim_")}
    inds = {k[: -len("_score")]: v for k, v in row.items() if k.endswith("_score")}
    return CreditView(
        person_id=row["person_id"],
        total=_centi(row["total"]),
        grade=row["grade"],
        points=row["points"],
        policy_id=row["policy_id"],
        policy_version=row["policy_version"],
        policy_sha256=row["policy_sha256"],
        score_date=row["score_date"],
        grade_date=row["grade_date"],
        dimensions=dims,
        indicators=inds,
    )
