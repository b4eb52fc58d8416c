"""A small evaluated province served by the app, with a logged-in caller of every kind."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from fpcredit.config import Settings
from fpcredit.evaluate.active import active_policy
from fpcredit.evaluate.explain import explain
from fpcredit.guard.access import ROLE_PURPOSES, Role
from fpcredit.guard.auth import accounts, clients
from fpcredit.guard.auth.passwords import totp_code
from fpcredit.guard.keys.crypto import load_vault
from fpcredit.guard.masking import Dates
from fpcredit.notify.sms import list_outbox
from fpcredit.service import load_province
from fpcredit.store import schema as s
from fpcredit.store.db import Store, utc_now
from fpcredit.synth import generate
from fpcredit.web.app import create_app
from tests.leaks import KNOWN_NAMES, leaks, readable

PEOPLE = 300
AS_OF = dt.date(2026, 6, 30)
NEW_PASSWORD = "Fp-credit-2026"
TOKEN_REFRESH_S = 200  # well inside the 300-second token lifetime
# Every rate limit off: the matrix and Schemathesis send thousands of requests as one caller.
NO_RATE_LIMITS = {
    "rate_limit_per_s": 0,
    "rate_limit_subject_per_s": 0,
    "rate_limit_login_per_min": 0,
    "rate_limit_code_per_min": 0,
}


@dataclass
class Person:
    id: int
    id_number: str
    name: str
    county: str  # hukou region


@dataclass
class Web:
    settings: Settings
    store: Store
    client: TestClient
    inside: Person  # evaluated, has a phone: the person every route reads
    outside: Person  # another county, another city where the province has one
    truth_names: set[str]
    tokens: dict[str, str] = field(default_factory=dict)  # caller label → bearer token
    logins: dict[str, Callable[[], str]] = field(default_factory=dict)  # how to log in again
    issued: dict[str, float] = field(default_factory=dict)  # when each token was issued

    def auth(self, label: str) -> dict[str, str]:
        """A bearer header for `label`; tokens live 5 minutes, a slow run outlives them."""
        if time.monotonic() - self.issued[label] > TOKEN_REFRESH_S:
            self.tokens[label] = self.logins[label]()
            self.issued[label] = time.monotonic()
        return {"Authorization": f"Bearer {self.tokens[label]}"}

    def login(self, label: str, how: Callable[[], str]) -> None:
        self.logins[label] = how
        self.tokens[label] = how()
        self.issued[label] = time.monotonic()


def _province(tmp: Path) -> tuple[Settings, Path]:
    feeds = tmp / "feeds"
    generate(people=PEOPLE, seed=23, out=feeds, until=AS_OF)
    # No notification worker in the app: citizens' codes are read back from the SMS outbox.
    settings = Settings(home=tmp / "home", notify_in_serve=False, **NO_RATE_LIMITS)
    load_province(settings, feeds, AS_OF)
    return settings, feeds


def _pick(store: Store, settings: Settings) -> tuple[Person, Person]:
    """An evaluated person with a phone and an ID number, and one in another city or county."""
    vault = load_vault(settings.keys_dir)
    p, m, lk = s.persons, s.mentions, s.links
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(p.c.id, p.c.id_number_enc, p.c.name_enc, p.c.hukou_region)
            .where(p.c.merged_into.is_(None), p.c.id_number_enc.is_not(None))
            .where(p.c.hukou_region == p.c.residence_region)
            .where(
                sa.exists()
                .where(lk.c.person_id == p.c.id, lk.c.mention_id == m.c.id)
                .where(m.c.phone_enc.is_not(None))
            )
            .order_by(p.c.id)
        ).all()
    people = [
        Person(
            int(r.id),
            vault.decrypt(r.id_number_enc, "id_number") or "",
            vault.decrypt(r.name_enc, "name") or "",
            r.hukou_region,
        )
        for r in rows
    ]
    inside = people[0]
    others = [x for x in people if x.county[:4] != inside.county[:4]]
    others = others or [x for x in people if x.county != inside.county]
    return inside, others[0]


def _truth_names(feeds: Path) -> set[str]:
    import csv

    with (feeds / "truth" / "persons.csv").open(encoding="utf-8") as handle:
        return {row["name"] for row in csv.DictReader(handle) if len(row["name"]) >= 2}


def _login_staff(
    web: Web, label: str, role: Role, region: str, username: str | None = None
) -> None:
    name = username or label
    enrolment = accounts.add_user(web.store, role, region, name, settings=web.settings)
    password = {"now": enrolment.password}

    def login() -> str:
        body = {
            "grant_type": "password",
            "username": name,
            "password": password["now"],
            "totp": totp_code(enrolment.totp_secret, utc_now()),
        }
        if password["now"] != NEW_PASSWORD:
            body["new_password"] = NEW_PASSWORD
        response = web.client.post("/v1/auth/token", json=body)
        assert response.status_code == 200, response.text
        password["now"] = NEW_PASSWORD
        return str(response.json()["access_token"])

    web.login(label, login)


def _login_client(web: Web) -> None:
    """The health commission's client, registered to verify the incentives health provides."""
    policy = active_policy(web.store)
    client_id, secret = clients.add_client(
        web.store,
        "health",
        ROLE_PURPOSES[Role.DEPARTMENT],
        incentives=[i.id for i in policy.policy.incentives if i.department == "health"],
        catalogue={i.id: i.department for i in policy.policy.incentives},
        settings=web.settings,
    )

    def login() -> str:
        response = web.client.post(
            "/v1/auth/token",
            json={"grant_type": "client_credentials", "client_id": client_id,
                  "client_secret": secret},
        )  # fmt: skip
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    web.login("department", login)


def _login_citizen(web: Web) -> None:
    number = web.inside.id_number

    def login() -> str:
        sent = web.client.post("/v1/auth/citizen-code", json={"id_number": number})
        assert sent.status_code == 202, sent.text
        web.client.app.state.services.identity.codes.drain()  # type: ignore[attr-defined]
        message = list_outbox(web.store, load_vault(web.settings.keys_dir))[-1]["text"]
        code = re.search(r"\d{6}", message)
        assert code is not None
        response = web.client.post(
            "/v1/auth/token",
            json={"grant_type": "citizen_code", "id_number": number, "code": code.group()},
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    web.login("citizen", login)


# Callers of the matrix: label → (role, region relative to the person read: in or out).
STAFF_CALLERS: dict[str, tuple[Role, str]] = {
    "national": (Role.NATIONAL, "in"),
    "province_in": (Role.PROVINCE, "in"),
    "province_out": (Role.PROVINCE, "out"),
    "city_in": (Role.CITY, "in"),
    "city_out": (Role.CITY, "out"),
    "county_in": (Role.COUNTY, "in"),
    "county_out": (Role.COUNTY, "out"),
    "auditor": (Role.AUDITOR, "in"),
}
# The system and security administrators (三员分立; the auditor above is the third): label →
# (role, username). Their labels hold the reserved word "admin", which no username may.
ADMIN_CALLERS: dict[str, tuple[Role, str]] = {
    "sysadmin": (Role.SYSADMIN, "xitong.li"),
    "secadmin": (Role.SECADMIN, "anquan.zhao"),
}


def _region(role: Role, where: str, inside: Person, outside: Person) -> str:
    if role in (Role.NATIONAL, Role.AUDITOR):
        return "000000"
    if role is Role.PROVINCE:
        return inside.county[:2] + "0000" if where == "in" else "110000"
    person = inside if where == "in" else outside
    return person.county[:4] + "00" if role is Role.CITY else person.county


def revealed(url: str) -> bool:
    """Whether a request asked for identifiers in clear (the only answers that may hold them)."""
    return "reveal=true" in url.lower()


def _sent(request: httpx.Request) -> str:
    from urllib.parse import unquote

    return unquote(str(request.url)) + request.content.decode("utf-8", "replace")


def _scan(response: httpx.Response) -> None:
    """The leak scan over responses: nothing but an explicit reveal shows an identifier."""
    response.read()
    if not revealed(str(response.request.url)):
        request = response.request
        shown = readable(response.headers.get("content-type", ""), response.content)
        found = leaks(shown, sent=_sent(request))
        assert not found, f"{response.request.method} {response.request.url.path}: {found}"


@pytest.fixture(scope="session")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    tmp = tmp_path_factory.mktemp("web")
    settings, feeds = _province(tmp)
    app = create_app(settings)
    with TestClient(app) as client:
        client.event_hooks["response"] = [_scan]
        store = app.state.services.store
        inside, outside = _pick(store, settings)
        w = Web(settings, store, client, inside, outside, _truth_names(feeds))
        KNOWN_NAMES.update(w.truth_names)
        for label, (role, where) in STAFF_CALLERS.items():
            _login_staff(w, label, role, _region(role, where, inside, outside))
        for label, (role, username) in ADMIN_CALLERS.items():
            _login_staff(w, label, role, "000000", username)
        _login_client(w)
        _login_citizen(w)
        yield w


class ExplainedHere:
    """The service's explainer computed in the test's own process, so that a test may patch the
    engine under it (tests/web/test_explainer.py checks the workers answer alike)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def explain(self, person_id: int, as_of: dt.date, dates: Dates) -> dict[str, Any]:
        return explain(self.store, active_policy(self.store), person_id, as_of, dates)


@pytest.fixture
def explained_here(web: Web) -> Iterator[None]:
    """Explanations of the `web` app computed in this process for the test's length."""
    services = web.client.app.state.services  # type: ignore[attr-defined]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(services, "explainer", ExplainedHere(web.store))
        yield


def codes_may_be_sent(web: Web, person_id: int) -> None:
    """Move a person's earlier login codes out of the resend interval: other tests of the
    session ask codes for the same citizens, and a code asked within the interval is not sent
    (a test reading the outbox's newest code would read an old one)."""
    codes = s.citizen_codes
    with web.store.engine.begin() as conn:
        conn.execute(
            codes.update()
            .where(codes.c.person_id == person_id)
            .values(created_at=dt.datetime(2000, 1, 1))
        )
