"""`GET /v1/me/notifications`: the citizen's own, newest first, in the request's language."""

from __future__ import annotations

import datetime as dt

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
    # Other tests of the shared province notify this citizen too: read them all.
    got = web.client.get("/v1/me/notifications", params={"limit": 100}, headers=headers).json()
    ids = [n["message_id"] for n in got["notifications"]]
    assert got["total"] == len(ids) < 100
    assert ids.index(new) < ids.index(old)  # newest first
    assert set(ids).isdisjoint({other})  # the other person's is not here
    mine = {n["message_id"]: n for n in got["notifications"]}
    assert mine[new]["text"] == (
        "[FP credit] Your credit grade as of 2026-06-30 changed from B to A."
    )
    assert mine[new]["kind"] == "grade_changed" and mine[new]["delivered"] is False
    zh = web.client.get(
        "/v1/me/notifications",
        params={"limit": 100},
        headers={**web.auth("citizen"), "Accept-Language": "zh-CN"},
    ).json()
    assert "信用等级由 B 调整为 A" in {n["message_id"]: n for n in zh["notifications"]}[new]["text"]
    page = web.client.get(
        "/v1/me/notifications", params={"limit": 1, "offset": 1}, headers=headers
    ).json()
    assert [n["message_id"] for n in page["notifications"]] == ids[1:2]
    bad = web.client.get("/v1/me/notifications", params={"limit": 0}, headers=headers)
    assert bad.status_code == 422
    refused = web.client.get("/v1/me/notifications", headers=web.auth("department"))
    assert refused.status_code == 403
