"""三员分立 over the API: each administrator's routes, none acting as another, logins and every
action on the trail, policy activation and the key rotation job."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from itertools import permutations
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from fpcredit.config import Settings
from fpcredit.evaluate.policy import default_policy_path
from fpcredit.guard.access import Role
from fpcredit.guard.auth import accounts, clients
from fpcredit.guard.auth.passwords import totp_code
from fpcredit.guard.trail.log import Trail
from fpcredit.service import initialise
from fpcredit.store import schema as s
from fpcredit.store.db import utc_now
from fpcredit.web.app import create_app
from fpcredit.web.rules import RULES
from tests.web.conftest import ADMIN_CALLERS, NEW_PASSWORD, NO_RATE_LIMITS, Web

USERNAMES = {label: name for label, (_role, name) in ADMIN_CALLERS.items()} | {"auditor": "auditor"}
ROLES = {"sysadmin": "sysadmin", "secadmin": "secadmin", "auditor": "auditor"}
POLICY = default_policy_path().read_text(encoding="utf-8")
ADDRESS = "testclient"  # the address Starlette's test client connects from


def _trail(web: Web) -> Trail:
    trail: Trail = web.client.app.state.services.trail  # type: ignore[attr-defined]
    return trail


def _since(web: Web, start: int) -> list[Any]:
    e = s.ledger_entries
    with web.store.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(e.c.actor, e.c.action, e.c.outcome, e.c.subject_hash, e.c.address)
                .where(e.c.idx >= start)
                # Table digests move with accounts and clients (trail/sealing.py): not actions.
                .where(sa.or_(e.c.state.is_(None), e.c.state != "digest"))
                .order_by(e.c.idx)
            )
        )


def _client_of(web: Web, source: str) -> str:
    for c in clients.list_clients(web.store):
        if c.source == source and c.disabled_at is None:
            clients.disable_client(web.store, c.client_id)
    return clients.add_client(web.store, source, ["data_quality"], settings=web.settings)[0]


def _duties(web: Web, label: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Calls that are `label`'s duty alone (a refused caller never gets past the gate)."""
    if label == "sysadmin":
        user = {"role": "county", "region": web.inside.county, "username": "pair.clerk"}
        return [
            ("GET", "/v1/admin/users", None),
            ("POST", "/v1/admin/users", user),
            ("POST", "/v1/admin/clients", {"source": "hrss", "purposes": ["data_quality"]}),
        ]
    if label == "secadmin":
        purposes = {"purposes": ["data_quality"]}
        return [
            ("PUT", f"/v1/admin/clients/{_client_of(web, 'civil')}/purposes", purposes),
            ("POST", "/v1/admin/keys/rotation", {}),
            ("GET", "/v1/admin/keys/rotation", None),
            ("POST", "/v1/admin/policies", {"text": POLICY, "reason": "not mine"}),
        ]
    return [("GET", "/v1/audit/entries?purpose=audit", None), ("GET", "/v1/audit/verify", None)]


def _account(web: Web, username: str) -> tuple[Any, ...]:
    """What a takeover would change: password, TOTP secret, disabled, and open sessions."""
    u, t = s.users, s.sessions
    with web.store.engine.connect() as conn:
        row = conn.execute(
            sa.select(u.c.password_hash, u.c.totp_secret_enc, u.c.disabled_at, u.c.role).where(
                u.c.username == username
            )
        ).one()
        open_ = conn.scalar(
            sa.select(sa.func.count()).where(t.c.subject == username, t.c.closed_at.is_(None))
        )
    return (*row, open_)


@pytest.mark.parametrize(
    ("who", "other"), list(permutations(["sysadmin", "secadmin", "auditor"], 2))
)
def test_no_administrator_can_act_as_another(web: Web, who: str, other: str) -> None:
    """Each of `other`'s duties is refused to `who` (and on the trail), and `who` cannot take
    over `other`'s login: password, TOTP secret, state and sessions stay as they were."""
    trail = _trail(web)
    account = _account(web, USERNAMES[other])
    actor = f"{ROLES[who]}:{USERNAMES[who]}"
    for method, url, body in _duties(web, other):
        start = trail.size()
        answer = web.client.request(method, url, json=body, headers=web.auth(who))
        assert answer.status_code == 403, (method, url, answer.text)
        assert (actor, "refused_role") in {(e.actor, e.outcome) for e in _since(web, start)}
    for step in ("reset", "disable", "enable"):
        start = trail.size()
        url = f"/v1/admin/users/{USERNAMES[other]}/{step}"
        answer = web.client.post(url, headers=web.auth(who))
        assert answer.status_code == 403, answer.text
        refused = [e for e in _since(web, start) if e.actor == actor]
        assert refused and refused[-1].outcome in {"refused_role", "refused_target"}
        assert refused[-1].address == ADDRESS
    assert _account(web, USERNAMES[other]) == account


def test_no_administrator_account_is_made_through_the_api(web: Web) -> None:
    trail = _trail(web)
    for role in ("sysadmin", "secadmin", "auditor"):
        start = trail.size()
        body = {"role": role, "region": "000000", "username": f"second.{role[:3]}"}
        answer = web.client.post("/v1/admin/users", json=body, headers=web.auth("sysadmin"))
        assert answer.status_code == 403, answer.text
        [entry] = [e for e in _since(web, start) if e.action == "user_add"]
        assert entry.outcome == "refused_target"
        assert entry.subject_hash == trail.subject_hash(f"user:second.{role[:3]}")


def _login(web: Web, username: str, password: str, secret: str) -> dict[str, str]:
    body = {"grant_type": "password", "username": username, "password": password,
            "totp": totp_code(secret, utc_now()), "new_password": NEW_PASSWORD}  # fmt: skip
    answer = web.client.post("/v1/auth/token", json=body)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_the_system_administrator_runs_a_clerks_account(
    web: Web, caplog: pytest.LogCaptureFixture
) -> None:
    """Made, used, disabled, enabled, reset: each on the trail with its target and address;
    the one-time secrets are in the answers and in no log line."""
    trail, admin = _trail(web), web.auth("sysadmin")
    start = trail.size()
    caplog.set_level(logging.DEBUG)
    body = {"role": "county", "region": web.inside.county, "username": "life.cycle"}
    made = web.client.post("/v1/admin/users", json=body, headers=admin)
    assert made.status_code == 201, made.text
    enrolled = made.json()
    assert enrolled["user"]["role"] == "county" and enrolled["user"]["must_change_password"]
    clerk = _login(web, "life.cycle", enrolled["password"], enrolled["totp_secret"])
    gone = web.client.post("/v1/admin/users/life.cycle/disable", headers=admin)
    assert gone.status_code == 200 and gone.json()["disabled_reason"] == "admin"
    assert web.client.post("/v1/auth/refresh", headers=clerk).status_code == 401
    back = web.client.post("/v1/admin/users/life.cycle/enable", headers=admin)
    assert back.status_code == 200 and back.json()["disabled_at"] is None
    reset = web.client.post("/v1/admin/users/life.cycle/reset", headers=admin).json()
    assert reset["password"] != enrolled["password"] and reset["user"]["role"] == "county"
    listed = web.client.get("/v1/admin/users", headers=admin).text
    assert "life.cycle" in listed and enrolled["password"] not in listed
    missing = web.client.post("/v1/admin/users/no.such.one/reset", headers=admin)
    assert missing.status_code == 404
    entries = [e for e in _since(web, start) if e.actor == "sysadmin:xitong.li"]
    assert [(e.action, e.outcome) for e in entries] == [
        ("user_add", "ok"), ("user_disable", "ok"), ("user_enable", "ok"), ("user_reset", "ok"),
        ("user_reset", "unknown_user"),
    ]  # fmt: skip
    target = trail.subject_hash("user:life.cycle")
    assert all(e.subject_hash == target and e.address == ADDRESS for e in entries[:4])
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (enrolled["password"], enrolled["totp_secret"], reset["password"]):
        assert secret not in logged


def test_clients_are_the_system_administrators_their_purposes_the_security_one(
    web: Web,
) -> None:
    sysadmin, secadmin = web.auth("sysadmin"), web.auth("secadmin")
    for c in clients.list_clients(web.store):
        if c.source == "police" and c.disabled_at is None:
            clients.disable_client(web.store, c.client_id)
    body = {"source": "police", "purposes": ["service_delivery"]}
    made = web.client.post("/v1/admin/clients", json=body, headers=sysadmin)
    assert made.status_code == 201, made.text
    client_id, secret = made.json()["client_id"], made.json()["client_secret"]
    again = web.client.post("/v1/admin/clients", json=body, headers=sysadmin)
    assert again.status_code == 409
    wanted = {"purposes": ["data_quality", "service_delivery"]}
    url = f"/v1/admin/clients/{client_id}/purposes"
    assert web.client.put(url, json=wanted, headers=sysadmin).status_code == 403
    changed = web.client.put(url, json=wanted, headers=secadmin)
    assert changed.status_code == 200 and changed.json()["purposes"] == wanted["purposes"]
    bad = web.client.put(url, json={"purposes": ["credit_evaluation"]}, headers=secadmin)
    assert bad.status_code == 422
    login = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    assert web.client.post("/v1/auth/token", json=login).status_code == 200
    done = web.client.post(f"/v1/admin/clients/{client_id}/disable", headers=sysadmin)
    assert done.status_code == 200 and done.json()["disabled_at"] is not None
    assert web.client.post("/v1/auth/token", json=login).status_code == 401
    listed = web.client.get("/v1/admin/clients", headers=secadmin)
    assert listed.status_code == 200 and secret not in listed.text


def test_a_policy_activated_over_the_api_is_the_one_explanations_use(web: Web) -> None:
    secadmin, trail = web.auth("secadmin"), _trail(web)
    start = trail.size()
    broken = web.client.post(
        "/v1/admin/policies", json={"text": "id: Nope\n", "reason": "x"}, headers=secadmin
    )
    assert broken.status_code == 422 and "version" in broken.text
    newer = POLICY.replace("version: 1.1.0", "version: 1.1.7", 1)
    explain = f"/v1/persons/{web.inside.id}/explanation"
    try:
        made = web.client.post(
            "/v1/admin/policies", json={"text": newer, "reason": "review"}, headers=secadmin
        )
        assert made.status_code == 201, made.text
        assert made.json()["activated_by"] == "secadmin:anquan.zhao"
        shown = web.client.get(
            explain, params={"purpose": "credit_evaluation"}, headers=web.auth("national")
        )
        assert shown.status_code == 200 and shown.json()["policy"]["version"] == "1.1.7"
    finally:  # the default again, for the other tests of the province
        web.client.post(
            "/v1/admin/policies", json={"text": POLICY, "reason": "back"}, headers=secadmin
        )
    listed = web.client.get("/v1/admin/policies", headers=web.auth("auditor")).json()
    assert [p["version"] for p in listed["policies"]][-2:] == ["1.1.7", "1.1.0"]
    mine = [(e.action, e.outcome) for e in _since(web, start) if e.actor.startswith("secadmin")]
    assert mine[:2] == [("policy_activate", "invalid"), ("policy_activate", "ok")]


def test_logins_are_on_the_trail(web: Web) -> None:
    """Every login, let in or not: the typed name where it is one, else only its hash."""
    trail = _trail(web)
    start = trail.size()
    wrong = {"grant_type": "password", "username": "National", "password": "x", "totp": "123456"}
    assert web.client.post("/v1/auth/token", json=wrong).status_code == 401
    typed = "13812345678"  # not a username: a phone number, typed by mistake
    odd = {**wrong, "username": typed}
    assert web.client.post("/v1/auth/token", json=odd).status_code == 401
    client = {"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"}
    assert web.client.post("/v1/auth/token", json=client).status_code == 401
    made = accounts.add_user(web.store, Role.NATIONAL, "000000", "deng.lu", settings=web.settings)
    assert made.password is not None
    _login(web, "deng.lu", made.password, made.totp_secret)
    entries = _since(web, start)
    assert [(e.actor, e.action, e.outcome, e.address) for e in entries] == [
        ("staff:national", "login", "bad_credentials", ADDRESS),
        ("staff:-", "login", "bad_credentials", ADDRESS),
        ("department:-", "login", "bad_credentials", ADDRESS),
        ("national:deng.lu", "login", "ok", ADDRESS),
    ]
    assert entries[1].subject_hash == trail.subject_hash(f"user:{typed}")
    assert entries[3].subject_hash == trail.subject_hash("user:deng.lu")
    assert all(typed not in str(e) for e in entries)


def test_a_citizen_sees_logins_to_their_file(web: Web) -> None:
    trail = _trail(web)
    first = trail.for_subject(str(web.inside.id)).entries
    assert any(
        (p.entry.action, p.entry.outcome, p.entry.actor)
        == ("login", "ok", f"citizen:{web.inside.id}")
        for p in first
    )
    guess = {"grant_type": "citizen_code", "id_number": web.inside.id_number, "code": "000000"}
    assert web.client.post("/v1/auth/token", json=guess).status_code == 401
    log = web.client.get("/v1/me/access-log", headers=web.auth("citizen")).json()
    newest = [(e["actor"], e["action"], e["outcome"]) for e in log["entries"][:2]]
    assert ("citizen:-", "login", "bad_code") in newest  # after the read of the log itself


def test_nothing_edits_or_deletes_the_trail() -> None:
    """The trail's routes only read; no route of the service deletes anything."""
    assert all(m == "GET" for (m, path) in RULES if path.startswith("/v1/audit"))
    assert not [key for key in RULES if key[0] in ("DELETE", "PATCH")]
    from typer.main import get_command

    from fpcredit.cli import app

    audit = get_command(app).commands["audit"]  # type: ignore[attr-defined]
    assert set(audit.commands) == {"verify", "checkpoint"}


# -- the key rotation job, on a store of its own ---------------------------------------------


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    settings = Settings(home=tmp_path / "home", **NO_RATE_LIMITS)
    initialise(settings)
    app = create_app(settings)
    with TestClient(app) as client:
        store = app.state.services.store
        made = accounts.add_user(store, Role.SECADMIN, "000000", "anquan.qian", settings=settings)
        assert made.password is not None
        body = {"grant_type": "password", "username": "anquan.qian", "password": made.password,
                "totp": totp_code(made.totp_secret, utc_now()),
                "new_password": NEW_PASSWORD}  # fmt: skip
        token = client.post("/v1/auth/token", json=body).json()["access_token"]
        yield client, {"Authorization": f"Bearer {token}"}


def test_a_key_rotation_runs_in_the_background(
    secured: tuple[TestClient, dict[str, str]],
) -> None:
    client, headers = secured
    idle = client.get("/v1/admin/keys/rotation", headers=headers)
    assert idle.status_code == 200 and idle.json()["state"] == "idle"
    started = client.post("/v1/admin/keys/rotation", json={}, headers=headers)
    assert started.status_code == 202 and started.json()["state"] == "running"
    busy = client.post("/v1/admin/keys/rotation", json={}, headers=headers)
    assert busy.status_code == 409  # the rotation waits for every process to see its key
    job = client.app.state.rotation  # type: ignore[attr-defined]
    assert job.wait(60).state == "done"
    done = client.get("/v1/admin/keys/rotation", headers=headers).json()
    assert done["started_by"] == "secadmin:anquan.qian" and done["report"]["key_id"]
    trail: Trail = client.app.state.services.trail  # type: ignore[attr-defined]
    entries = [trail.entry(i) for i in range(trail.size())]
    rotation = [(e.actor, e.outcome, e.address) for e in entries if e.action == "key_rotate"]
    assert rotation == [
        ("secadmin:anquan.qian", "started", ADDRESS),
        ("secadmin:anquan.qian", "ok", ADDRESS),
    ]
