"""Metrics of one app — requests by route template and status, their latency, trail entries —
counted on the event loop in plain dictionaries and turned into Prometheus text only when
`/metrics` is read, and the access log, written in batches by a thread of its own: nothing of
either on the request's hot path beyond a few dictionary and list updates."""

from __future__ import annotations

import bisect
import datetime as dt
import json
import logging
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from typing import Any, Final

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from fpcredit.web.limits import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BUCKETS", "AccessLog", "Metrics", "MetricsMiddleware"]
access = logging.getLogger("fpcredit.web.access")

BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)


class _Latency:
    """One route's latency histogram: a count per bucket (cumulated only when read)."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.total += seconds


class Metrics(Collector):
    """The app's counters. Labels use the route template, never the raw path.

    Updated from the event loop (and, for trail entries, from request threads: a lost
    increment under a race would undercount a metric, never a trail entry)."""

    def __init__(self) -> None:
        self.requests: defaultdict[tuple[str, str, str], int] = defaultdict(int)
        self.latency: defaultdict[str, _Latency] = defaultdict(_Latency)
        self.audit_entries: defaultdict[str, int] = defaultdict(int)
        # One registry per app, so tests that build many apps don't collide on global names.
        self.registry = CollectorRegistry()
        self.registry.register(self)

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests[route, method, str(status)] += 1
        self.latency[route].observe(seconds)

    def audit(self, outcome: str) -> None:
        self.audit_entries[outcome] += 1

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "fpcredit_http_requests",
            "HTTP requests by route template, method and status.",
            labels=["route", "method", "status"],
        )
        for labels, n in sorted(self.requests.items()):
            requests.add_metric(list(labels), n)
        yield requests
        latency = HistogramMetricFamily(
            "fpcredit_http_request_seconds",
            "HTTP request latency by route template.",
            labels=["route"],
        )
        for route, hist in sorted(self.latency.items()):
            cumulated, buckets = 0, []
            for bound, n in zip((*map(str, BUCKETS), "+Inf"), hist.counts, strict=True):
                cumulated += n
                buckets.append((bound, cumulated))
            latency.add_metric([route], buckets, hist.total)
        yield latency
        entries = CounterMetricFamily(
            "fpcredit_audit_entries",
            "Trail entries appended for reads of personal data, by outcome.",
            labels=["outcome"],
        )
        for outcome, n in sorted(self.audit_entries.items()):
            entries.add_metric([outcome], n)
        yield entries

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class AccessLog:
    """One JSON line per request on stderr, in the shape of every other log line (time, level,
    logger, message, route, method, status, ms, role), written every `every_s` by a thread.

    Through the logging module a line cost the server a third of a lookup's time (a record,
    a thread switch, redaction and formatting, a write, per request). Its fields come from
    closed sets — the route's template, the method, the status, the role — so there is nothing
    to redact. Written only while the `fpcredit.web.access` logger is on (`fpcredit serve`)."""

    def __init__(self, every_s: float = 0.2) -> None:
        self.every_s = every_s
        self._lines: list[tuple[float, str, str, int, float, str | None]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return access.isEnabledFor(logging.INFO)

    def record(self, method: str, route: str, status: int, ms: float, role: str | None) -> None:
        self._lines.append((time.time(), method, route, status, ms, role))
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="access-log", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.flush()
        self.flush()

    def flush(self) -> None:
        # Swapped, not copied: an append racing the swap lands in one list or the other.
        lines, self._lines = self._lines, []
        if lines:
            sys.stderr.write("".join(map(_line, lines)))
            sys.stderr.flush()

    def close(self) -> None:
        """Write what is left and stop the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        self.flush()


def _line(entry: tuple[float, str, str, int, float, str | None]) -> str:
    at, method, route, status, ms, role = entry
    when = dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="milliseconds")
    fields = {
        "time": when,
        "level": "INFO",
        "logger": access.name,
        "message": f"{method} {route} {status}",
        "route": route,
        "method": method,
        "status": status,
        "ms": ms,
        "role": role,
    }
    return json.dumps(fields, ensure_ascii=False) + "\n"


class MetricsMiddleware:
    """ASGI middleware counting every request and its latency into `metrics`, writing one
    access-log line (`AccessLog`), and adding `headers` to every answer."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        log: AccessLog | None = None,
        headers: Callable[[Scope], Sequence[tuple[bytes, bytes]]] | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.log = log or AccessLog()
        # Added to every answer here rather than by a middleware of their own: one wrapper of
        # `send` per request instead of two (web/headers.py has them).
        self.headers = headers

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
                if self.headers is not None:
                    message["headers"] = [*message.get("headers", ()), *self.headers(scope)]
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        finally:
            route = _template(scope)
            method = scope.get("method", "")
            seconds = time.perf_counter() - start
            self.metrics.request(route, method, status, seconds)
            if self.log.enabled:
                principal = (scope.get("state") or {}).get("principal")
                # The route template and the role only: the raw path and query may name a
                # person.
                role = principal.role.value if principal else None
                self.log.record(method, route, status, round(seconds * 1000, 2), role)


def _template(scope: MutableMapping[str, Any]) -> str:
    found = scope.get("fpcredit.route")  # the gate's match (web/gate.py ROUTE_KEY)
    if found:
        return str(found)
    route = scope.get("route")
    path = getattr(route, "path_format", None)
    return str(path) if path else "unmatched"
