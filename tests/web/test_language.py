"""Each request reads its own language: Accept-Language, else FPCREDIT_LANGUAGE."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx

from fpcredit.config import Settings
from fpcredit.guard.keys.crypto import load_vault
from fpcredit.notify.sms import list_outbox
from fpcredit.service import initialise
from fpcredit.web.app import create_app
from tests.web.conftest import NO_RATE_LIMITS, Web, codes_may_be_sent

_CJK = re.compile(r"[\u4e00-\u9fff]")
# Refused after an Argon2 check in the thread pool: the answers of one batch interleave.
_UNKNOWN_CLIENT = {"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"}


def _ask(settings: Settings, languages: list[str | None]) -> list[httpx.Response]:
    app = create_app(settings)

    async def run() -> list[httpx.Response]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://fpcredit") as c:

                async def one(lang: str | None) -> httpx.Response:
                    headers: dict[str, Any] = {} if lang is None else {"Accept-Language": lang}
                    return await c.post("/v1/auth/token", json=_UNKNOWN_CLIENT, headers=headers)

                return await asyncio.gather(*(one(lang) for lang in languages))

    return asyncio.run(run())


def test_requests_served_at_once_read_their_own_language(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, **NO_RATE_LIMITS)  # type: ignore[arg-type]
    initialise(settings)
    languages: list[str | None] = ["en-US,en;q=0.9", "zh-CN", None] * 6
    answers = _ask(settings, languages)
    for lang, r in zip(languages, answers, strict=True):
        assert r.status_code == 401, r.text
        detail = r.json()["detail"]
        if lang is not None and lang.startswith("en"):
            assert not _CJK.search(detail), detail
        else:
            assert _CJK.search(detail), detail  # asked for zh, or the default


def test_the_app_speaks_fpcredit_language_when_the_caller_names_none(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, language="en", **NO_RATE_LIMITS)  # type: ignore[arg-type]
    initialise(settings)
    plain, chinese = _ask(settings, [None, "zh"])
    assert not _CJK.search(plain.json()["detail"])
    assert _CJK.search(chinese.json()["detail"])


def test_a_citizen_code_is_texted_in_the_language_it_was_asked_in(web: Web) -> None:
    # Sent later by a worker thread, which has no request of its own: the language travels
    # with the request in the queue.
    number = web.outside.id_number
    codes_may_be_sent(web, web.outside.id)
    sent = web.client.post(
        "/v1/auth/citizen-code", json={"id_number": number}, headers={"Accept-Language": "en"}
    )
    assert sent.status_code == 202, sent.text
    web.client.app.state.services.identity.codes.drain()  # type: ignore[attr-defined]
    message = list_outbox(web.store, load_vault(web.settings.keys_dir))[-1]["text"]
    assert re.search(r"\d{6}", message)
    assert not _CJK.search(message), message
