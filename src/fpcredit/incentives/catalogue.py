"""The incentive catalogue of the policy in force: lookups by id and by department, and views."""

from __future__ import annotations

from typing import Any

from fpcredit.evaluate.policy import LoadedPolicy
from fpcredit.evaluate.policy_incentives import Incentive, Text
from fpcredit.messages import Language

__all__ = ["by_department", "departments", "find", "view"]


def find(policy: LoadedPolicy, incentive_id: str) -> Incentive | None:
    """The incentive `incentive_id` of the policy, or None."""
    return next((i for i in policy.policy.incentives if i.id == incentive_id), None)


def by_department(policy: LoadedPolicy, department: str) -> list[Incentive]:
    """The incentives `department` provides, in catalogue order."""
    return [i for i in policy.policy.incentives if i.department == department]


def departments(policy: LoadedPolicy) -> dict[str, str]:
    """Incentive id → the department that provides it."""
    return {i.id: i.department for i in policy.policy.incentives}


def view(incentive: Incentive, lang: Language) -> dict[str, Any]:
    """One incentive as the public catalogue shows it, in `lang`; money as text to the fen."""

    def pick(words: Text) -> str:
        return words.zh if lang == "zh" else words.en

    return {
        "id": incentive.id,
        "name": pick(incentive.name),
        "description": pick(incentive.description),
        "department": incentive.department,
        "grades": list(incentive.grades),
        "conditions": [c.model_dump(exclude_none=True) for c in incentive.conditions],
        "benefit": pick(incentive.benefit),
        "cost_per_beneficiary": str(incentive.cost_per_beneficiary),
        "annual_budget": str(incentive.annual_budget),
        "valid_from": incentive.valid_from.isoformat(),
        "valid_to": incentive.valid_to.isoformat(),
    }
