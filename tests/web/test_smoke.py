"""First requests: health, a staff read, a citizen's own credit."""

from __future__ import annotations

from tests.web.conftest import Web


def test_health_and_metrics(web: Web) -> None:
    assert web.client.get("/healthz").json()["status"] == "ok"
    assert "fpcredit_http_requests" in web.client.get("/metrics").text


def test_county_clerk_reads_a_masked_file(web: Web) -> None:
    r = web.client.get(
        f"/v1/persons/{web.inside.id}",
        params={"purpose": "service_delivery"},
        headers=web.auth("county_in"),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["masked"] is True
    assert body["id_number"] != web.inside.id_number
    assert body["id_number"][:6] == web.inside.id_number[:6]


def test_citizen_sees_own_credit_and_access_log(web: Web) -> None:
    r = web.client.get("/v1/me/credit", headers=web.auth("citizen"))
    assert r.status_code == 200, r.text
    assert r.json()["person_id"] == web.inside.id
    log = web.client.get("/v1/me/access-log", headers=web.auth("citizen"))
    assert log.status_code == 200, log.text
    assert any(e["action"] == "person_read" for e in log.json()["entries"])
