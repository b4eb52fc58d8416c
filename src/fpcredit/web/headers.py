"""Security headers on every answer, as plain ASGI middleware (outermost: 413 and 429 too)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

__all__ = ["PAGE_HEADERS", "PAGE_PREFIXES", "SECURITY_HEADERS", "SecurityHeaders", "headers_for"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The API answers JSON (and plain text for checkpoints and metrics) to programs, never pages:
# nothing is to be cached on the way (answers hold personal data), sniffed as another type,
# framed, or allowed to load anything if a browser ever renders one.
SECURITY_HEADERS: Final[list[tuple[bytes, bytes]]] = [
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (
        b"content-security-policy",
        b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ),
    (b"referrer-policy", b"no-referrer"),
]


# The pages (web/pages) and their files: scripts, styles and images from the service itself
# only, no inline script or style (the templates have none), forms posted only to the
# service, never framed. HSTS is added when the request came over TLS.
PAGE_PREFIXES: Final = ("/portal", "/console", "/static/")
PAGE_HEADERS: Final[list[tuple[bytes, bytes]]] = [
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        b"base-uri 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    # Not no-referrer: under it a browser posts a form with `Origin: null`, and the pages
    # refuse a form whose origin is not their own. Page addresses name no person.
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
_HSTS: Final = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


def headers_for(scope: Scope) -> list[tuple[bytes, bytes]]:
    """The security headers of an answer to this request: a page's or the API's, and HSTS
    over TLS."""
    path: str = scope.get("path", "")
    page = path == "/" or path.startswith(PAGE_PREFIXES)
    chosen = PAGE_HEADERS if page else SECURITY_HEADERS
    return [*chosen, _HSTS] if scope.get("scheme") == "https" else chosen


class SecurityHeaders:
    """Adds SECURITY_HEADERS to the start of every HTTP answer; nothing else is touched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)
