"""The authorisation matrix, generated from the route table: every route × caller × purpose."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI

from fpcredit.errors import ConfigError
from fpcredit.guard.access import ROLE_PURPOSES, Purpose, Role
from fpcredit.web.app import check_rules, create_app
from fpcredit.web.rules import RULES, Rule
from tests.web.conftest import STAFF_CALLERS, Web


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    params: dict[str, Any]
    body: dict[str, Any] | None = None
    ok: int = 200


# How to call each route; a route added to the table without an entry here fails the test.
BUILDERS: dict[tuple[str, str], Callable[[Web], Call]] = {
    ("GET", "/healthz"): lambda w: Call("GET", "/healthz", {}),
    ("GET", "/metrics"): lambda w: Call("GET", "/metrics", {}),
    ("GET", "/v1/ping"): lambda w: Call("GET", "/v1/ping", {}),
    ("POST", "/v1/auth/token"): lambda w: Call(
        "POST",
        "/v1/auth/token",
        {},
        {"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"},
        ok=401,
    ),
    ("POST", "/v1/auth/citizen-code"): lambda w: Call(
        "POST", "/v1/auth/citizen-code", {}, {"id_number": "11010519491231002X"}, ok=202
    ),
    ("POST", "/v1/auth/refresh"): lambda w: Call("POST", "/v1/auth/refresh", {}),
    ("POST", "/v1/auth/logout"): lambda w: Call("POST", "/v1/auth/logout", {}),
    ("POST", "/v1/persons/search"): lambda w: Call(
        "POST", "/v1/persons/search", {}, {"id_number": w.inside.id_number}
    ),
    ("GET", "/v1/persons/{person_id}"): lambda w: Call("GET", f"/v1/persons/{w.inside.id}", {}),
    ("GET", "/v1/persons/{person_id}/credit"): lambda w: Call(
        "GET", f"/v1/persons/{w.inside.id}/credit", {}
    ),
    ("GET", "/v1/persons/{person_id}/explanation"): lambda w: Call(
        "GET", f"/v1/persons/{w.inside.id}/explanation", {}
    ),
    ("GET", "/v1/me"): lambda w: Call("GET", "/v1/me", {}),
    ("GET", "/v1/me/credit"): lambda w: Call("GET", "/v1/me/credit", {}),
    ("GET", "/v1/me/explanation"): lambda w: Call("GET", "/v1/me/explanation", {}),
    ("GET", "/v1/me/access-log"): lambda w: Call("GET", "/v1/me/access-log", {}),
    ("GET", "/v1/audit/checkpoint"): lambda w: Call("GET", "/v1/audit/checkpoint", {}),
    ("GET", "/v1/audit/proof/inclusion"): lambda w: Call(
        "GET", "/v1/audit/proof/inclusion", {"index": 0, "tree_size": 1}
    ),
    ("GET", "/v1/audit/proof/consistency"): lambda w: Call(
        "GET", "/v1/audit/proof/consistency", {"first": 1, "second": 1}
    ),
    ("GET", "/v1/audit/entries"): lambda w: Call("GET", "/v1/audit/entries", {"limit": 5}),
    ("GET", "/v1/audit/verify"): lambda w: Call("GET", "/v1/audit/verify", {}),
}

CALLERS: dict[str, tuple[Role | None, str]] = {
    "anonymous": (None, "in"),
    **{label: (role, where) for label, (role, where) in STAFF_CALLERS.items()},
    "department": (Role.DEPARTMENT, "in"),
    "citizen": (Role.CITIZEN, "in"),
}
# The session is closed by a logout, so the matrix only knocks on that door without a token.
_NO_TOKEN_ONLY = {("POST", "/v1/auth/logout")}


def expected(rule: Rule, role: Role | None, where: str, purpose: Purpose | None, ok: int) -> int:
    """The status the route table promises for a caller (the oracle of the matrix)."""
    if rule.public:
        return ok
    if role is None:
        return 401
    if role not in rule.roles:
        return 403
    if rule.personal:
        assert purpose is not None
        if purpose not in ROLE_PURPOSES[role]:
            return 403
        if rule.scope == "person" and where == "out":
            return 403
    return ok


def _cases() -> list[Any]:
    cases = []
    for (method, path), rule in sorted(RULES.items()):
        for label, (role, _where) in CALLERS.items():
            if (method, path) in _NO_TOKEN_ONLY and role is not None:
                continue
            purposes: list[Purpose | None] = list(Purpose) if rule.personal else [None]
            for purpose in purposes:
                name = f"{method} {path} · {label} · {purpose.value if purpose else '-'}"
                cases.append(pytest.param(method, path, label, purpose, id=name))
    return cases


def test_every_route_has_a_builder() -> None:
    assert set(BUILDERS) == set(RULES)


@pytest.mark.parametrize(("method", "path", "label", "purpose"), _cases())
def test_matrix(web: Web, method: str, path: str, label: str, purpose: Purpose | None) -> None:
    rule = RULES[(method, path)]
    role, where = CALLERS[label]
    call = BUILDERS[(method, path)](web)
    params = dict(call.params)
    if purpose is not None:
        params["purpose"] = purpose.value
    headers = web.auth(label) if role is not None else {}
    response = web.client.request(
        call.method, call.url, params=params, json=call.body, headers=headers
    )
    want = expected(rule, role, where, purpose, call.ok)
    assert response.status_code == want, response.text
    if path == "/v1/persons/search" and want == 200:
        found = [p["person_id"] for p in response.json()["persons"]]
        assert found == ([web.inside.id] if where == "in" else [])


def test_unknown_and_commercial_purposes_cannot_be_named(web: Web) -> None:
    for purpose in ("insurance", "marketing", "commercial", ""):
        r = web.client.get(
            f"/v1/persons/{web.inside.id}",
            params={"purpose": purpose},
            headers=web.auth("national"),
        )
        assert r.status_code == 422, r.text


def test_a_route_without_a_rule_refuses_to_start(web: Web) -> None:
    app = create_app(web.settings)
    extra = APIRouter()

    @extra.get("/v1/secret")
    def secret() -> dict[str, str]:
        return {"x": "y"}

    app.include_router(extra)
    with pytest.raises(ConfigError, match="/v1/secret"):
        check_rules(app)


def test_a_route_table_entry_is_needed_for_every_method() -> None:
    app = FastAPI()
    router = APIRouter()

    @router.post("/healthz")
    def posted() -> None:
        return None

    app.include_router(router)
    with pytest.raises(ConfigError, match="POST /healthz"):
        check_rules(app)


def test_the_app_declares_exactly_the_routes_of_the_table(web: Web) -> None:
    from fpcredit.web.app import declared_routes

    assert declared_routes(create_app(web.settings)) == set(RULES)


def test_a_hidden_route_without_a_rule_is_found_too(web: Web) -> None:
    app = create_app(web.settings)
    extra = APIRouter(prefix="/v1")

    @extra.delete("/hidden/{x}", include_in_schema=False)
    def hidden(x: int) -> None:
        return None

    app.include_router(extra)
    with pytest.raises(ConfigError, match="DELETE /v1/hidden"):
        check_rules(app)
