"""Request size and rate limits: per address as plain ASGI middleware (before routing and
parsing), per caller identity (token subject, login name, ID number) for the gate and routes."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from fpcredit.config import Settings
from fpcredit.messages import text

__all__ = ["BodyLimit", "Buckets", "CallerLimits", "RateLimit", "retry_after"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _reply(
    send: Send, status: int, detail: str, headers: dict[str, str] | None = None
) -> None:
    body = json.dumps({"detail": detail}, ensure_ascii=False).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuses bodies over `max_bytes` with 413, whether announced by Content-Length or streamed.
    A path of `larger` has its own limit (a department's batch verification list), and so has
    one segment under a prefix of `under` (`/v1/feeds/` + a source: a department's feed file)."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        larger: Mapping[str, int] | None = None,
        under: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = dict(larger or {})
        self.under = dict(under or {})

    def limit(self, path: str) -> int:
        """The largest body a request to `path` may send."""
        found = self.larger.get(path)
        if found is not None:
            return found
        for prefix, limit in self.under.items():
            rest = path[len(prefix) :]
            if path.startswith(prefix) and rest and "/" not in rest:
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit(scope.get("path", ""))
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _reply(send, 413, text("web.too_large", limit=limit))
            return
        if declared is None and b"transfer-encoding" not in headers:
            # HTTP/1.1 without either header: there is no body (RFC 9112 §6.3), nothing to
            # count; the server reads no more for this request.
            await self.app(scope, receive, send)
            return
        seen = 0
        started = refused = False

        async def counted() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit and not refused:
                    # Answer now and tell the app the client left: a body parser would turn an
                    # exception raised here into its own "cannot parse" error.
                    refused = True
                    if not started:
                        await _reply(send, 413, text("web.too_large", limit=limit))
                    return {"type": "http.disconnect"}
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 has been sent; the app's own answer is dropped
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted, tracked)


class Buckets:
    """A token bucket per key: `rate` requests a second, bursts of up to `burst`.

    In memory, one process's worth (the service runs one process per machine,
    docs/security.md); past `max_keys` keys the least recently used is forgotten.
    """

    def __init__(self, rate: float, burst: int, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()  # routes in the thread pool take from the same buckets

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: str, now: float | None = None) -> float:
        """0 when a request may pass (and it is counted), else the seconds until it could."""
        if not self.enabled:
            return 0.0
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
            self._buckets[key] = (tokens - 1 if tokens >= 1 else tokens, now)
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        return wait


def retry_after(wait: float) -> str:
    """The Retry-After value for a wait of `wait` seconds (whole seconds, at least 1)."""
    return str(max(1, math.ceil(wait)))


class CallerLimits:
    """Rate limits per caller identity, whatever address the requests come from.

    `subject`: an authenticated caller's requests (the gate, after authentication). `login`:
    attempts to log in as one username, client id or citizen ID number (the token route).
    `code`: citizen-code requests for one ID number. `feed`: feed pushes of one department
    client. Names are kept as keyed hashes under a key made for this process, so the buckets
    never hold an ID number.
    """

    def __init__(self, settings: Settings) -> None:
        self.subject = Buckets(settings.rate_limit_subject_per_s, settings.rate_limit_subject_burst)
        self.login = _per_minute(settings.rate_limit_login_per_min)
        self.code = _per_minute(settings.rate_limit_code_per_min)
        self.feed = _per_minute(settings.feed_pushes_per_minute)
        self._key = secrets.token_bytes(32)

    def name(self, kind: str, value: str) -> str:
        """The bucket key of an identity `value` of `kind` (username, client, id_number)."""
        return hmac.digest(self._key, f"{kind}:{value}".encode(), hashlib.sha256).hex()[:32]


def _per_minute(count: int) -> Buckets:
    return Buckets(count / 60, max(1, count))


class RateLimit:
    """A token bucket per client address: `rate` requests a second, bursts up to `burst`.

    Per address as well as per identity (CallerLimits) so that an unauthenticated flood
    (password guessing, one-time-code requests) is limited too. The address is the one the
    server settled on: the connection's, or a configured proxy's X-Forwarded-For
    (`trusted_proxies`; uvicorn rewrites the scope's client before this runs).
    """

    def __init__(self, app: ASGIApp, rate: float, burst: int, max_clients: int = 100_000) -> None:
        self.app = app
        self.buckets = Buckets(rate, burst, max_clients)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.buckets.enabled:
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        wait = self.buckets.take(str(client))
        if wait > 0:
            headers = {"retry-after": retry_after(wait)}
            await _reply(send, 429, text("web.rate_limited"), headers)
            return
        await self.app(scope, receive, send)
