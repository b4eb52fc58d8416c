"""Acceptance of the 国密 profile: a province moved to `gm` online, while another process reads
it, verifies and answers every lookup as before (person search by ID number and by name, the
citizen-code login, the person file, the explanation)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from fpcredit.config import Settings
from fpcredit.guard.access import Role
from fpcredit.guard.auth import accounts
from fpcredit.guard.auth.identity import Authenticator
from fpcredit.guard.auth.passwords import totp_code
from fpcredit.guard.keys.ciphers import HMAC_SM3, SM4_GCM
from fpcredit.guard.keys.crypto import load_vault, read_keyring
from fpcredit.guard.keys.rotate import encrypted_tables, rotate_keys
from fpcredit.guard.trail.verify import verify
from fpcredit.notify.sms import list_outbox
from fpcredit.service import load_province
from fpcredit.store import schema as s
from fpcredit.store.db import Store, utc_now
from fpcredit.synth import generate
from fpcredit.web.app import create_app
from tests.guard.gm_reader import answers

PEOPLE = 120
AS_OF = dt.date(2026, 6, 30)
PASSWORD = "Fp-credit-2026"
ROOT = Path(__file__).resolve().parents[2]


def _sample(store: Store, settings: Settings, n: int = 6) -> list[dict[str, Any]]:
    """Evaluated persons with an ID number and a phone (a citizen code can reach them)."""
    vault = load_vault(settings.keys_dir)
    p, m, lk = s.persons, s.mentions, s.links
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(p.c.id, p.c.id_number_enc, p.c.name_enc)
            .where(p.c.merged_into.is_(None), p.c.id_number_enc.is_not(None))
            .where(
                sa.exists()
                .where(lk.c.person_id == p.c.id, lk.c.mention_id == m.c.id)
                .where(m.c.phone_enc.is_not(None))
            )
            .order_by(p.c.id)
            .limit(n)
        ).all()
    return [
        {
            "person_id": int(r.id),
            "id_number": vault.decrypt(r.id_number_enc, "id_number"),
            "name": vault.decrypt(r.name_enc, "name"),
        }
        for r in rows
    ]


def _staff(client: TestClient, store: Store, settings: Settings) -> dict[str, str]:
    made = accounts.add_user(store, Role.NATIONAL, "000000", "zhao.min", settings=settings)
    body = {
        "grant_type": "password",
        "username": "zhao.min",
        "password": made.password,
        "new_password": PASSWORD,
        "totp": totp_code(made.totp_secret, utc_now()),
    }
    response = client.post("/v1/auth/token", json=body)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _over_http(client: TestClient, headers: dict[str, str], person: dict[str, Any]) -> Any:
    """The staff routes' answers about one person (each read lands on the trail)."""
    said: dict[str, Any] = {}
    for key in ("id_number", "name"):
        response = client.post(
            "/v1/persons/search",
            params={"purpose": "service_delivery"},
            json={key: person[key]},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        said[key] = response.json()
    pid = person["person_id"]
    for what, path, purpose in [
        ("file", f"/v1/persons/{pid}", "service_delivery"),
        ("explanation", f"/v1/persons/{pid}/explanation", "credit_evaluation"),
    ]:
        response = client.get(path, params={"purpose": purpose}, headers=headers)
        assert response.status_code == 200, response.text
        said[what] = response.json()
    return said


def _citizen_login(client: TestClient, store: Store, settings: Settings, number: str) -> Any:
    """Log in with a one-time code as the person filed under `number`; their own file."""
    sent = client.post("/v1/auth/citizen-code", json={"id_number": number})
    assert sent.status_code == 202, sent.text
    client.app.state.services.identity.codes.drain()  # type: ignore[attr-defined]
    message = list_outbox(store, load_vault(settings.keys_dir))[-1]["text"]
    code = re.search(r"\d{6}", message)
    assert code is not None
    body = {"grant_type": "citizen_code", "id_number": number, "code": code.group()}
    token = client.post("/v1/auth/token", json=body)
    assert token.status_code == 200, token.text
    mine = client.get("/v1/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert mine.status_code == 200, mine.text
    return mine.json()


def _start_reader(
    settings: Settings, tmp: Path, plan: list[dict[str, Any]]
) -> subprocess.Popen[str]:
    (tmp / "plan.json").write_text(json.dumps(plan))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    args = [str(settings.home), settings.database_url or "", str(tmp / "plan.json"),
            str(tmp / "read.json")]  # fmt: skip
    reader = subprocess.Popen(
        [sys.executable, "-m", "tests.guard.gm_reader", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert reader.stdout is not None
    assert reader.stdout.readline().strip() == "ready", (
        reader.stderr.read() if reader.stderr else ""
    )
    return reader


def _stop_reader(reader: subprocess.Popen[str], tmp: Path) -> dict[str, Any]:
    (tmp / "read.json.stop").touch()
    _, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err
    result: dict[str, Any] = json.loads((tmp / "read.json").read_text())
    return result


def _every_value_under(store: Store, settings: Settings, algorithm: str) -> None:
    ring = read_keyring(settings.keys_dir)
    assert ring.algorithm(ring.active) == algorithm and ring.keys.keys() == {ring.active}
    head = bytes((1, len(ring.active))) + ring.active.encode()
    with store.engine.connect() as conn:
        for et in encrypted_tables():
            for column in et.columns:
                for (blob,) in conn.execute(sa.select(column).where(column.is_not(None))):
                    assert bytes(blob).startswith(head)


@pytest.mark.slow
def test_a_province_moved_to_gm_while_read_verifies_and_answers_the_same(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"rate_limit_per_s": 0, "otp_resend_s": 0})
    generate(people=PEOPLE, seed=29, out=tmp_path / "feeds", until=AS_OF)
    load_province(settings, tmp_path / "feeds", AS_OF)
    people = _sample(store, settings)
    assert len(people) >= 3
    with TestClient(create_app(settings)) as client:
        headers = _staff(client, store, settings)
        before = [_over_http(client, headers, p) for p in people]
        mine_before = _citizen_login(client, store, settings, people[0]["id_number"])
        vault = load_vault(settings.keys_dir)
        auth = Authenticator(store, settings, vault=vault)
        plan = [{**p, "expect": answers(store, vault, auth, p)} for p in people]
        assert all(p["expect"]["by_id"] == [p["person_id"]] for p in plan)
        reader = _start_reader(settings, tmp_path, plan)
        try:
            report = rotate_keys(settings, store, profile="gm", batch_rows=40)
        finally:
            read = _stop_reader(reader, tmp_path)
        assert (report["profile"], report["kept"]) == ("gm", {})
        # The reader went through the move (both indexes asked for) and never missed anyone.
        assert ["gm", True] in read["seen"] and read["misses"] == [], read
        assert [_over_http(client, headers, p) for p in people] == before
        assert _citizen_login(client, store, settings, people[0]["id_number"]) == mine_before
    fresh = load_vault(settings.keys_dir)
    again = Authenticator(store, settings, vault=fresh)
    assert [answers(store, fresh, again, p) for p in people] == [p["expect"] for p in plan]
    _every_value_under(store, settings, SM4_GCM)
    assert read_keyring(settings.keys_dir).index == HMAC_SM3
    trail = verify(store, settings)
    assert trail["ok"] and trail["entries"] > 0, trail
