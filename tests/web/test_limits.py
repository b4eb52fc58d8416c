"""Request size and rate limits answer with their own status, before any route runs."""

from __future__ import annotations

from fastapi.testclient import TestClient

from fpcredit.config import Settings
from fpcredit.service import initialise
from fpcredit.web.app import create_app
from tests.web.conftest import Web


def test_a_body_over_the_limit_is_refused_with_413(web: Web) -> None:
    big = {"grant_type": "client_credentials", "client_id": "x" * 70_000, "client_secret": "y"}
    r = web.client.post("/v1/auth/token", json=big)
    assert r.status_code == 413
    assert "65536" in r.json()["detail"]


def test_a_streamed_body_over_the_limit_is_refused_too(web: Web) -> None:
    def chunks() -> object:
        for _ in range(100):
            yield b"x" * 1024

    r = web.client.post(
        "/v1/auth/token", content=chunks(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413, r.text


def test_a_client_over_its_rate_gets_429_with_retry_after(tmp_path: object) -> None:
    settings = Settings(home=tmp_path, rate_limit_per_s=1, rate_limit_burst=3)  # type: ignore[arg-type]
    initialise(settings)
    with TestClient(create_app(settings)) as client:
        statuses = [client.get("/v1/ping").status_code for _ in range(6)]
        assert statuses[:3] == [200, 200, 200]
        assert 429 in statuses[3:]
        limited = next(
            r for r in (client.get("/v1/ping") for _ in range(3)) if r.status_code == 429
        )
        assert int(limited.headers["retry-after"]) >= 1


def test_metrics_count_requests_by_route_template(web: Web) -> None:
    web.client.get(f"/v1/persons/{web.inside.id}", params={"purpose": "supervision"})
    text = web.client.get("/metrics").text
    assert 'route="/v1/persons/{person_id}"' in text
    assert f"/v1/persons/{web.inside.id}" not in text
