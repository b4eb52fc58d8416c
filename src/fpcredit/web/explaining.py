"""The explanation of a person's credit for the service, on the latest evaluation's date."""

from __future__ import annotations

import datetime as dt

from fastapi import HTTPException

from fpcredit.evaluate.explain import ExplainError
from fpcredit.evaluate.explain import explain as explain_person
from fpcredit.evaluate.policy import load_policy
from fpcredit.messages import text
from fpcredit.web.api.views import ExplanationView
from fpcredit.web.deps import Services

__all__ = ["explanation"]


def explanation(services: Services, person_id: int, as_of: dt.date | None) -> ExplanationView:
    """Explain `person_id` as of `as_of` (default: the latest official evaluation's date)."""
    if as_of is None:
        run = services.results.run()
        if run is None:
            raise HTTPException(404, text("web.not_evaluated"))
        as_of = run["as_of"]
    try:
        report = explain_person(services.store, load_policy(), person_id, as_of)
    except ExplainError as e:
        raise HTTPException(404, str(e)) from None
    return ExplanationView.model_validate(report)
