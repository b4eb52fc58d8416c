"""One page request: the visitor's session, their API calls, the form check and the answer.

`Visit.open` reads the session cookie (a new visitor gets one holding only a CSRF nonce),
refreshes a token past half its life, and sends a visitor who must be signed in to the login
page. API calls carry the session's token; a 401 means the session is over, and the visitor is
sent to log in again with a sentence saying so. What the page answers carries the cookie back.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, urlsplit

import jinja2
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from fpcredit.messages import Language, known, language, text
from fpcredit.web.pages.api import Answer, Api
from fpcredit.web.pages.session import COOKIE, SECURE_COOKIE, PageSession, Signer
from fpcredit.web.pages.words import WORDS

__all__ = ["Leave", "Pages", "Refused", "Visit", "page"]

log = logging.getLogger("fpcredit.web")
TEMPLATES: Final = Path(__file__).parent.parent / "templates"
LANG_COOKIE: Final = "fp_lang"
_COOKIE_DAYS: Final = 1  # the cookie outlives no session: the token inside expires far sooner
_LOGIN_CALLS: Final = frozenset({"/v1/auth/token", "/v1/auth/citizen-code"})


class Leave(Exception):  # noqa: N818 — not an error: the page answers with another place
    """Answer with a redirect (303) instead of the page."""

    def __init__(self, to: str) -> None:
        super().__init__(to)
        self.to = to


class Refused(Exception):  # noqa: N818 — a refusal the visitor reads, not a failure
    """The API refused (403, 404, 503 …): the page says why, with the status it got."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.status)
        self.answer = answer


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a missing value is a bug in the page, not blank text
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["t"] = lambda key, **values: text(key, **values)
    env.globals.update(WORDS, known=known)
    env.filters["pct"] = lambda v: "—" if v is None else f"{float(v) * 100:.1f}%"
    env.filters["local"] = _local_time
    return env


def _local_time(value: Any) -> str:
    """An API time (UTC, RFC 3339) as China Standard Time to the minute."""
    if not value:
        return "—"
    at = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")


@dataclass
class Pages:
    """What every page shares: the templates, the API, the cookie signer, the token lifetime."""

    api: Api
    signer: Signer
    token_lifetime_s: int
    env: jinja2.Environment = field(default_factory=_env)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


@dataclass
class Visit:
    """A page request under way (see the module docstring)."""

    request: Request
    pages: Pages
    session: PageSession
    area: str  # "portal" or "console": where its login page is
    changed: bool = False

    @classmethod
    def start(cls, request: Request, area: str) -> Visit:
        pages: Pages = request.app.state.pages
        name = SECURE_COOKIE if _secure(request) else COOKIE
        session = pages.signer.load(request.cookies.get(name))
        return cls(request, pages, session or PageSession.fresh(), area, changed=session is None)

    async def begin(self, signed_in: bool) -> None:
        """Send a visitor who must be signed in and is not to the login page; refresh a token
        past half its life. A console page also needs a role of the console (and back)."""
        if signed_in and not self.session.signed_in:
            raise Leave(f"/{self.area}/login")
        if signed_in and (self.session.role == "citizen") != (self.area == "portal"):
            raise Leave("/portal/" if self.session.role == "citizen" else "/console/")
        if self.session.due_for_refresh(self.pages.token_lifetime_s):
            await self._refresh()

    # -- the API -------------------------------------------------------------------------
    async def call(self, method: str, path: str, **kwargs: Any) -> Answer:
        """An API call with the session's token; a login's calls carry none (their 401 is the
        login's refusal, not the end of a session)."""
        login = path in _LOGIN_CALLS
        token = "" if login else self.session.token
        answer = await self.pages.api.call(self.request, method, path, token=token, **kwargs)
        if answer.status == 401 and self.session.signed_in and not login:
            self.end()
            raise Leave(f"/{self.area}/login?ended=1")
        return answer

    async def get(self, path: str, **params: Any) -> Any:
        """The JSON of a GET that must succeed; a refusal becomes the page's refusal."""
        answer = await self.call("GET", path, params=params)
        if not answer.ok:
            raise Refused(answer)
        return answer.data

    async def _refresh(self) -> None:
        answer = await self.pages.api.call(
            self.request, "POST", "/v1/auth/refresh", token=self.session.token
        )
        if not answer.ok:
            self.end()
            raise Leave(f"/{self.area}/login?ended=1")
        self.signed(answer.data)

    def signed(self, token: Mapping[str, Any], **who: str) -> None:
        """Keep a token the API issued (with who it names, at a login)."""
        values = {
            "token": str(token["access_token"]),
            "expires": time.time() + int(token["expires_in"]),
        }
        session = self.session
        if who:  # a login: a new nonce, so a form of the visitor before it is not valid after
            session = PageSession.fresh()
            values |= who
        self.session = PageSession(**{**session.__dict__, **values})
        self.changed = True

    def end(self) -> None:
        self.session = PageSession.fresh()
        self.changed = True

    async def log_out(self) -> Response:
        """The logout form: the API closes the session, the cookie forgets it."""
        await self.form()
        await self.call("POST", "/v1/auth/logout")
        self.end()
        return self.go(f"/{self.area}/login")

    def choose_purpose(self, purpose: str) -> None:
        self.session = self.session.with_purpose(purpose)
        self.changed = True

    # -- forms ---------------------------------------------------------------------------
    async def form(self) -> FormData:
        """The posted form, once its CSRF token and origin are checked (403 page otherwise)."""
        origin = self.request.headers.get("origin")
        if origin and urlsplit(origin).netloc != self.request.url.netloc:
            raise Refused(Answer(403, {"detail": text("page.csrf")}, b"", ""))
        data = await self.request.form()
        presented = data.get("csrf")
        if not self.pages.signer.csrf_ok(
            self.session, presented if isinstance(presented, str) else None
        ):
            raise Refused(Answer(403, {"detail": text("page.csrf")}, b"", ""))
        return data

    # -- the answer ----------------------------------------------------------------------
    @property
    def lang(self) -> Language:
        return language()

    def render(self, template: str, status: int = 200, **values: Any) -> Response:
        html = self.pages.env.get_template(template).render(
            visit=self,
            session=self.session,
            csrf=self.pages.signer.csrf(self.session),
            lang=self.lang,
            path=self.request.url.path,
            here=quote(self.request.url.path),
            **values,
        )
        return self.keep(HTMLResponse(html, status_code=status))

    def keep(self, response: Response) -> Response:
        """The response with the session cookie set again if it changed."""
        if self.changed:
            secure = _secure(self.request)
            response.set_cookie(
                SECURE_COOKIE if secure else COOKIE,
                self.pages.signer.dump(self.session),
                max_age=_COOKIE_DAYS * 86400,
                path="/",
                secure=secure,
                httponly=True,
                samesite="lax",
            )
        return response

    def go(self, to: str) -> Response:
        return self.keep(RedirectResponse(to, status_code=303))


Handler = Callable[[Visit], Awaitable[Response]]


def page(
    area: str, *, signed_in: bool = True
) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """A page handler: `handler(visit)` with the visit opened, its redirects and refusals
    answered as pages (the refusal's sentence, the API's status), the cookie kept."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            visit = Visit.start(request, area)
            try:
                await visit.begin(signed_in)
                return await handler(visit)
            except Leave as e:
                return visit.go(e.to)
            except Refused as e:
                status = e.answer.status if e.answer.status >= 400 else 502
                return visit.render("refused.html", status=status, detail=e.answer.detail())
            except Exception as e:  # answered here: an app's 500 handler would raise it again
                return failed(request, e)

        endpoint.__name__ = handler.__name__
        endpoint.__doc__ = handler.__doc__
        return endpoint

    return wrap


async def page_failed(request: Request, exc: Exception) -> Response:
    """The areas' handler of an error outside a page handler (a page answers its own)."""
    return failed(request, exc)


def failed(request: Request, exc: Exception) -> Response:
    """A page that failed: a sentence and an incident number the log has the details of."""
    incident = uuid.uuid4().hex[:12]
    log.error("page error %s on %s", incident, request.method, exc_info=exc)
    pages: Pages = request.app.state.pages
    html = pages.env.get_template("failed.html").render(
        visit=None,
        session=PageSession.fresh(),
        csrf="",
        lang=language(),
        path="/",
        here="/",
        incident=incident,
    )
    return HTMLResponse(html, status_code=500)
