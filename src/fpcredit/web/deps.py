"""Request dependencies: the app's services, the caller, and the one gate every route passes.

`enforce` runs for every route (create_app installs it app-wide). It looks up the route's rule
(web/rules.py), authenticates the caller, checks the role, the purpose and the region of the
person the route reads, and appends the decision to the trail before any data is read. Handlers
only ever see a caller that passed; they get it through `CurrentCaller`.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Annotated, Any, Final

from fastapi import Depends, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import AfterValidator, BaseModel

from fpcredit.config import Settings
from fpcredit.errors import AuthError
from fpcredit.evaluate.results import Results
from fpcredit.guard.access import Principal, Purpose
from fpcredit.guard.crypto import Vault
from fpcredit.guard.groupcommit import GroupCommit
from fpcredit.guard.identity import Authenticator
from fpcredit.guard.ledger import Event, Ledger
from fpcredit.link.file import Ask, Located, Locator
from fpcredit.messages import text
from fpcredit.store.db import Store
from fpcredit.web.limits import Buckets, CallerLimits, retry_after
from fpcredit.web.metrics import Metrics
from fpcredit.web.rules import Rule, rule_for

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
    "enforce",
    "invalid",
    "limit",
]


@dataclass
class Services:
    """What the routes work with; built once by create_app."""

    settings: Settings
    store: Store
    vault: Vault
    identity: Authenticator
    ledger: Ledger
    trail: GroupCommit
    results: Results
    locator: Locator
    metrics: Metrics
    limits: CallerLimits
    revision: str | None = None  # the store's migration, read once at start
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
}


def invalid(where: list[str | int], message: str) -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors: [{loc, msg, type}]."""
    return HTTPException(422, [{"loc": where, "msg": message, "type": "value_error"}])


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


def _event(
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
    services.trail.append(_event(principal, rule, outcome, purpose, person_id))
    services.metrics.audit_entries.labels(outcome).inc()


async def _audit(
    services: Services,
    principal: Principal,
    rule: Rule,
    outcome: str,
    purpose: Purpose | None,
    person_id: int | None,
    address: str | None = None,
) -> None:
    """`audit` on the event loop: waits for the commit without holding a thread."""
    event = _event(principal, rule, outcome, purpose, person_id, address)
    await services.trail.append_async(event)
    services.metrics.audit_entries.labels(outcome).inc()


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, text("web.token_missing"), {"WWW-Authenticate": "Bearer"})
    return token.strip()


def _purpose(request: Request, rule: Rule, principal: Principal) -> Purpose:
    raw = request.query_params.get("purpose")
    if raw is None and rule.scope == "self":
        return Purpose.SELF_SERVICE
    try:
        return Purpose(raw or "")
    except ValueError:
        raise invalid(["query", "purpose"], text("web.purpose_unknown")) from None


async def _person(
    request: Request, services: Services, rule: Rule, principal: Principal
) -> Located:
    if rule.scope == "self":
        return Located(int(principal.subject), None, None)
    raw = request.path_params.get("person_id", "")
    # Checked here, before FastAPI validates the parameter: the gate runs first.
    valid = str(raw).isdigit() and 0 < int(raw) <= MAX_ID
    person = services.locator.known(int(raw)) if valid else None
    if person is Ask.STORE:
        person = await run_in_threadpool(services.locator.locate, int(raw))
    if not isinstance(person, Located):
        raise HTTPException(404, text("web.person_unknown"))
    return person


def _authenticate(services: Services, token: str) -> Principal:
    try:
        return services.identity.authenticate(token)
    except AuthError as e:
        raise HTTPException(401, str(e), {"WWW-Authenticate": "Bearer"}) from None


async def enforce(request: Request, services: ServicesDep) -> None:
    """The gate: authenticate, then role, purpose and region, each refusal with its reason.

    It runs on the event loop: a caller seen within the last second, a person in the service's
    snapshot and the trail's group commit need no thread; what must ask the store (a first or
    stale token, a person newer than the snapshot) goes to the thread pool, so a slow database
    never blocks the loop.
    """
    route = request.scope.get("route")
    rule = rule_for(request.method, getattr(route, "path_format", ""))
    if rule is None:  # create_app refuses such an app; kept as a closed door all the same
        raise HTTPException(404)
    if rule.public:
        return
    token = _bearer(request)
    principal = services.identity.authenticate_known(token)
    if principal is None:
        principal = await run_in_threadpool(_authenticate, services, token)
    request.state.principal = principal
    if services.limits.subject.enabled:
        limit(services.limits.subject, f"{principal.role.value}:{principal.subject}")
    if principal.role not in rule.roles:
        if rule.audited:  # a read of personal data, or an administrator's action (with address)
            address = request.client.host if rule.admin and request.client else None
            await _audit(services, principal, rule, "refused_role", None, None, address)
        raise HTTPException(403, text("web.role_refused", role=principal.role.value))
    purpose: Purpose | None = None
    person: int | None = None
    if rule.personal:
        purpose = _purpose(request, rule, principal)
        if not principal.may(purpose):
            await _audit(services, principal, rule, "refused_purpose", purpose, None)
            raise HTTPException(403, text("web.purpose_refused", purpose=purpose.value))
        if rule.scope in ("self", "person"):
            found = await _person(request, services, rule, principal)
            person = found.person_id
            if rule.scope == "person" and not principal.covers(
                found.hukou_region, found.residence_region
            ):
                await _audit(services, principal, rule, "refused_region", purpose, person)
                raise HTTPException(403, text("web.region_refused"))
        await _audit(services, principal, rule, "allowed", purpose, person)
    request.state.caller = Caller(principal, purpose, person, rule)


async def _caller(request: Request) -> Caller:  # async: no thread-pool hop
    caller: Caller = request.state.caller
    return caller


CurrentCaller = Annotated[Caller, Depends(_caller)]
