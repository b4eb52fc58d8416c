"""The pages' only way to data: the JSON API, called in-process with the visitor's own token.

A page is a view over API calls. Each call goes through the gate (web/gate.py) exactly as an
outside client's does — the route's rule, the caller's role, the purpose, the region of the
person read, the trail entry — and through FastAPI's validation and the route's masking. The
pages package imports nothing that reads the store, the vault or the trail (tests/web/pages
hold it to that): what a page can show is what its visitor could fetch with curl.

The call skips the outer layers the page request itself has just passed (the rate and body
limits, metrics and the access log count the page once) and starts at the gate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from starlette.requests import Request

from fpcredit.messages import language
from fpcredit.web.limits import ASGIApp

__all__ = ["Answer", "Api"]


@dataclass(frozen=True)
class Answer:
    """An API answer: its status, its JSON (or None), its raw body and content type."""

    status: int
    data: Any
    content: bytes
    content_type: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def detail(self) -> str:
        """The API's sentence for a refusal (a 422's sentences joined)."""
        detail = self.data.get("detail") if isinstance(self.data, dict) else None
        if isinstance(detail, list):
            return "；".join(str(d.get("msg", "")) for d in detail if isinstance(d, dict))
        return str(detail or "")


class Api:
    """Calls the app's gated API in-process (see the module docstring)."""

    def __init__(self, gated: ASGIApp, parent: Any) -> None:
        async def asgi(scope: Any, receive: Any, send: Any) -> None:
            scope["app"] = parent  # the gate finds the services on the app, as for any request
            await gated(scope, receive, send)

        self._asgi = asgi

    async def call(
        self,
        request: Request,
        method: str,
        path: str,
        *,
        token: str = "",
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        client = request.client
        transport = httpx.ASGITransport(
            app=self._asgi, client=(client.host, client.port) if client else ("127.0.0.1", 0)
        )
        headers = {**(headers or {}), "accept-language": language()}
        if token:
            headers["authorization"] = f"Bearer {token}"
        # The transport alone, not a client: a client logs every request's URL, and a URL may
        # name a person (the access log names route templates only).
        request_ = httpx.Request(
            method,
            f"http://pages{path}",
            params={k: v for k, v in (params or {}).items() if v is not None},
            json=json,
            headers=headers,
        )
        answer = await transport.handle_async_request(request_)
        await answer.aread()
        kind = answer.headers.get("content-type", "")
        data = answer.json() if kind.startswith("application/json") and answer.content else None
        return Answer(answer.status_code, data, answer.content, kind)
