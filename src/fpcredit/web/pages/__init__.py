"""The pages: the citizen portal (/portal) and the staff console (/console), over the API.

Each area is a small app mounted on the service, sharing the templates (web/templates), the
static files (web/static, at /static) and the in-process API (pages/api.py). A page has no
access rule of its own in web/rules.py because it reads nothing itself: its data comes from the
API routes it calls with the visitor's token, each under that route's rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Final, cast

from fastapi import APIRouter, FastAPI
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from fpcredit.config import Settings
from fpcredit.messages import Language, language
from fpcredit.web.limits import ASGIApp
from fpcredit.web.pages import console, portal
from fpcredit.web.pages.api import Api
from fpcredit.web.pages.session import PageSession, Signer
from fpcredit.web.pages.visit import LANG_COOKIE, Pages, page_failed

__all__ = ["STATIC", "chosen_on_page", "mount_pages"]

STATIC: Final = Path(__file__).parent.parent / "static"


def _language_switch(area: str) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/lang")
    async def switch(request: Request) -> Response:
        """Choose the pages' language (a cookie), and go back to the page it was chosen on."""
        to = request.query_params.get("to", "zh")
        back = request.query_params.get("back", f"/{area}/")
        if not (back == "/" or back.startswith(f"/{area}/")) or "//" in back or "\\" in back:
            back = f"/{area}/"  # only a page of this area: never another site
        answer = RedirectResponse(back, status_code=303)
        answer.set_cookie(
            LANG_COOKIE, "en" if to == "en" else "zh", max_age=365 * 86400, path="/",
            secure=request.url.scheme == "https", httponly=True, samesite="lax",
        )  # fmt: skip
        return answer

    return router


def _area(pages: Pages, area: str, router: APIRouter) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.pages = pages
    app.include_router(router)
    app.include_router(_language_switch(area))
    app.add_exception_handler(Exception, page_failed)
    return app


def mount_pages(app: FastAPI, gated: ASGIApp, settings: Settings) -> None:
    """Mount the portal, the console and the static files on `app`; `gated` is the API as it
    is behind the gate (the pages' calls start there)."""
    pages = Pages(Api(gated, app), Signer(settings.keys_dir), settings.token_lifetime_s)
    # /portal (no slash) is redirected to /portal/ by the service's router.
    for area, module in (("portal", portal), ("console", console)):
        app.mount(f"/{area}", _area(pages, area, module.router))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False, response_class=HTMLResponse)
    async def front_door() -> HTMLResponse:
        """Where a person who opens the service lands: the portal or the console."""
        html = pages.env.get_template("front.html").render(
            session=PageSession.fresh(), csrf="", lang=language(), path="/", here="/"
        )
        return HTMLResponse(html)


def chosen_on_page(headers: Iterable[tuple[bytes, bytes]]) -> Language | None:
    """The language a visitor chose with the pages' switch (its cookie), if any."""
    for key, value in headers:
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                name, _, chosen = part.strip().partition("=")
                if name == LANG_COOKIE and chosen in ("zh", "en"):
                    return cast(Language, chosen)
    return None
