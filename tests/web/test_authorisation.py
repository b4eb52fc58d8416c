"""The authorisation matrix, generated from the route table: every route × caller × purpose."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI

from fpcredit.errors import ConfigError
from fpcredit.evaluate.policy import default_policy_path
from fpcredit.guard.access import ROLE_PURPOSES, Purpose, Role
from fpcredit.guard.auth import accounts, clients
from fpcredit.web.app import check_rules, create_app
from fpcredit.web.rules import RULES, Rule
from tests.web.conftest import ADMIN_CALLERS, STAFF_CALLERS, Web
from tests.web.reviews_data import review_of


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    params: dict[str, Any]
    body: dict[str, Any] | None = None
    ok: int = 200


_SERIAL = itertools.count()
_MADE: dict[tuple[int, str], str] = {}  # (the province, what) → the account or client made


def _once(w: Web, what: str, make: Callable[[], str]) -> str:
    key = (id(w), what)
    if key not in _MADE:
        _MADE[key] = make()
    return _MADE[key]


def _target(w: Web, route: str) -> str:
    """A county account of its own for each administrative route to act on (the matrix's
    other tests keep their accounts)."""

    def make() -> str:
        name = f"matrix.{route}"
        accounts.add_user(w.store, Role.COUNTY, w.inside.county, name, settings=w.settings)
        return name

    return _once(w, route, make)


def _retire(w: Web, source: str) -> None:
    """No active client of `source` (one per department), so that one may be registered."""
    for c in clients.list_clients(w.store):
        if c.source == source and c.disabled_at is None:
            clients.disable_client(w.store, c.client_id)


def _client(w: Web, source: str) -> str:
    def make() -> str:
        _retire(w, source)
        return clients.add_client(w.store, source, ["data_quality"], settings=w.settings)[0]

    return _once(w, f"client:{source}", make)


def _new_client(w: Web) -> Call:
    _retire(w, "credit")
    body = {"source": "credit", "purposes": ["incentive_verification"]}
    return Call("POST", "/v1/admin/clients", {}, body, ok=201)


def _new_user(w: Web) -> Call:
    body = {"role": "county", "region": w.inside.county, "username": f"matrix.n{next(_SERIAL)}"}
    return Call("POST", "/v1/admin/users", {}, body, ok=201)


def _user_action(action: str) -> Callable[[Web], Call]:
    return lambda w: Call("POST", f"/v1/admin/users/{_target(w, action)}/{action}", {})


def _review(w: Web) -> int:
    """A fresh review case of the person every route reads (no fact, so any number may be open)."""
    cases = w.client.app.state.services.cases  # type: ignore[attr-defined]
    return int(cases.review(w.inside.id, "matrix", {}, f"citizen:{w.inside.id}").id)


def _my_case(w: Web) -> Call:
    return Call("GET", f"/v1/me/cases/{_once(w, 'review', lambda: str(_review(w)))}", {})


def _decision(w: Web) -> Call:
    body = {"outcome": "confirm", "reason": "matrix"}
    return Call("POST", f"/v1/cases/{_review(w)}/decision", {}, body)


_NOBODYS_FACT = {"fact_id": 2**61}  # no such fact: the refusal, without a case left behind

# The default policy's own text: activating it changes nothing the other tests see.
_POLICY = {"text": default_policy_path().read_text(encoding="utf-8"), "reason": "matrix"}


def _verification(w: Web) -> dict[str, Any]:
    """A verification the `department` caller (health) was registered for."""
    return {
        "id_number": w.inside.id_number,
        "incentive": "maternity_green_channel",
        "purpose": "incentive_verification",
    }


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
    ("GET", "/v1/auth/session"): lambda w: Call("GET", "/v1/auth/session", {}),
    ("GET", "/"): lambda w: Call("GET", "/", {}),
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
    ("GET", "/v1/me/notifications"): lambda w: Call("GET", "/v1/me/notifications", {"limit": 5}),
    ("GET", "/v1/redeemables"): lambda w: Call("GET", "/v1/redeemables", {}),
    ("GET", "/v1/me/points"): lambda w: Call("GET", "/v1/me/points", {}),
    # Without the Idempotency-Key header: past the gate, the route refuses (nothing redeemed).
    ("POST", "/v1/me/redemptions"): lambda w: Call(
        "POST", "/v1/me/redemptions", {}, {"redeemable": "parenting_course"}, ok=400
    ),
    # No such redemption: past the gate, the department's client is told so.
    ("POST", "/v1/redemptions/{redemption_id}/cancel"): lambda w: Call(
        "POST", "/v1/redemptions/999999999/cancel", {}, ok=404
    ),
    ("GET", "/v1/me/export"): lambda w: Call("GET", "/v1/me/export", {"format": "json"}),
    ("POST", "/v1/me/feedback"): lambda w: Call(
        "POST", "/v1/me/feedback", {}, {"about": "case", "ref": "1", "satisfaction": 4}, ok=201
    ),
    ("GET", "/v1/incentives"): lambda w: Call("GET", "/v1/incentives", {}),
    ("GET", "/v1/me/incentives"): lambda w: Call("GET", "/v1/me/incentives", {}),
    ("POST", "/v1/verifications"): lambda w: Call(
        "POST", "/v1/verifications", {}, _verification(w)
    ),
    ("POST", "/v1/verifications/batch"): lambda w: Call(
        "POST",
        "/v1/verifications/batch",
        {},
        {
            "incentive": "maternity_green_channel",
            "purpose": "incentive_verification",
            "rows": [{"id_number": w.inside.id_number}],
        },
    ),
    # An empty file of the department caller's own source (health): past the gate, refused as
    # unusable (docs/ingestion.md), nothing stored.
    ("POST", "/v1/feeds/{source}"): lambda w: Call("POST", "/v1/feeds/health", {}, ok=422),
    ("GET", "/v1/me/cases"): lambda w: Call("GET", "/v1/me/cases", {}),
    ("GET", "/v1/me/cases/{case_id}"): _my_case,
    ("POST", "/v1/me/objections"): lambda w: Call(
        "POST", "/v1/me/objections", {}, {**_NOBODYS_FACT, "reason": "matrix"}, ok=404
    ),
    ("POST", "/v1/me/repairs"): lambda w: Call(
        "POST", "/v1/me/repairs", {}, {**_NOBODYS_FACT, "evidence": "matrix"}, ok=404
    ),
    ("POST", "/v1/me/corrections"): lambda w: Call(
        "POST", "/v1/me/corrections", {}, {**_NOBODYS_FACT, "what_is_wrong": "matrix"}, ok=404
    ),
    ("POST", "/v1/me/reviews"): lambda w: Call(
        "POST", "/v1/me/reviews", {}, {"reason": "matrix"}, ok=201
    ),
    ("GET", "/v1/cases"): lambda w: Call("GET", "/v1/cases", {}),
    ("POST", "/v1/cases/{case_id}/decision"): _decision,
    # Clerical review: a pair of the person read (a decided one: the decision is refused, 409);
    # merge with nobody and unmerge of nobody's mention are refused past the gate.
    ("GET", "/v1/reviews"): lambda w: Call("GET", "/v1/reviews", {}),
    ("GET", "/v1/reviews/{review_id}"): lambda w: Call(
        "GET", f"/v1/reviews/{_once(w, 'pair', lambda: str(review_of(w)))}", {}
    ),
    ("POST", "/v1/reviews/{review_id}/decision"): lambda w: Call(
        "POST",
        f"/v1/reviews/{_once(w, 'decided pair', lambda: str(review_of(w, 'rejected')))}/decision",
        {},
        {"action": "reject", "reason": "matrix"},
        ok=409,
    ),
    ("POST", "/v1/persons/{person_id}/merge"): lambda w: Call(
        "POST", f"/v1/persons/{w.inside.id}/merge", {}, {"other": 2**61, "reason": "matrix"}, ok=404
    ),
    ("POST", "/v1/persons/{person_id}/unmerge"): lambda w: Call(
        "POST",
        f"/v1/persons/{w.inside.id}/unmerge",
        {},
        {"mention_ids": [2**61], "reason": "matrix"},
        ok=400,
    ),
    ("GET", "/v1/dashboards/grades"): lambda w: Call("GET", "/v1/dashboards/grades", {}),
    ("GET", "/v1/dashboards/quality"): lambda w: Call("GET", "/v1/dashboards/quality", {}),
    ("GET", "/v1/dashboards/monitoring"): lambda w: Call("GET", "/v1/dashboards/monitoring", {}),
    ("GET", "/v1/audit/checkpoint"): lambda w: Call("GET", "/v1/audit/checkpoint", {}),
    ("GET", "/v1/audit/proof/inclusion"): lambda w: Call(
        "GET", "/v1/audit/proof/inclusion", {"index": 0, "tree_size": 1}
    ),
    ("GET", "/v1/audit/proof/consistency"): lambda w: Call(
        "GET", "/v1/audit/proof/consistency", {"first": 1, "second": 1}
    ),
    ("GET", "/v1/audit/entries"): lambda w: Call("GET", "/v1/audit/entries", {"limit": 5}),
    ("GET", "/v1/audit/verify"): lambda w: Call("GET", "/v1/audit/verify", {}),
    ("GET", "/v1/admin/users"): lambda w: Call("GET", "/v1/admin/users", {}),
    ("POST", "/v1/admin/users"): _new_user,
    ("POST", "/v1/admin/users/{username}/reset"): _user_action("reset"),
    ("POST", "/v1/admin/users/{username}/disable"): _user_action("disable"),
    ("POST", "/v1/admin/users/{username}/enable"): _user_action("enable"),
    ("GET", "/v1/admin/clients"): lambda w: Call("GET", "/v1/admin/clients", {}),
    ("POST", "/v1/admin/clients"): _new_client,
    ("POST", "/v1/admin/clients/{client_id}/disable"): lambda w: Call(
        "POST", f"/v1/admin/clients/{_client(w, 'cdc')}/disable", {}
    ),
    ("PUT", "/v1/admin/clients/{client_id}/purposes"): lambda w: Call(
        "PUT",
        f"/v1/admin/clients/{_client(w, 'mch')}/purposes",
        {},
        {"purposes": ["data_quality", "service_delivery"]},
    ),
    # An unknown profile: the gate admits the security administrator, the body is refused (a
    # real rotation of the shared store is tests/web/test_admin.py's, on a store of its own).
    ("POST", "/v1/admin/keys/rotation"): lambda w: Call(
        "POST", "/v1/admin/keys/rotation", {}, {"profile": "sm9"}, ok=422
    ),
    ("GET", "/v1/admin/keys/rotation"): lambda w: Call("GET", "/v1/admin/keys/rotation", {}),
    ("GET", "/v1/admin/policies"): lambda w: Call("GET", "/v1/admin/policies", {}),
    ("POST", "/v1/admin/policies"): lambda w: Call(
        "POST", "/v1/admin/policies", {}, _POLICY, ok=201
    ),
}

CALLERS: dict[str, tuple[Role | None, str]] = {
    "anonymous": (None, "in"),
    **{label: (role, where) for label, (role, where) in STAFF_CALLERS.items()},
    **{label: (role, "in") for label, (role, _username) in ADMIN_CALLERS.items()},
    "department": (Role.DEPARTMENT, "in"),
    "citizen": (Role.CITIZEN, "in"),
}
# The session is closed by a logout, so the matrix only knocks on that door without a token.
_NO_TOKEN_ONLY = {("POST", "/v1/auth/logout")}
# Routes that find their person's region in the handler (a case's), answering 404 outside it.
_SCOPED_IN_HANDLER = {"case_decide", "review_show", "review_decide"}


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
        if rule.action in _SCOPED_IN_HANDLER and where == "out":
            return 404
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
