"""The incentive catalogue of the policy in force: lookups by id and by department, and views."""

from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa

from fpcredit.evaluate.active import active_policy
from fpcredit.evaluate.policy import LoadedPolicy, load_policy
from fpcredit.evaluate.policy_incentives import Incentive, Text
from fpcredit.messages import Language
from fpcredit.store import schema as s
from fpcredit.store.db import Store

__all__ = ["by_department", "departments", "find", "in_force", "view"]

_DEFAULT: list[LoadedPolicy] = []  # the packaged default, parsed once per process
_LOCK = threading.Lock()


def in_force(store: Store) -> LoadedPolicy:
    """The policy in force, as `active_policy` says, without parsing the packaged default
    again on every call (parsing the file takes a tenth of a second; a verification must not)."""
    with store.engine.connect() as conn:
        activated = conn.execute(sa.select(sa.func.count()).select_from(s.policies)).scalar_one()
    if activated:
        return active_policy(store)  # cached there by activation
    with _LOCK:
        if not _DEFAULT:
            _DEFAULT.append(load_policy())
        return _DEFAULT[0]


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
