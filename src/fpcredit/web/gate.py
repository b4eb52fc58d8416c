"""The gate every request passes, as pure ASGI: the route's rule, the caller, role, purpose,
region and the trail, before any handler runs.

It finds the route's rule (web/rules.py) from the method and path itself, authenticates the
caller, checks the role, the purpose and the region of the person the route reads, and appends
the decision to the trail before any data is read. A refusal is answered here; a caller that
passed is put in the request's state, where handlers find it (`deps.CurrentCaller`).

It runs on the event loop: a caller seen within the last second, a person in the service's
snapshot and the trail's group commit need no thread; what must ask the store (a first or
stale token, a person newer than the snapshot) goes to the thread pool, so a slow database
never blocks the loop. The hottest reads (a credit lookup) are answered here too, by the same
function their route calls (`reads.credit_of`), without FastAPI's routing and dependency
resolution: on this machine that machinery cost more than the gate, the trail and the lookup
together (docs/security.md, "Measured").
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl

from fastapi import HTTPException
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from fpcredit.errors import AuthError, FpcreditError
from fpcredit.guard.access import Principal, Purpose
from fpcredit.link.file import Ask, Located
from fpcredit.messages import text
from fpcredit.web.deps import MAX_ID, Caller, Services, event, internal_error, invalid, limit
from fpcredit.web.limits import ASGIApp, Receive, Scope, Send
from fpcredit.web.rules import RULES, Rule

__all__ = ["ROUTE_KEY", "FastHandler", "Gate"]

# Where the gate leaves the route template it matched (metrics and logs label by it).
ROUTE_KEY: Final = "fpcredit.route"
FastHandler = Callable[[Services, Caller], Awaitable[Response]]


@dataclass(frozen=True)
class _Route:
    template: str
    pattern: re.Pattern[str]
    rule: Rule


def _compile(template: str) -> re.Pattern[str]:
    """A route template as FastAPI matches it: each `{name}` one path segment."""
    parts = re.split(r"(\{[^}]+\})", template)
    regex = "".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"{regex}$")


class Gate:
    """ASGI middleware: the gate (see the module docstring), and the fast handlers."""

    def __init__(self, app: ASGIApp, fast: Mapping[tuple[str, str], FastHandler]) -> None:
        self.app = app
        self.fast = dict(fast)
        self._exact: dict[tuple[str, str], _Route] = {}
        self._patterns: dict[str, list[_Route]] = {}
        for (method, template), rule in RULES.items():
            route = _Route(template, _compile(template), rule)
            if "{" in template:
                self._patterns.setdefault(method, []).append(route)
            else:
                self._exact[method, template] = route

    def _match(self, method: str, path: str) -> tuple[_Route, dict[str, str]] | None:
        # A HEAD request runs its GET route's handler: it passes the GET route's gate.
        method = "GET" if method == "HEAD" else method
        found = self._exact.get((method, path))
        if found is not None:
            return found, {}
        for route in self._patterns.get(method, ()):
            match = route.pattern.match(path)
            if match is not None:
                return route, match.groupdict()
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        matched = self._match(scope["method"], path)
        if matched is None:  # no rule: FastAPI answers (404, 405, the OpenAPI document)
            await self.app(scope, receive, send)
            return
        route, params = matched
        scope[ROUTE_KEY] = route.template
        if route.rule.public:
            await self.app(scope, receive, send)
            return
        services: Services = scope["app"].state.services
        state = scope.setdefault("state", {})
        try:
            state["caller"] = caller = await _check(services, scope, route.rule, params, state)
        except Exception as e:
            await _refusal(scope, e)(scope, receive, send)
            return
        fast = self.fast.get((scope["method"], route.template))
        if fast is None:
            await self.app(scope, receive, send)
            return
        try:
            response = await fast(services, caller)
        except Exception as e:
            response = _refusal(scope, e)
        await response(scope, receive, send)


def _refusal(scope: Scope, error: Exception) -> Response:
    """The answer to a refusal or failure met before FastAPI's handlers could give one: the
    same as they would."""
    if isinstance(error, HTTPException):
        return JSONResponse({"detail": error.detail}, error.status_code, dict(error.headers or {}))
    if isinstance(error, FpcreditError):
        return JSONResponse({"detail": str(error)}, 400)
    return internal_error(scope["method"], error)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers") or ():
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _bearer(scope: Scope) -> str:
    scheme, _, token = _header(scope, b"authorization").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, text("web.token_missing"), {"WWW-Authenticate": "Bearer"})
    return token.strip()


def _query_value(scope: Scope, name: str) -> str | None:
    """The first value of a query parameter (as Starlette reads it: %-decoded, `+` a space)."""
    query: bytes = scope.get("query_string", b"")
    if b"%" not in query and b"+" not in query:  # the common case, without the decoder
        key = name.encode() + b"="
        for part in query.split(b"&"):
            if part.startswith(key):
                return part[len(key) :].decode("latin-1")
            if part == name.encode():
                return ""
        return None
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    return next((v for k, v in pairs if k == name), None)


def _purpose(scope: Scope, rule: Rule) -> Purpose:
    raw = _query_value(scope, "purpose")
    if raw is None and rule.scope == "self":
        return Purpose.SELF_SERVICE
    try:
        return Purpose(raw or "")
    except ValueError:
        raise invalid(["query", "purpose"], text("web.purpose_unknown")) from None


async def _person(services: Services, rule: Rule, principal: Principal, raw: str) -> Located:
    if rule.scope == "self":
        return Located(int(principal.subject), None, None)
    # Checked here, before FastAPI validates the parameter: the gate runs first.
    valid = raw.isdigit() and 0 < int(raw) <= MAX_ID
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


async def _audit(
    services: Services,
    principal: Principal,
    rule: Rule,
    outcome: str,
    purpose: Purpose | None,
    person_id: int | None,
    address: str | None = None,
) -> None:
    """Append one decision, awaiting its commit without holding a thread."""
    entry = event(principal, rule, outcome, purpose, person_id, address)
    await services.commits.append_async(entry)
    services.metrics.audit(outcome)


async def _check(
    services: Services, scope: Scope, rule: Rule, params: dict[str, str], state: dict[str, Any]
) -> Caller:
    """Authenticate, then role, purpose and region, each refusal with its reason."""
    token = _bearer(scope)
    principal = services.identity.authenticate_known(token)
    if principal is None:
        principal = await run_in_threadpool(_authenticate, services, token)
    state["principal"] = principal
    if services.limits.subject.enabled:
        limit(services.limits.subject, f"{principal.role.value}:{principal.subject}")
    if principal.role not in rule.roles:
        if rule.audited:  # a read of personal data, or an administrator's action (with address)
            client = scope.get("client")
            address = client[0] if rule.admin and client else None
            await _audit(services, principal, rule, "refused_role", None, None, address)
        raise HTTPException(403, text("web.role_refused", role=principal.role.value))
    purpose: Purpose | None = None
    person: int | None = None
    if rule.personal:
        purpose = _purpose(scope, rule)
        if not principal.may(purpose):
            await _audit(services, principal, rule, "refused_purpose", purpose, None)
            raise HTTPException(403, text("web.purpose_refused", purpose=purpose.value))
        if rule.scope in ("self", "person"):
            found = await _person(services, rule, principal, params.get("person_id", ""))
            person = found.person_id
            if rule.scope == "person" and not principal.covers(
                found.hukou_region, found.residence_region
            ):
                await _audit(services, principal, rule, "refused_region", purpose, person)
                raise HTTPException(403, text("web.region_refused"))
        await _audit(services, principal, rule, "allowed", purpose, person)
    return Caller(principal, purpose, person, rule)
