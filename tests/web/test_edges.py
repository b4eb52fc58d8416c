"""The service's edges (issue 21): headers, dates, citizen codes, limits per caller, files."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fpcredit.config import Settings
from fpcredit.guard.auth import accounts
from fpcredit.guard.auth.citizens import CodeQueue
from fpcredit.guard.auth.passwords import totp_code
from fpcredit.service import initialise
from fpcredit.store.db import utc_now
from fpcredit.web.app import create_app
from tests.web.conftest import AS_OF, NEW_PASSWORD, Web

HEADERS = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "content-security-policy": (
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "referrer-policy": "no-referrer",
}
UNFILED = "11010519491231002X"


def _secured(response: object) -> bool:
    headers = response.headers  # type: ignore[attr-defined]
    return all(headers.get(name) == value for name, value in HEADERS.items())


# --- headers -------------------------------------------------------------------------------


def test_every_answer_carries_the_security_headers(web: Web) -> None:
    """The probe of issue 21: personal answers had no Cache-Control or X-Content-Type-Options."""
    pid = web.inside.id
    answers = [
        web.client.get(f"/v1/persons/{pid}", params={"purpose": "supervision"},
                       headers=web.auth("national")),  # personal data, 200
        web.client.get("/v1/me", headers=web.auth("citizen")),
        web.client.get(f"/v1/persons/{pid}"),  # 401
        web.client.get(f"/v1/persons/{pid}", params={"purpose": "x"},
                       headers=web.auth("national")),  # 422
        web.client.get("/v1/persons/999999999", params={"purpose": "supervision"},
                       headers=web.auth("national")),  # 404
        web.client.get("/metrics"),
        web.client.get("/v1/audit/checkpoint"),
        web.client.post("/v1/auth/token", content=b"x" * 70_000,
                        headers={"content-type": "application/json"}),  # 413, from the limit
    ]  # fmt: skip
    assert [a.status_code for a in answers] == [200, 200, 401, 422, 404, 200, 200, 413]
    assert all(_secured(a) for a in answers), [dict(a.headers) for a in answers]
    # Once each: the middleware adds, it does not repeat.
    assert answers[0].headers.get_list("cache-control") == ["no-store"]


def test_an_internal_error_carries_the_headers_too(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 500 is answered by Starlette's outermost middleware, outside SecurityHeaders."""
    services = web.client.app.state.services  # type: ignore[attr-defined]

    def broken(person_id: int) -> None:
        raise RuntimeError("the results file went away")

    monkeypatch.setattr(services.results, "person", broken)
    client = TestClient(web.client.app, raise_server_exceptions=False)
    answer = client.get(
        f"/v1/persons/{web.inside.id}/credit",
        params={"purpose": "credit_evaluation"},
        headers=web.auth("national"),
    )
    assert answer.status_code == 500 and _secured(answer)


# --- dates ---------------------------------------------------------------------------------


@pytest.mark.parametrize("as_of", ["9999-12-31", "0001-01-01", "1949-09-30", "2999-01-01"])
def test_an_explanation_date_out_of_range_is_422_not_500(web: Web, as_of: str) -> None:
    """The probe of issue 21: these dates answered 500 on both explanation routes."""
    staff = web.client.get(
        f"/v1/persons/{web.inside.id}/explanation",
        params={"purpose": "credit_evaluation", "as_of": as_of},
        headers=web.auth("national"),
    )
    citizen = web.client.get(
        "/v1/me/explanation", params={"as_of": as_of}, headers=web.auth("citizen")
    )
    for answer in (staff, citizen):
        assert answer.status_code == 422, answer.text
        [problem] = answer.json()["detail"]
        assert problem["loc"] == ["query", "as_of"] and "1949-10-01" in problem["msg"]
        assert as_of not in answer.text  # the rejected value is not echoed


def test_an_explanation_date_in_range_is_answered(web: Web) -> None:
    for as_of in (AS_OF.isoformat(), "1949-10-01"):
        answer = web.client.get(
            "/v1/me/explanation", params={"as_of": as_of}, headers=web.auth("citizen")
        )
        assert answer.status_code in (200, 404), answer.text  # 404: nothing known that early


# --- citizen codes -------------------------------------------------------------------------


def test_a_code_request_is_answered_alike_before_any_lookup_even_with_a_full_queue(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe of issue 21: filed numbers were answered ~2 ms later than unfiled ones. Now
    the answer comes before the sender has looked anything up: here the sender is held back,
    and its queue (of one) is full after the first request."""
    identity = web.client.app.state.services.identity  # type: ignore[attr-defined]
    sent: list[str] = []
    monkeypatch.setattr(identity, "codes", CodeQueue(sent.append, size=1))
    with identity.codes.held():
        answers = [
            web.client.post("/v1/auth/citizen-code", json={"id_number": number})
            for number in (web.inside.id_number, UNFILED, web.outside.id_number, UNFILED)
        ]
        assert sent == []  # nothing looked up yet, every answer given
    identity.codes.drain()
    identity.codes.close()
    assert {a.status_code for a in answers} == {202}
    assert len({a.content for a in answers}) == 1
    assert identity.codes.dropped >= 1 and len(sent) == 4 - identity.codes.dropped
    bad = web.client.post("/v1/auth/citizen-code", json={"id_number": UNFILED[:-1] + "1"})
    assert bad.status_code == 422 and "check_digit" in bad.text


# --- limits per caller ---------------------------------------------------------------------


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        home=tmp_path / "home",
        rate_limit_per_s=0,  # no address limit: what bites here is the caller's identity
        rate_limit_subject_per_s=0.01,
        rate_limit_subject_burst=3,
        rate_limit_login_per_min=3,
        rate_limit_code_per_min=2,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
    )
    initialise(settings)
    app = create_app(settings)
    with TestClient(app) as client:
        yield client


def _staff_token(client: TestClient, username: str) -> str:
    services = client.app.state.services  # type: ignore[attr-defined]
    made = accounts.add_user(services.store, "county", "330106", username, NEW_PASSWORD,
                             settings=services.settings)  # fmt: skip
    body = {"grant_type": "password", "username": username, "password": NEW_PASSWORD,
            "totp": totp_code(made.totp_secret, utc_now())}  # fmt: skip
    answer = client.post("/v1/auth/token", json=body)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def _is_429(answer: object) -> bool:
    a = answer
    return (
        a.status_code == 429  # type: ignore[attr-defined]
        and int(a.headers["retry-after"]) >= 1  # type: ignore[attr-defined]
        and _secured(a)
    )


def test_an_authenticated_caller_is_limited_by_its_token_subject(limited: TestClient) -> None:
    one = {"Authorization": f"Bearer {_staff_token(limited, 'wangfang')}"}
    other = {"Authorization": f"Bearer {_staff_token(limited, 'lina')}"}
    url, purpose = "/v1/persons/1", {"purpose": "supervision"}
    statuses = [limited.get(url, params=purpose, headers=one).status_code for _ in range(3)]
    assert statuses == [404, 404, 404]  # an empty store: no such person
    assert _is_429(limited.get(url, params=purpose, headers=one))
    assert limited.get(url, params=purpose, headers=other).status_code == 404


def test_logins_are_limited_by_the_name_tried_from_any_address(limited: TestClient) -> None:
    def staff(name: str) -> object:
        return limited.post("/v1/auth/token", json={
            "grant_type": "password", "username": name, "password": "Wrong#pass1",
            "totp": "000000"})  # fmt: skip

    def client(client_id: str) -> object:
        return limited.post("/v1/auth/token", json={
            "grant_type": "client_credentials", "client_id": client_id,
            "client_secret": "x"})  # fmt: skip

    def citizen(number: str) -> object:
        return limited.post("/v1/auth/token", json={
            "grant_type": "citizen_code", "id_number": number, "code": "123456"})  # fmt: skip

    for attempt in (staff, client, citizen):
        name = {staff: "zhaolei", client: "health-0000", citizen: UNFILED}[attempt]
        first = [attempt(name).status_code for _ in range(3)]  # type: ignore[attr-defined]
        assert first == [401, 401, 401]
        assert _is_429(attempt(name))
    assert staff("Zhaolei ").status_code == 429  # the same name, written otherwise
    assert staff("sunli").status_code == 401  # another name is not held back


def test_citizen_codes_are_limited_by_the_id_number(limited: TestClient) -> None:
    def ask(number: str) -> object:
        return limited.post("/v1/auth/citizen-code", json={"id_number": number})

    assert [ask(UNFILED).status_code for _ in range(2)] == [202, 202]  # type: ignore[attr-defined]
    assert _is_429(ask(UNFILED.lower()))  # the same number
    assert ask("110105194912310038").status_code == 202  # type: ignore[attr-defined]


# --- files ---------------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FPCREDIT_HOME": str(home), "FPCREDIT_LANGUAGE": "en"}
    return subprocess.run(
        [sys.executable, "-m", "fpcredit", *args],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip


def _copy_home(web: Web, folder: Path) -> Path:
    """A copy of the served home for the CLI: a second process must not open the live store
    while the app in this process runs (two SQLite libraries in one process; issue 21, item 1)."""
    home = folder / "home"
    (home / "evaluations").mkdir(parents=True)
    source = sqlite3.connect(web.settings.home / "fpcredit.db")
    copy = sqlite3.connect(home / "fpcredit.db")
    with copy:
        source.backup(copy)
    source.close()
    copy.close()
    shutil.copytree(web.settings.keys_dir, home / "keys")
    for results in (web.settings.home / "evaluations").glob("*.parquet"):
        shutil.copy2(results, home / "evaluations" / results.name)
    return home


@pytest.mark.slow
def test_the_home_results_and_exports_are_readable_by_their_owner_only(
    web: Web, tmp_path: Path
) -> None:
    """The probe of issue 21: the home was 0755, results files and exports 0644."""
    assert _mode(web.settings.home) == 0o700
    results = list((web.settings.home / "evaluations").glob("*.parquet"))
    assert results and all(_mode(p) == 0o600 for p in results)
    home = _copy_home(web, tmp_path / "copy")
    away = tmp_path / "away"
    outside, inside = away / "scores.csv", home / "exports" / "scores.parquet"
    for out in (outside, inside):
        done = _cli(home, "export", "scores", "--as-of", AS_OF.isoformat(), "--out", str(out),
                    "--purpose", "supervision")  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert _mode(out) == 0o600
        warned = "outside the protected folder" in done.stderr
        assert warned == (out == outside), done.stderr
    links = away / "links.csv"
    done = _cli(home, "export", "links", "--out", str(links), "--purpose", "record_linkage")
    assert done.returncode == 0, done.stderr
    assert _mode(links) == 0o600 and links.read_text().startswith("source,record_key")
    assert "outside the protected folder" in done.stderr
    assert sorted(p.name for p in away.iterdir()) == ["links.csv", "scores.csv"]
