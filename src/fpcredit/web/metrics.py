"""Prometheus metrics of one app: requests by route template and status, and their latency."""

from __future__ import annotations

import logging
import time
from collections.abc import MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from fpcredit.web.limits import ASGIApp, Message, Receive, Scope, Send

__all__ = ["Metrics", "MetricsMiddleware"]
access = logging.getLogger("fpcredit.web.access")


class Metrics:
    """The app's counters. Labels use the route template, never the raw path."""

    def __init__(self) -> None:
        # One registry per app, so tests that build many apps don't collide on global names.
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "fpcredit_http_requests",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "fpcredit_http_request_seconds",
            "HTTP request latency by route template.",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
            registry=self.registry,
        )
        self.audit_entries = Counter(
            "fpcredit_audit_entries",
            "Trail entries appended for reads of personal data, by outcome.",
            ["outcome"],
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """ASGI middleware counting every request and its latency into `metrics`."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def tracked(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        finally:
            route = _template(scope)
            method = scope.get("method", "")
            seconds = time.perf_counter() - start
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.latency.labels(route).observe(seconds)
            principal = (scope.get("state") or {}).get("principal")
            # The route template and the role only: the raw path and query may name a person.
            access.info(
                "%s %s %s",
                method,
                route,
                status,
                extra={
                    "route": route,
                    "method": method,
                    "status": status,
                    "ms": round(seconds * 1000, 2),
                    "role": principal.role.value if principal else None,
                },
            )


def _template(scope: MutableMapping[str, Any]) -> str:
    route = scope.get("route")
    path = getattr(route, "path_format", None)
    return str(path) if path else "unmatched"
