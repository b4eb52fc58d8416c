"""`GET /v1/me/notifications`: the citizen's own, newest first, in the request's language."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fpcredit.notify.outbox import enqueue
from fpcredit.store.db import utc_now
from tests.web.conftest import Web


def test_my_notifications_newest_first_in_my_language(web: Web) -> None:
    earlier = utc_now() - dt.timedelta(days=1)
    with web.store.engine.begin() as conn:
        old = enqueue(
            conn, "case_opened", person_id=web.inside.id, at=earlier,
            params={"case_id": 41, "case_kind": "objection"},
        )  # fmt: skip
        new = enqueue(
            conn, "grade_changed", person_id=web.inside.id,
            params={"as_of": "2026-06-30", "old_grade": "B", "new_grade": "A"},
        )  # fmt: skip
        other = enqueue(conn, "case_step", person_id=web.outside.id, params={"case_id": 7})
    headers = {**web.auth("citizen"), "Accept-Language": "en"}
    first = web.client.get("/v1/me/notifications", headers=headers).json()
    assert first["limit"] == 20 and first["offset"] == 0
    assert len(first["notifications"]) == min(first["total"], 20)
    # Other tests of the shared province notify this citizen too: read them all, page by page.
    everything = _all(web, headers)
    ids = [n["message_id"] for n in everything]
    assert len(set(ids)) == len(ids) == first["total"]
    assert ids.index(new) < ids.index(old)  # newest first
    assert other not in ids  # the other person's is not here
    mine = {n["message_id"]: n for n in everything}
    assert mine[new]["text"] == (
        "[FP credit] Your credit grade as of 2026-06-30 changed from B to A."
    )
    assert mine[new]["kind"] == "grade_changed" and mine[new]["delivered"] is False
    zh = _all(web, {**web.auth("citizen"), "Accept-Language": "zh-CN"})
    assert "信用等级由 B 调整为 A" in {n["message_id"]: n for n in zh}[new]["text"]
    page = web.client.get(
        "/v1/me/notifications", params={"limit": 1, "offset": 1}, headers=headers
    ).json()
    assert [n["message_id"] for n in page["notifications"]] == ids[1:2]
    bad = web.client.get("/v1/me/notifications", params={"limit": 0}, headers=headers)
    assert bad.status_code == 422
    refused = web.client.get("/v1/me/notifications", headers=web.auth("department"))
    assert refused.status_code == 403


def _all(web: Web, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every notification of the caller, newest first, read 100 at a time."""
    out: list[dict[str, Any]] = []
    while True:
        params = {"limit": 100, "offset": len(out)}
        page = web.client.get("/v1/me/notifications", params=params, headers=headers).json()
        out += page["notifications"]
        if not page["notifications"] or len(out) >= page["total"]:
            return out
