"""The incentive catalogue (public) and the citizen's own eligibility, with what would change it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from fpcredit.incentives.catalogue import in_force, view
from fpcredit.incentives.eligibility import judge, needs_conditions, profiles
from fpcredit.messages import language, text
from fpcredit.store.db import utc_now
from fpcredit.web.deps import PROBLEMS, CurrentCaller, ServicesDep
from fpcredit.web.reads import explanation

router = APIRouter(tags=["incentives"], responses=PROBLEMS)


class ConditionView(BaseModel):
    """One condition: `kind` child_age (min_years, max_years), region (groups) or occupation."""

    kind: str
    min_years: int | None = None
    max_years: int | None = None
    groups: list[str] | None = None
    occupations: list[str] | None = None


class IncentiveView(BaseModel):
    """One incentive of the catalogue, in the request's language; money in yuan, to the fen."""

    id: str
    name: str
    description: str
    department: str
    grades: list[str]
    conditions: list[ConditionView]
    benefit: str
    cost_per_beneficiary: str = Field(pattern=r"^\d+\.\d{2}$")
    annual_budget: str = Field(pattern=r"^\d+\.\d{2}$")
    valid_from: str
    valid_to: str


class Catalogue(BaseModel):
    policy_id: str
    policy_version: str
    incentives: list[IncentiveView]


class Unmet(BaseModel):
    """One rule the person does not meet, and what would change it."""

    kind: str = Field(description="window, not_graded, grade, child_age, region or occupation")
    reason: str
    change: str


class MyIncentive(BaseModel):
    id: str
    name: str
    qualifies: bool
    unmet: list[Unmet]


class MyIncentives(BaseModel):
    grade: str | None
    incentives: list[MyIncentive]


@router.get("/v1/incentives", response_model=Catalogue, response_model_exclude_none=True)
def catalogue(services: ServicesDep) -> Catalogue:
    """The incentives of the policy in force: who qualifies, the benefit, its cost and budget."""
    policy = in_force(services.store)
    lang = language()
    return Catalogue(
        policy_id=policy.policy.id,
        policy_version=policy.policy.version,
        incentives=[IncentiveView.model_validate(view(i, lang)) for i in policy.policy.incentives],
    )


@router.get("/v1/me/incentives", response_model=MyIncentives)
def my_incentives(caller: CurrentCaller, services: ServicesDep) -> MyIncentives:
    """Each incentive: whether I qualify now, and if not, why and what would change it."""
    assert caller.person_id is not None
    policy = in_force(services.store)
    incentives = policy.policy.incentives
    today = utc_now().date()
    row = services.results.person(caller.person_id)
    if row is None and services.results.refused:
        raise HTTPException(503, services.results.refused)
    me = profiles(
        services.store,
        policy,
        {caller.person_id: row},
        today,
        conditions=needs_conditions(incentives),
    )[0]
    verdicts = [judge(i, me, today) for i in incentives]
    steps = _steps(services, caller, verdicts)
    out: list[MyIncentive] = []
    for inc, verdict in zip(incentives, verdicts, strict=True):
        unmet = [
            Unmet(kind=f.kind, reason=f.reason, change=_change(f.kind, inc.grades, steps))
            for f in verdict.failures
        ]
        name = inc.name.zh if language() == "zh" else inc.name.en
        out.append(MyIncentive(id=inc.id, name=name, qualifies=verdict.eligible, unmet=unmet))
    return MyIncentives(grade=me.grade, incentives=out)


def _steps(services: Any, caller: CurrentCaller, verdicts: list[Any]) -> dict[str, Any] | None:
    """The explanation's counterfactual (what would raise the grade), asked only when a grade
    keeps the person from an incentive; None when there is nothing to explain."""
    if not any(f.kind == "grade" for v in verdicts for f in v.failures):
        return None
    assert caller.person_id is not None
    try:
        report = explanation(services, caller.person_id, None, caller.principal.role, False)
    except HTTPException:
        return None  # not explainable now (no evaluation, workers down): the reason stands
    raised = report.to_raise_grade
    return raised if isinstance(raised, dict) else None


def _change(kind: str, grades: list[str], steps: dict[str, Any] | None) -> str:
    needed = ", ".join(grades)
    if kind == "window":
        return text("incentive.change_window")
    if kind not in ("grade", "not_graded"):
        return text("incentive.change_none")
    if steps and steps.get("reachable") and steps.get("actions"):
        actions = "; ".join(f"{a['indicator']}: {a['action']}" for a in steps["actions"])
        return text("incentive.change_grade", needed=needed, actions=actions)
    if steps and steps.get("path"):
        return text("incentive.change_grade_path", needed=needed, path=steps["path"]["text"])
    return text("incentive.change_grade_unreachable", needed=needed)
