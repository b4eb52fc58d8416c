"""The HTTP service: `create_app()` builds the app with its gate, limits, metrics and logs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from typing import Any, Final

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from fpcredit.cases.service import Cases
from fpcredit.config import Settings
from fpcredit.errors import ComputeError, ConfigError, FpcreditError
from fpcredit.evaluate.active import active_policy
from fpcredit.evaluate.results import Results
from fpcredit.guard.auth.identity import Authenticator
from fpcredit.guard.keys.crypto import load_vault
from fpcredit.guard.trail.checkpointer import background
from fpcredit.guard.trail.groupcommit import GroupCommit
from fpcredit.guard.trail.log import Trail
from fpcredit.link.file import Locator
from fpcredit.messages import Language, negotiate, reset_language, set_language, text
from fpcredit.notify.worker import background as notifying
from fpcredit.service import open_ready_store
from fpcredit.web.api import (
    admin,
    audit,
    auth,
    cases,
    dashboards,
    feeds,
    incentives,
    me,
    persons,
    points,
    reviews,
    subjects,
    system,
    verifications,
)
from fpcredit.web.deps import Caller, Services, internal_error
from fpcredit.web.explainer import Explainer
from fpcredit.web.gate import Gate
from fpcredit.web.headers import PAGE_PREFIXES, headers_for
from fpcredit.web.limits import ASGIApp, BodyLimit, CallerLimits, RateLimit, Receive, Scope, Send
from fpcredit.web.metrics import AccessLog, Metrics, MetricsMiddleware
from fpcredit.web.pages import chosen_on_page, mount_pages
from fpcredit.web.reads import credit_of
from fpcredit.web.rotation import RotationJob
from fpcredit.web.rules import rule_for

__all__ = ["check_rules", "create_app", "declared_routes"]
log = logging.getLogger("fpcredit.web")


def _api_routes(routes: Iterable[Any]) -> Iterator[Any]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "effective_route_contexts"):
            # FastAPI ≥ 0.120 keeps an included router as one node holding its routes.
            yield from _api_routes(route.effective_route_contexts())
        elif hasattr(route, "path_format") and hasattr(route, "dependant"):
            yield route  # an included route's effective context


def declared_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path template) the app answers with a route of its own.

    The routes are walked, and the OpenAPI document is read as well, so a route hidden from
    one of the two is still found. The OpenAPI and docs pages themselves are not API routes.
    """
    found = set()
    for route in _api_routes(app.routes):
        for method in (route.methods or set()) - {"HEAD", "OPTIONS"}:
            found.add((method, route.path_format))
    for path, operations in app.openapi().get("paths", {}).items():
        found.update((method.upper(), path) for method in operations)
    return found


def check_rules(app: FastAPI) -> None:
    """Refuse an app with a route that has no access rule (web/rules.py)."""
    app.openapi_schema = None  # routes may have been added since the document was built
    for method, path in sorted(declared_routes(app)):
        if rule_for(method, path) is None:
            raise ConfigError(text("web.route_without_rule", route=f"{method} {path}"))


def _problem(request: Request, status: int, detail: Any) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI echoes the rejected input by default; it may hold an ID number or a phone.
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in exc.errors()
        ]
        return _problem(request, 422, errors)

    @app.exception_handler(FpcreditError)
    async def refused(request: Request, exc: FpcreditError) -> JSONResponse:
        return _problem(request, 400, str(exc))

    @app.exception_handler(ComputeError)
    async def engine_failed(request: Request, exc: ComputeError) -> JSONResponse:
        # The batch engine failed, not the request: the caller may try again later.
        return _problem(request, 503, str(exc))

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        return internal_error(request.method, exc)


class Service(FastAPI):
    """The fpcredit app: FastAPI behind a pure-ASGI front — security headers, metrics and the
    access log, the rate and body limits, and the gate (with the routes it answers itself) —
    that runs before FastAPI's own stack, so a request the gate answers never enters it.

    `front` is built by `create_app`; everything else (routes, OpenAPI, lifespan, the
    exception handlers of the routes) is FastAPI's."""

    front: ASGIApp | None = None
    language: Language = "zh"  # FPCREDIT_LANGUAGE: for a request whose Accept-Language names none

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.front is None:
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self
        # The request's language, for every message written while it is served (handlers in
        # the thread pool run in a copy of this context): two callers read two languages.
        asked = next((v for k, v in scope["headers"] if k == b"accept-language"), None)
        chosen = (
            self.language if asked is None else negotiate(asked.decode("latin-1"), self.language)
        )
        if scope["path"] == "/" or scope["path"].startswith(PAGE_PREFIXES):
            chosen = chosen_on_page(scope["headers"]) or chosen  # the pages' language switch
        token = set_language(chosen)
        try:
            await self.front(scope, receive, send)
        finally:
            reset_language(token)

    async def rest(self, scope: Scope, receive: Receive, send: Send) -> None:
        """What is behind the front: FastAPI's own stack and routes."""
        await super().__call__(scope, receive, send)


async def _credit(services: Services, caller: Caller) -> Response:
    assert caller.person_id is not None
    return await credit_of(services, caller.person_id)


# Routes the gate answers itself once a caller passed it, with their routes' own function: the
# hottest reads, spared FastAPI's routing and dependency resolution (web/gate.py).
FAST: Final = {
    ("GET", "/v1/persons/{person_id}/credit"): _credit,
    ("GET", "/v1/me/credit"): _credit,
}


def build_services(settings: Settings, metrics: Metrics) -> Services:
    """Open the store, keys, trail and result cache once for the app's life."""
    store = open_ready_store(settings)
    vault = load_vault(settings.keys_dir)
    trail = Trail(store, settings)
    return Services(
        settings=settings,
        store=store,
        vault=vault,
        identity=Authenticator(store, settings, vault=vault),
        trail=trail,
        commits=GroupCommit(trail),
        results=Results(store, settings.home),
        locator=Locator(store),
        metrics=metrics,
        limits=CallerLimits(settings),
        explainer=Explainer(settings),
        cases=Cases(trail, lambda: active_policy(store).policy),
        revision=store.revision(),
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """The fpcredit service. Every request passes the gate (web/gate.py); limits, metrics and
    security headers wrap it."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        check_rules(app)  # also catches a route added after create_app returned
        app.state.services.commits.start()
        # The trail's checkpoints: signed within 1 s or 1,000 entries, handed to the witnesses.
        checkpointer = background(app.state.services.trail, settings)
        # The notifications' worker (R24), unless another process runs `fpcredit notify run`.
        services = app.state.services
        notifier = (
            notifying(settings, services.store, services.vault)
            if settings.notify_in_serve
            else None
        )
        yield
        if notifier is not None:
            notifier.stop()
        app.state.services.identity.codes.close()
        app.state.services.explainer.close()
        app.state.services.commits.close()
        checkpointer.stop()
        app.state.access_log.close()
        app.state.services.store.engine.dispose()

    app = Service(
        title="fpcredit",
        version="1",
        summary="计生信用信息平台 API",
        lifespan=lifespan,
        # The interactive docs pages load their scripts from a CDN, which a health commission's
        # network does not reach; /openapi.json is served and any OpenAPI viewer reads it.
        docs_url=None,
        redoc_url=None,
    )
    modules = (system, auth, persons, me, subjects, audit, admin, incentives, verifications, points)
    for module in modules:
        app.include_router(module.router)
    app.include_router(cases.me_router)
    app.include_router(cases.router)
    app.include_router(reviews.router)
    app.include_router(reviews.persons_router)
    app.include_router(dashboards.router)
    app.include_router(feeds.router)
    # From the outside in: metrics, the access log and the security headers of every answer
    # (413 and 429 too), the limits, then the gate (innermost: a flood is turned away first).
    gated: ASGIApp = Gate(app.rest, FAST)
    # The portal and the console (web/pages): views over the API, whose calls start at the
    # gate (the page request itself passed the limits).
    mount_pages(app, gated, settings)
    check_rules(app)
    _handlers(app)
    metrics = Metrics()
    limited = RateLimit(gated, settings.rate_limit_per_s, settings.rate_limit_burst)
    inner: ASGIApp = BodyLimit(
        limited,
        settings.max_body_bytes,
        {"/v1/verifications/batch": verifications.BATCH_MAX_BODY_BYTES},
        {"/v1/feeds/": settings.feed_max_bytes},  # a department's feed file (web/api/feeds.py)
    )
    app.state.access_log = access_log = AccessLog()
    app.front = MetricsMiddleware(inner, metrics, access_log, headers_for)
    app.language = settings.language
    app.state.services = build_services(settings, metrics)
    app.state.rotation = RotationJob()  # the security administrator's key rotation
    return app
