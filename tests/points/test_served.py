"""The points routes against the running app, on SQLite and PostgreSQL: 200 concurrent
redemptions of one balance (replays among them), the Idempotency-Key rules, cancellation."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from fpcredit.config import Settings
from fpcredit.evaluate.active import activate
from fpcredit.evaluate.policy import default_policy_path
from fpcredit.guard.access import ROLE_PURPOSES, Role
from fpcredit.guard.auth import clients
from fpcredit.guard.keys.crypto import load_vault
from fpcredit.guard.trail.log import Trail
from fpcredit.guard.trail.verify import verify
from fpcredit.incentives import points as ledger
from fpcredit.notify.sms import list_outbox
from fpcredit.service import load_province
from fpcredit.store import schema as s
from fpcredit.store.db import Store, open_store
from fpcredit.synth import generate
from fpcredit.web.app import create_app
from tests.conftest import PG_ADMIN_URL, _pg_available

AS_OF = dt.date(2026, 6, 30)
REQUESTS = 200
DISTINCT = 150  # keys; the other 50 requests replay some of them
NO_RATE_LIMITS = {"rate_limit_per_s": 0, "rate_limit_subject_per_s": 0,
                  "rate_limit_login_per_min": 0, "rate_limit_code_per_min": 0}  # fmt: skip


@dataclass
class Served:
    settings: Settings
    store: Store
    client: TestClient
    person: int
    citizen: dict[str, str]
    department: dict[str, str]  # the health department's client
    other: dict[str, str]  # the cdc department's client
    providers: dict[str, dict[str, str]] = field(default_factory=dict)

    def provider(self, source: str) -> dict[str, str]:
        """A bearer header of a client of department `source` (made once)."""
        if source not in self.providers:
            token = _client(self.client, self.store, self.settings, source)
            self.providers[source] = {"Authorization": f"Bearer {token}"}
        return self.providers[source]


def _citizen(client: TestClient, store: Store, settings: Settings, number: str) -> str:
    assert client.post("/v1/auth/citizen-code", json={"id_number": number}).status_code == 202
    client.app.state.services.identity.codes.drain()  # type: ignore[attr-defined]
    message = list_outbox(store, load_vault(settings.keys_dir))[-1]["text"]
    code = re.search(r"\d{6}", message)
    assert code is not None
    body = {"grant_type": "citizen_code", "id_number": number, "code": code.group()}
    response = client.post("/v1/auth/token", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _client(client: TestClient, store: Store, settings: Settings, source: str) -> str:
    cid, secret = clients.add_client(
        store, source, ROLE_PURPOSES[Role.DEPARTMENT], settings=settings
    )
    body = {"grant_type": "client_credentials", "client_id": cid, "client_secret": secret}
    response = client.post("/v1/auth/token", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _richest(store: Store, settings: Settings) -> tuple[int, str]:
    """The person with an ID number and a phone who has the most points."""
    p, m, lk, a, e = s.persons, s.mentions, s.links, s.points_accounts, s.points_entries
    with store.engine.connect() as conn:
        row = conn.execute(
            sa.select(p.c.id, p.c.id_number_enc, sa.func.sum(e.c.amount).label("points"))
            .join(a, a.c.person_id == p.c.id).join(e, e.c.account_id == a.c.id)
            .where(p.c.merged_into.is_(None), p.c.id_number_enc.is_not(None))
            .where(sa.exists().where(lk.c.person_id == p.c.id, lk.c.mention_id == m.c.id)
                   .where(m.c.phone_enc.is_not(None)))
            .group_by(p.c.id, p.c.id_number_enc).order_by(sa.desc("points"), p.c.id).limit(1)
        ).one()  # fmt: skip
    number = load_vault(settings.keys_dir).decrypt(row.id_number_enc, "id_number")
    assert number
    return int(row.id), number


def _price_policy(store: Store, settings: Settings, price: int) -> None:
    """Activate the default policy with one more redeemable at `price` (health provides it)."""
    text = default_policy_path().read_text(encoding="utf-8")
    extra = ("  - {id: load_test, name: {zh: 并发测试服务, en: Load test service}, "
             f"department: health, price: {price}, valid_from: 2026-01-01}}\n")  # fmt: skip
    activate(store, (text.rstrip("\n") + "\n" + extra).encode(), actor="secadmin:t",
             reason="points test", keys_dir=settings.keys_dir)  # fmt: skip


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp(f"points-{request.param}")
    url = None
    if request.param == "postgres":
        if not _pg_available():
            pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}")
        url = request.getfixturevalue("pg_database")
        st = open_store(Settings(home=tmp / "scratch", database_url=url))
        st.upgrade()
        names = ", ".join(t.name for t in s.metadata.sorted_tables)
        with st.engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        st.engine.dispose()
    feeds = tmp / "feeds"
    generate(people=60, seed=31, out=feeds, until=AS_OF)
    settings = Settings(home=tmp / "home", database_url=url, **NO_RATE_LIMITS)
    load_province(settings, feeds, AS_OF)
    app = create_app(settings)
    with TestClient(app) as client:
        store = app.state.services.store
        person, number = _richest(store, settings)
        citizen = {"Authorization": f"Bearer {_citizen(client, store, settings, number)}"}
        health = {"Authorization": f"Bearer {_client(client, store, settings, 'health')}"}
        cdc = {"Authorization": f"Bearer {_client(client, store, settings, 'cdc')}"}
        w = Served(settings, store, client, person, citizen, health, cdc)
        w.providers.update(health=health, cdc=cdc)
        yield w


def _balance(w: Served) -> int:
    response = w.client.get("/v1/me/points", headers=w.citizen)
    assert response.status_code == 200, response.text
    return int(response.json()["balance"])


def _redeem(w: Served, key: str | None, redeemable: str = "load_test") -> httpx.Response:
    headers = dict(w.citizen)
    if key is not None:
        headers["Idempotency-Key"] = key
    response: httpx.Response = w.client.post(
        "/v1/me/redemptions", json={"redeemable": redeemable}, headers=headers
    )
    return response


def _trail_ok(w: Served) -> bool:
    trail = Trail(w.store, w.settings)
    return bool(verify(w.store, w.settings, verifier_key=trail.verifier_key())["ok"])


def test_200_concurrent_redemptions_of_one_balance(served: Served) -> None:
    w = served
    start = _balance(w)
    assert start >= 50, start
    price = max(1, start // 25)
    _price_policy(w.store, w.settings, price)
    keys = [f"load-{uuid.uuid4().hex}" for _ in range(DISTINCT)]
    sent = keys + keys[: REQUESTS - DISTINCT]  # 50 replays, racing their first sending
    with ThreadPoolExecutor(max_workers=24) as pool:
        answers = list(pool.map(lambda k: (k, _redeem(w, k)), sent))
    statuses = Counter(r.status_code for _, r in answers)
    assert set(statuses) <= {201, 409}, statuses
    by_key: dict[str, set[Any]] = {}
    for key, response in answers:
        by_key.setdefault(key, set()).add(
            (response.status_code, response.json().get("redemption_id"))
        )
    applied = {k for k, seen in by_key.items() if any(code == 201 for code, _ in seen)}
    # Each key applied once: every answer of a key that was applied names the same redemption.
    for key in applied:
        assert len(by_key[key]) == 1, by_key[key]
    with w.store.engine.connect() as conn:
        rows = (
            conn.execute(
                sa.select(s.points_redemptions.c.idempotency_key)
                .where(s.points_redemptions.c.person_id == w.person)
                .where(s.points_redemptions.c.redeemable_id == "load_test")
            )
            .scalars()
            .all()
        )
        assert ledger.balances_agree(conn)
    assert sorted(rows) == sorted(applied) and len(rows) == start // price
    end = _balance(w)
    assert end == start - price * len(rows) and 0 <= end < price
    assert _trail_ok(w)
    # Replayed afterwards, every applied key answers what it first answered.
    for key in list(applied)[:10]:
        again = _redeem(w, key)
        assert again.status_code == 201 and {(201, again.json()["redemption_id"])} == by_key[key]


def test_the_idempotency_key_rules(served: Served) -> None:
    w = served
    missing = _redeem(w, None)
    assert missing.status_code == 400 and "Idempotency-Key" in missing.json()["detail"]
    assert _redeem(w, "short").status_code == 400
    assert _redeem(w, "x" * 65).status_code == 400
    assert _redeem(w, "x" * 500).status_code == 400
    assert _redeem(w, "bad key with spaces").status_code == 400
    assert _redeem(w, "key-unknown-1", "no_such_service").status_code == 422
    key = f"key-{uuid.uuid4().hex}"
    first = _redeem(w, key, "parenting_course")
    if first.status_code == 201:  # a balance of 20 at least: the key now binds this body
        assert _redeem(w, key, "parenting_course").json() == first.json()
        assert _redeem(w, key, "home_vaccination_visit").status_code == 409
    else:
        assert first.status_code == 409 and "20" in first.json()["detail"]


def test_cancellation_by_the_providing_department(served: Served) -> None:
    w = served
    made = _redeem(w, f"cancel-{uuid.uuid4().hex}", "parenting_course")
    r = s.points_redemptions
    with w.store.engine.connect() as conn:
        row = conn.execute(
            sa.select(r.c.id, r.c.department).where(r.c.person_id == w.person)
            .order_by(r.c.id.desc()).limit(1)
        ).first()  # fmt: skip
    assert row is not None, made.text  # this one, or one of the concurrent test's
    rid, department = int(row.id), str(row.department)
    before = _balance(w)
    url = f"/v1/redemptions/{rid}/cancel"
    stranger = "civil" if department != "civil" else "cdc"
    assert w.client.post(url, headers=w.provider(stranger)).status_code == 403
    assert w.client.post(url, headers=w.citizen).status_code == 403
    first = w.client.post(url, headers=w.provider(department))
    assert first.status_code == 200, first.text
    again = w.client.post(url, headers=w.provider(department))
    assert again.status_code == 200 and again.json() == first.json()
    after = w.client.get("/v1/me/points", params={"limit": 1}, headers=w.citizen).json()
    assert after["balance"] == before + first.json()["refunded"]
    assert after["entries"][0]["kind"] == "reversal"
    assert after["entries"][0]["redemption_id"] == rid
    missing = w.client.post("/v1/redemptions/999999999/cancel", headers=w.department)
    assert missing.status_code == 404
    assert _trail_ok(w)


def test_entries_are_paged_newest_first(served: Served) -> None:
    w = served
    seen: list[int] = []
    before = None
    while True:
        params: dict[str, Any] = {"limit": 7} | ({"before": before} if before else {})
        page = w.client.get("/v1/me/points", params=params, headers=w.citizen).json()
        seen += [e["entry_id"] for e in page["entries"]]
        before = page["next_before"]
        if before is None:
            break
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen))
    with w.store.engine.connect() as conn:
        account = ledger.account_of(conn, person_id=w.person)
        assert len(seen) == conn.scalar(
            sa.select(sa.func.count()).where(s.points_entries.c.account_id == account)
        )


def test_the_catalogue_is_public(served: Served) -> None:
    response = served.client.get("/v1/redeemables")
    assert response.status_code == 200
    ids = [r["id"] for r in response.json()["redeemables"]]
    assert "prepregnancy_check_plus" in ids
