"""`service.seed_demo_accounts`: the demo's log-ins work, are written privately, survive a
second run; `fpcredit demo` prints them in the run's language."""

from __future__ import annotations

import datetime as dt
import json
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fpcredit.config import Settings
from fpcredit.guard.auth.clients import list_clients
from fpcredit.guard.auth.passwords import totp_code
from fpcredit.guard.keys.crypto import load_vault
from fpcredit.notify.sms import list_outbox
from fpcredit.service import (
    DEMO_ACCOUNTS_FILE,
    DemoAccounts,
    DemoStaff,
    load_province,
    open_ready_store,
    seed_demo_accounts,
)
from fpcredit.store.db import utc_now
from fpcredit.synth import generate
from fpcredit.web.app import create_app

AS_OF = dt.date(2026, 6, 30)
NEW_PASSWORD = "Fp-credit-2026"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, DemoAccounts]:
    tmp = tmp_path_factory.mktemp("demo")
    generate(people=300, seed=23, out=tmp / "feeds", until=AS_OF)
    settings = Settings(home=tmp / "home", notify_in_serve=False)
    load_province(settings, tmp / "feeds", AS_OF)
    return settings, seed_demo_accounts(settings)


@pytest.fixture
def client(seeded: tuple[Settings, DemoAccounts]) -> Iterator[TestClient]:
    with TestClient(create_app(seeded[0])) as served:
        yield served


def _staff_login(client: TestClient, staff: DemoStaff, new: str = NEW_PASSWORD) -> str:
    body = {
        "grant_type": "password",
        "username": staff.username,
        "password": staff.password,
        "totp": totp_code(staff.totp_secret, utc_now()),
        "new_password": new,  # the first login sets one: the platform's rule
    }
    response = client.post("/v1/auth/token", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _citizen_login(client: TestClient, settings: Settings, id_number: str, phone: str) -> None:
    sent = client.post("/v1/auth/citizen-code", json={"id_number": id_number})
    assert sent.status_code == 202, sent.text
    client.app.state.services.identity.codes.drain()  # type: ignore[attr-defined]
    store = open_ready_store(settings)
    try:
        mine = [m for m in list_outbox(store, load_vault(settings.keys_dir))
                if m["recipient"] == phone]  # fmt: skip
    finally:
        store.engine.dispose()
    code = re.search(r"\d{6}", mine[-1]["text"])
    assert code is not None
    body = {"grant_type": "citizen_code", "id_number": id_number, "code": code.group()}
    response = client.post("/v1/auth/token", json=body)
    assert response.status_code == 200, response.text


def test_the_seeded_accounts_are_the_ones_asked_for(seeded: tuple[Settings, DemoAccounts]) -> None:
    _settings, made = seeded
    county, province, auditor = (made.user(r) for r in ("county", "province", "auditor"))
    assert county.region[4:] != "00" and province.region == county.region[:2] + "0000"
    assert auditor.region == province.region
    assert made.client.purposes == ("incentive_verification",) and made.client.incentives
    kinds = [c.kind for c in made.citizens]
    assert kinds == ["best_a", "best_below_a", "other_county"]
    best, below, other = made.citizens
    assert best.grade == "A" and below.grade != "A" and other.region != county.region
    assert len({c.person_id for c in made.citizens}) == 3
    assert all("*" in c.name and "****" in c.phone for c in made.citizens)


def test_every_seeded_login_works(
    seeded: tuple[Settings, DemoAccounts], client: TestClient
) -> None:
    settings, made = seeded
    for staff in made.staff:
        token = _staff_login(client, staff)
        assert client.get("/v1/ping", headers={"Authorization": f"Bearer {token}"}).is_success
    body = {
        "grant_type": "client_credentials",
        "client_id": made.client.client_id,
        "client_secret": made.client.client_secret,
    }
    assert client.post("/v1/auth/token", json=body).status_code == 200
    for citizen in made.citizens:
        _citizen_login(client, settings, citizen.id_number, citizen.phone)


def test_the_accounts_file_is_private_and_holds_the_accounts(
    seeded: tuple[Settings, DemoAccounts],
) -> None:
    settings, made = seeded
    path = settings.home / DEMO_ACCOUNTS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text(encoding="utf-8")) == made.as_json()


def test_seeding_again_resets_the_accounts_and_they_still_work(
    seeded: tuple[Settings, DemoAccounts], client: TestClient
) -> None:
    settings, first = seeded
    again = seed_demo_accounts(settings)
    assert [s.username for s in again.staff] == [s.username for s in first.staff]
    assert all(a.password != b.password for a, b in zip(again.staff, first.staff, strict=True))
    assert again.citizens == first.citizens
    store = open_ready_store(settings)
    try:
        health = [c for c in list_clients(store) if c.source == "health"]
    finally:
        store.engine.dispose()
    assert [c.client_id for c in health if c.disabled_at is None] == [again.client.client_id]
    # A reset asks for a new password again (not one of the last five).
    _staff_login(client, again.user("county"), "Fp-credit-2027")
    saved = json.loads((settings.home / DEMO_ACCOUNTS_FILE).read_text(encoding="utf-8"))
    assert saved == again.as_json()


@pytest.mark.slow
def test_demo_prints_the_accounts_in_the_runs_language(tmp_path: Path) -> None:
    env = {"FPCREDIT_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "FPCREDIT_LANGUAGE": "en"}
    result = subprocess.run(
        [sys.executable, "-m", "fpcredit", "demo", "--people", "300", "--seed", "2", "--no-serve"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    printed = result.stdout.replace("\n", "")
    saved = json.loads((tmp_path / DEMO_ACCOUNTS_FILE).read_text(encoding="utf-8"))
    for step in ("1. synthetic province", "2. store ready", "4. linked", "6. demo accounts"):
        assert step in printed
    for staff in saved["staff"]:
        assert staff["password"] in printed and staff["totp_secret"] in printed
    assert saved["client"]["client_secret"] in printed
    assert all(c["id_number"] in printed for c in saved["citizens"])
    assert "fpcredit outbox list" in printed and "一次性密码" not in printed
