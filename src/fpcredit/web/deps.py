"""Request dependencies: the app's services and the caller that passed the gate.

The gate itself (web/gate.py) runs before routing, for every request: it looks up the route's
rule (web/rules.py), authenticates the caller, checks the role, the purpose and the region of
the person the route reads, and appends the decision to the trail before any data is read.
Handlers only ever see a caller that passed; they get it through `CurrentCaller`.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any, Final

from fastapi import Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel

from fpcredit.cases.service import Cases
from fpcredit.config import Settings
from fpcredit.evaluate.results import Results
from fpcredit.guard.access import Principal, Purpose
from fpcredit.guard.auth.identity import Authenticator
from fpcredit.guard.keys.crypto import Vault
from fpcredit.guard.trail.groupcommit import GroupCommit
from fpcredit.guard.trail.log import Event, Trail
from fpcredit.link.file import Locator
from fpcredit.messages import text
from fpcredit.monitoring import Dashboards
from fpcredit.store.db import Store
from fpcredit.web.explainer import Explainer
from fpcredit.web.limits import Buckets, CallerLimits, retry_after
from fpcredit.web.metrics import Metrics
from fpcredit.web.rules import Rule

__all__ = [
    "EARLIEST_AS_OF",
    "MAX_ID",
    "PROBLEMS",
    "AsOf",
    "Caller",
    "CurrentCaller",
    "PersonId",
    "Problem",
    "PurposeQuery",
    "Services",
    "ServicesDep",
    "audit",
    "event",
    "internal_error",
    "invalid",
    "limit",
]
log = logging.getLogger("fpcredit.web")


@dataclass
class Services:
    """What the routes work with; built once by create_app."""

    settings: Settings
    store: Store
    vault: Vault
    identity: Authenticator
    trail: Trail
    commits: GroupCommit
    results: Results
    locator: Locator
    metrics: Metrics
    limits: CallerLimits
    explainer: Explainer
    cases: Cases  # its `clock` is the service's clock for case deadlines (tests move it)
    revision: str | None = None  # the store's migration, read once at start
    dashboards: Dashboards = field(default_factory=Dashboards)  # kept per input version
    checkpoint_every_s: float = 10.0
    _last_checkpoint: float = -float("inf")

    def checkpoint_due(self) -> bool:
        """Whether a new checkpoint may be signed for an anonymous caller (at most every 10 s)."""
        now = time.monotonic()
        if now - self._last_checkpoint < self.checkpoint_every_s:
            return False
        self._last_checkpoint = now
        return True


@dataclass(frozen=True)
class Caller:
    """A caller that passed the gate: who, for which purpose, about which person."""

    principal: Principal
    purpose: Purpose | None
    person_id: int | None
    rule: Rule


class Problem(BaseModel):
    """An error: one sentence for the person at the other end (zh by default)."""

    detail: str


# Documented on every route, so clients and Schemathesis know the refusals.
PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No valid token, or the login was refused."},
    403: {"model": Problem, "description": "Role, purpose or region refused."},
    404: {"model": Problem, "description": "No such person, or no result yet."},
    413: {"model": Problem, "description": "Request body too large."},
    429: {"model": Problem, "description": "Too many requests."},
    503: {
        "model": Problem,
        "description": "The newest evaluation was changed outside fpcredit and is not served.",
    },
}


def invalid(where: list[str | int], message: str) -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors: [{loc, msg, type}]."""
    return HTTPException(422, [{"loc": where, "msg": message, "type": "value_error"}])


def internal_error(method: str, exc: BaseException) -> JSONResponse:
    """A 500 naming an incident the log has the details of (never the error's own text)."""
    incident = uuid.uuid4().hex[:12]
    log.error("unhandled error %s on %s", incident, method, exc_info=exc)
    return JSONResponse({"detail": text("web.internal", incident=incident)}, status_code=500)


def limit(buckets: Buckets, key: str) -> None:
    """Count one request against `key`'s bucket; 429 with Retry-After when it is empty."""
    wait = buckets.take(key)
    if wait > 0:
        raise HTTPException(429, text("web.rate_limited"), {"Retry-After": retry_after(wait)})


MAX_ID = 2**62  # ids are 64-bit in both stores; larger numbers name nobody

# Evaluation dates: none before the People's Republic (1949-10-01: no region code, ID number or
# family-planning fact is older) and none more than a year ahead (a coming quarter may be
# looked at; beyond that a date is a typing error). Outside, the date arithmetic of the
# evaluation overflows: 0001-01-01 and 9999-12-31 answered 500.
EARLIEST_AS_OF: Final = dt.date(1949, 10, 1)
AHEAD_DAYS: Final = 366


def _sane_as_of(day: dt.date | None) -> dt.date | None:
    latest = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=AHEAD_DAYS)
    if day is not None and not EARLIEST_AS_OF <= day <= latest:
        raise ValueError(text("web.as_of_range", earliest=EARLIEST_AS_OF, latest=latest))
    return day


AsOf = Annotated[
    dt.date | None,
    AfterValidator(_sane_as_of),
    Query(description="Evaluation date, 1949-10-01 to a year from today (default: the latest)."),
]

PersonId = Annotated[int, Path(ge=1, le=MAX_ID, description="A person id (一人一档编号).")]


async def _services(request: Request) -> Services:  # async: no thread-pool hop
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]

PurposeQuery = Annotated[
    Purpose,
    Query(description="Why the data is read (closed vocabulary; see docs/security.md)."),
]


def event(
    principal: Principal | None,
    rule: Rule,
    outcome: str,
    purpose: Purpose | None,
    person_id: int | None,
    address: str | None = None,
) -> Event:
    """The trail entry of one access decision."""
    return Event(
        f"{principal.role.value}:{principal.subject}" if principal else "anonymous",
        rule.action,
        outcome=outcome,
        subject=None if person_id is None else str(person_id),
        purpose=purpose.value if purpose else None,
        address=address,
    )


def audit(
    services: Services,
    principal: Principal | None,
    rule: Rule,
    outcome: str,
    purpose: Purpose | None,
    person_id: int | None,
) -> None:
    """Append one access decision to the trail; a trail that cannot be written refuses the read."""
    services.commits.append(event(principal, rule, outcome, purpose, person_id))
    services.metrics.audit(outcome)


async def _caller(request: Request) -> Caller:  # async: no thread-pool hop
    caller: Caller | None = getattr(request.state, "caller", None)
    if caller is None:  # the gate let nobody through to here: a closed door all the same
        raise HTTPException(404)
    return caller


CurrentCaller = Annotated[Caller, Depends(_caller)]
