"""A person's file, credit and explanation as the routes return them (staff and citizens alike)."""

from __future__ import annotations

import datetime as dt

from fastapi import HTTPException, Response
from fastapi.concurrency import run_in_threadpool

from fpcredit.evaluate.explain import ExplainError, MonthNotOverError
from fpcredit.guard.access import Role
from fpcredit.guard.masking import Dates, exact_dates
from fpcredit.link.file import person_file
from fpcredit.messages import text
from fpcredit.web.api.views import (
    ExplanationView,
    PersonView,
    credit_response,
    person_view,
)
from fpcredit.web.deps import Services, invalid
from fpcredit.web.explainer import ExplainerDownError

__all__ = ["credit_of", "explanation", "file_of"]


def explanation(
    services: Services, person_id: int, as_of: dt.date | None, role: Role, reveal: bool
) -> ExplanationView:
    """Explain `person_id` as of `as_of` (default: the latest official evaluation's date), its
    dates masked for `role` unless `reveal` (and the role may see them) or the citizen's own."""
    if as_of is None:
        run = services.results.run()
        if run is None:
            raise HTTPException(404, text("web.not_evaluated"))
        as_of = run["as_of"]
    dates = Dates(exact=exact_dates(role, reveal))
    try:
        report = services.explainer.explain(person_id, as_of, dates)
    except MonthNotOverError as e:
        raise invalid(["query", "as_of"], str(e)) from None
    except ExplainError as e:
        raise HTTPException(404, str(e)) from None
    except ExplainerDownError as e:
        raise HTTPException(503, str(e)) from None
    return ExplanationView.model_validate(report)


def file_of(services: Services, person_id: int, role: Role, reveal: bool) -> PersonView:
    """The person's file, masked for `role` unless `reveal` (and the role may see it)."""
    file = person_file(services.store, services.vault, person_id)
    if file is None:
        raise HTTPException(404, text("web.person_unknown"))
    return person_view(file, role, reveal)


async def credit_of(services: Services, person_id: int) -> Response:
    """The person's row in the latest official evaluation, as CreditView JSON (on the event
    loop: the service's hottest read)."""
    if services.results.due():  # reading a new evaluation's file must not stall the loop
        await run_in_threadpool(services.results.run)
    row = services.results.person(person_id)
    if row is None:
        if services.results.refused:  # the newest evaluation was changed: nothing is served
            raise HTTPException(503, services.results.refused)
        raise HTTPException(404, text("web.not_evaluated"))
    return credit_response(row)
