"""The pages without a browser: built on the API's doors, sessions and forms guarded, headers,
languages, and templates that a strict CSP can serve (the browser journeys are in browser/)."""

from __future__ import annotations

import ast
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from fpcredit.guard.keys.crypto import load_vault
from fpcredit.notify.sms import list_outbox
from fpcredit.store import schema as s
from fpcredit.web.pages.session import COOKIE, SECURE_COOKIE, PageSession, Signer
from tests.web.conftest import Web, _scan, codes_may_be_sent

PAGES = Path(__file__).resolve().parents[2] / "src" / "fpcredit" / "web" / "pages"
TEMPLATES = PAGES.parent / "templates"
# What a page module may import of fpcredit: nothing that reads the store, the vault or the
# trail — its data comes from the API (pages/api.py).
ALLOWED = (
    "fpcredit.config",
    "fpcredit.messages",
    "fpcredit.standard",
    "fpcredit.web.limits",
    "fpcredit.web.pages",
    "fpcredit.guard.trail.tlog",  # RFC 9162 proof arithmetic, to check the access log's proofs
    "fpcredit.guard.auth.tokens",  # the token key file, from which the cookie key is derived
)
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _client(web: Web, base_url: str = "http://testserver") -> TestClient:
    """A browser of its own (cookies) on the `web` app, its answers leak-scanned."""
    client = TestClient(web.client.app, base_url=base_url, follow_redirects=False)
    client.event_hooks["response"] = [_scan]
    return client


def _signed_in(web: Web, label: str, role: str, purpose: str = "") -> TestClient:
    """A browser holding a page session around `label`'s API token (as a login would make)."""
    client = _client(web)
    token = web.auth(label)["Authorization"].split()[1]
    session = PageSession(
        nonce="n" * 24, token=token, expires=time.time() + 250, role=role, subject=label,
        region="", purpose=purpose,
    )  # fmt: skip
    client.cookies.set(COOKIE, Signer(web.settings.keys_dir).dump(session))
    return client


def _csrf(client: TestClient, path: str) -> str:
    found = CSRF.search(client.get(path).text)
    assert found
    return found.group(1)


@pytest.fixture
def citizen(web: Web) -> Iterator[TestClient]:
    yield _signed_in(web, "citizen", "citizen", "self_service")


def test_the_page_modules_reach_no_data_but_through_the_api() -> None:
    for path in PAGES.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                if name.startswith("fpcredit"):
                    assert name.startswith(ALLOWED), f"{path.name} imports {name}"


def test_the_templates_need_no_inline_script_or_style() -> None:
    for path in TEMPLATES.rglob("*.html"):
        html = path.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, (path.name, tag)
        assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=|javascript:", html), path.name
        # An ID number is only ever posted: no form of the pages is sent by GET.
        assert 'method="get"' not in html.lower(), path.name


def test_a_page_read_is_the_api_read_on_the_trail(web: Web, citizen: TestClient) -> None:
    le = s.ledger_entries
    with web.store.engine.connect() as conn:
        before = conn.scalar(sa.select(sa.func.max(le.c.idx)))
    page = citizen.get("/portal/explanation")
    assert page.status_code == 200
    assert "为什么是这个等级" in page.text
    with web.store.engine.connect() as conn:
        actions = conn.execute(
            sa.select(le.c.action, le.c.outcome, le.c.purpose).where(le.c.idx > before)
        ).all()
    assert ("self_explanation_read", "allowed", "self_service") in actions


def test_a_console_page_meets_the_gates_refusal_and_says_it(web: Web) -> None:
    """A county clerk's page about a person of another county: the API's refusal, its words,
    its status, on the trail — the page reached no further than the clerk's token does."""
    clerk = _signed_in(web, "county_in", "county", "credit_evaluation")
    le = s.ledger_entries
    with web.store.engine.connect() as conn:
        before = conn.scalar(sa.select(sa.func.max(le.c.idx)))
    page = clerk.get(f"/console/persons/{web.outside.id}")
    assert page.status_code == 403
    assert "无法办理" in page.text
    with web.store.engine.connect() as conn:
        outcomes = conn.scalars(sa.select(le.c.outcome).where(le.c.idx > before)).all()
    assert "refused_region" in outcomes
    mine = clerk.get(f"/console/persons/{web.inside.id}")
    assert mine.status_code == 200 and "个人档案" in mine.text


def test_a_console_page_asks_for_the_purpose_of_the_task_first(web: Web) -> None:
    clerk = _signed_in(web, "county_in", "county")
    asked = clerk.get("/console/persons")
    assert asked.status_code == 303
    assert asked.headers["location"].startswith("/console/purpose?next=/console/persons")
    form = {"csrf": _csrf(clerk, "/console/purpose"), "purpose": "audit", "next": "//evil.example"}
    refused = clerk.post("/console/purpose", data=form)  # not a purpose of a county clerk
    assert refused.status_code == 400
    form["purpose"] = "data_quality"
    chosen = clerk.post("/console/purpose", data=form)
    assert chosen.headers["location"] == "/console/"  # never another site
    assert "数据质量核查" in clerk.get("/console/").text  # shown on every page


def test_forms_need_their_sessions_csrf_token_and_their_own_origin(
    web: Web, citizen: TestClient
) -> None:
    good = _csrf(citizen, "/portal/feedback")
    form = {"about": "incentive", "ref": "x", "satisfaction": "5"}
    assert citizen.post("/portal/feedback", data=form).status_code == 403
    other = _signed_in(web, "citizen", "citizen")
    other.cookies.set(COOKIE, Signer(web.settings.keys_dir).dump(PageSession.fresh()))
    assert other.post("/portal/feedback", data={**form, "csrf": good}).status_code in (303, 403)
    foreign = {"origin": "https://evil.example"}
    crossed = citizen.post("/portal/feedback", data={**form, "csrf": good}, headers=foreign)
    assert crossed.status_code == 403 and "表单已过期" in crossed.text
    assert citizen.post("/portal/feedback", data={**form, "csrf": good}).status_code != 403


def test_a_tampered_cookie_is_a_new_visitor(web: Web) -> None:
    client = _signed_in(web, "citizen", "citizen", "self_service")
    raw = client.cookies.get(COOKIE)
    assert raw is not None
    body, mac = raw.split(".")
    client.cookies.set(COOKIE, body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + mac)
    answer = client.get("/portal/")
    assert answer.status_code == 303 and answer.headers["location"] == "/portal/login"


def test_a_citizen_is_kept_to_the_portal_and_staff_to_the_console(
    web: Web, citizen: TestClient
) -> None:
    assert citizen.get("/console/").headers["location"] == "/portal/"
    clerk = _signed_in(web, "county_in", "county", "credit_evaluation")
    assert clerk.get("/portal/").headers["location"] == "/console/"


def test_page_headers_cookie_flags_and_tls(web: Web) -> None:
    plain = _client(web)
    page = plain.get("/portal/login")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp and page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"
    assert "strict-transport-security" not in page.headers
    cookie = page.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    secure = _client(web, "https://testserver").get("/portal/login")
    assert "max-age=" in secure.headers["strict-transport-security"]
    cookie = secure.headers["set-cookie"]
    assert cookie.startswith(f"{SECURE_COOKIE}=") and "Secure" in cookie and "HttpOnly" in cookie
    api = plain.get("/healthz")  # the API keeps its own policy
    assert api.headers["content-security-policy"].startswith("default-src 'none'")


def test_the_language_switch_is_per_visitor_and_goes_only_back_home(
    web: Web, citizen: TestClient
) -> None:
    switched = citizen.get("/portal/lang", params={"to": "en", "back": "/portal/points"})
    assert switched.headers["location"] == "/portal/points"
    assert "Points balance" in citizen.get("/portal/points").text
    assert "积分余额" in _signed_in(web, "citizen", "citizen").get("/portal/points").text
    for away in ("https://evil.example/", "//evil.example", "/console/", "/\\evil.example"):
        answer = citizen.get("/portal/lang", params={"to": "zh", "back": away})
        assert answer.headers["location"] == "/portal/", away


_LOGIN_CODE = re.compile(r"(?:登录验证码为|login code is) (\d{6})")


def test_a_citizen_logs_in_and_out_through_the_portals_own_forms(web: Web) -> None:
    """The code is sent, a wrong one refused, the right one lets in (the API's session, the
    forms' tokens rotated); logging out closes the API's session for good."""
    client = _client(web)
    token = _csrf(client, "/portal/login")
    number = web.outside.id_number  # not the citizen whose token the other tests share
    codes_may_be_sent(web, web.outside.id)
    sent = client.post("/portal/login", data={"csrf": token, "id_number": number})
    assert sent.status_code == 200 and 'id="code"' in sent.text
    form = {"csrf": token, "id_number": number}
    wrong = client.post("/portal/login", data={**form, "code": "000000"})
    assert wrong.status_code == 401 and "notice bad" in wrong.text
    assert client.get("/portal/").status_code == 303  # not let in
    web.client.app.state.services.identity.codes.drain()  # type: ignore[attr-defined]
    texts = [m["text"] for m in list_outbox(web.store, load_vault(web.settings.keys_dir))]
    # The newest login code (other texts in the shared outbox may hold six digits too).
    code = next(c for c in (_LOGIN_CODE.search(t) for t in reversed(texts)) if c)
    done = client.post(
        "/portal/login", data={"csrf": token, "id_number": number, "code": code.group(1)}
    )
    assert done.status_code == 303 and done.headers["location"] == "/portal/"
    session = Signer(web.settings.keys_dir).load(client.cookies.get(COOKIE))
    assert session is not None and session.signed_in
    assert token != _csrf(client, "/portal/feedback")  # a login rotates the forms' tokens
    api = {"Authorization": f"Bearer {session.token}"}
    assert web.client.get("/v1/me/credit", headers=api).status_code in (200, 404)
    out = client.post("/portal/logout", data={"csrf": _csrf(client, "/portal/feedback")})
    assert out.status_code == 303 and out.headers["location"] == "/portal/login"
    assert web.client.get("/v1/me/credit", headers=api).status_code == 401  # closed for good
    assert client.get("/portal/").headers["location"] == "/portal/login"


def test_every_portal_page_answers_for_the_citizen(citizen: TestClient) -> None:
    for path in ("/portal/", "/portal/incentives", "/portal/points", "/portal/cases",
                 "/portal/file", "/portal/notifications", "/portal/access-log",
                 "/portal/feedback", "/portal/cases/new?kind=repair"):  # fmt: skip
        answer = citizen.get(path)
        assert answer.status_code == 200, (path, answer.text[:500])
        assert "出错了" not in answer.text
    log = citizen.get("/portal/access-log").text
    assert "已验证" in log and "未通过验证" not in log


def test_a_broken_form_is_answered_with_the_apis_reason(citizen: TestClient) -> None:
    token = _csrf(citizen, "/portal/cases/new")
    answer = citizen.post(
        "/portal/cases/new", data={"csrf": token, "kind": "objection", "fact": "x", "words": ""}
    )
    assert answer.status_code == 422
    assert 'role="alert"' in answer.text and "出错了" not in answer.text


def test_the_review_page_shows_the_pair_and_a_merge_the_api_refuses_is_said(web: Web) -> None:
    """The side-by-side page of a pair (a record of the person and the person themself): each
    field with its weight; merging a file into itself is the API's refusal, in its words."""
    from tests.web.reviews_data import review_of

    clerk = _signed_in(web, "county_in", "county", "record_linkage")
    pair = review_of(web)
    page = clerk.get(f"/console/reviews/{pair}")
    assert page.status_code == 200
    assert "匹配权重" in page.text and "+8.00" in page.text  # the name's weight
    assert "合并两个档案" not in page.text  # the record is already in the candidate's file
    form = {"csrf": _csrf(clerk, f"/console/reviews/{pair}"), "reason": "同一人"}
    refused = clerk.post(f"/console/reviews/{pair}/merge", data=form)
    assert refused.status_code in (400, 409, 422)
    assert 'role="alert"' in refused.text and "出错了" not in refused.text
    outside = _signed_in(web, "county_out", "county", "record_linkage")
    assert outside.get(f"/console/reviews/{pair}").status_code == 404  # not the clerk's region
