"""Dashboards for staff (R5 quality, R36 monitoring, the four-fifths ratio), as JSON.

The figures are computed by the library (evaluate/dashboard.py, collect/monitor.py,
fpcredit/monitoring.py) and kept by the service per input version (`Services.dashboards`), so
a repeat call is a dictionary lookup. They are aggregates: no person is named, none is put on
the trail but the call itself (the gate's entry, with its purpose). The results carry no
region, so every caller sees the province's figures (`scope: province`). docs/services.md.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from fpcredit.evaluate.active import active_policy
from fpcredit.messages import language, text
from fpcredit.web.deps import PROBLEMS, CurrentCaller, PurposeQuery, ServicesDep

__all__ = ["router"]

router = APIRouter(prefix="/v1/dashboards", tags=["dashboards"], responses=PROBLEMS)


class Figure(BaseModel):
    """A share (0–1) with its target; `meets` null when there is nothing to count or no
    target."""

    value: float | None
    target: float | None
    meets: bool | None


class GradeCount(BaseModel):
    grade: str
    persons: int
    share: float | None


class GroupRate(BaseModel):
    """A group's share of the best grade, its ratio to the best group's, and whether that
    ratio is at least four fifths."""

    code: str
    label: str
    persons: int
    best_rate: float
    ratio_to_best: float | None
    four_fifths: bool


class GradesDashboard(BaseModel):
    evaluation: int
    as_of: dt.date
    score_date: dt.date
    grade_date: dt.date
    policy_id: str
    policy_version: str
    policy_sha256: str
    scope: str = Field(description="`province`: the results carry no region.")
    persons: int
    ungraded: int
    best_grade: str
    four_fifths_threshold: float
    grades: list[GradeCount]
    by_region_type: list[GroupRate]
    by_occupation: list[GroupRate]


class Reason(BaseModel):
    rule: str
    field: str
    rows: int
    message: str


class FieldQuality(BaseModel):
    field: str
    label: str
    flagged: int
    accuracy: Figure
    completeness: Figure


class DepartmentQuality(BaseModel):
    source: str
    rows: int
    accepted: int
    quarantined: int
    duplicates: int
    flagged: int
    accuracy: Figure
    completeness: Figure
    timeliness: Figure
    quarantine_reasons: list[Reason]
    fields: list[FieldQuality]


class QualityDashboard(BaseModel):
    accuracy: Figure
    completeness: Figure
    timeliness: Figure
    frequency_days: dict[str, int] = Field(
        description="The lag each update frequency of the standard allows, in days."
    )
    departments: list[DepartmentQuality]


class Indicator(Figure):
    indicator: str
    label: str
    count: int | None = None
    of: int | None = None


class Alert(BaseModel):
    alert: str
    label: str
    value: float
    threshold: float
    raised: bool
    detail: dict[str, Any] = Field(default_factory=dict)


class MonitoringDashboard(BaseModel):
    evaluation: int | None
    indicators: list[Indicator]
    alerts: list[Alert]
    thresholds: dict[str, float]


def _indicator_label(code: str) -> str:
    labels = {
        "accuracy": text("web.dashboard_accuracy"),
        "completeness": text("web.dashboard_completeness"),
        "satisfaction": text("web.dashboard_satisfaction"),
        "reach": text("web.dashboard_reach"),
    }
    return labels.get(code, code)


def _alert_label(code: str) -> str:
    labels = {
        "overdue_cases": text("web.dashboard_overdue_cases"),
        "refused_accesses_24h": text("web.dashboard_refused_accesses"),
        "quarantine_share": text("web.dashboard_quarantine_share"),
        "checkpoint_age_s": text("web.dashboard_checkpoint_age"),
        "dead_notifications": text("web.dashboard_dead_notifications"),
    }
    return labels.get(code, code)


_ALERT_KEYS = frozenset({"alert", "value", "threshold", "raised"})


@router.get("/grades", response_model=GradesDashboard)
def grades(purpose: PurposeQuery, caller: CurrentCaller, services: ServicesDep) -> Any:
    """The latest official evaluation's grade distribution, and the share of the best grade by
    region type and by occupation against the best group's (four-fifths rule)."""
    run = services.results.run()
    if run is None:
        if services.results.refused:
            raise HTTPException(503, services.results.refused)
        raise HTTPException(404, text("web.not_evaluated"))
    return services.dashboards.grades(run, language())


@router.get("/quality", response_model=QualityDashboard)
def quality(purpose: PurposeQuery, caller: CurrentCaller, services: ServicesDep) -> Any:
    """Accuracy, completeness and timeliness per department and per field against the targets
    (accuracy ≥ 95 %, completeness ≥ 90 %); quarantined rows and their top reasons."""
    return services.dashboards.quality(services.store, language(), services.settings.mappings_dir)


@router.get("/monitoring", response_model=MonitoringDashboard)
def monitoring(purpose: PurposeQuery, caller: CurrentCaller, services: ServicesDep) -> Any:
    """The monitoring indicators (accuracy, completeness, satisfaction, reach) against their
    targets, and the risk alerts with their thresholds."""
    store = services.store
    found = services.dashboards.monitoring(
        store,
        services.results.run(),
        services.settings.home,
        lambda: active_policy(store).policy,
        services.cases.today(),
        language(),
        services.settings.mappings_dir,
    )
    return MonitoringDashboard(
        evaluation=found["evaluation"],
        indicators=[Indicator(**i, label=_indicator_label(i["indicator"]))
                    for i in found["indicators"]],
        alerts=[
            Alert(**{k: a[k] for k in _ALERT_KEYS}, label=_alert_label(a["alert"]),
                  detail={k: v for k, v in a.items() if k not in _ALERT_KEYS})
            for a in found["alerts"]
        ],
        thresholds=found["thresholds"],
    )  # fmt: skip
