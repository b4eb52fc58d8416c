"""The harness itself: the real server answers, its vendored scripts are served safely, and
`check_page` catches what it is meant to catch."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page

from tests.web.browser.harness import NEW_PASSWORD, DemoServer, check_page, problems, run_axe

VENDOR = Path(__file__).resolve().parents[3] / "src" / "fpcredit" / "web" / "static" / "vendor"
GOOD = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>检查</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>计生信用</h1><p>一页合格的页面。</p></main></body></html>"""


def test_the_real_server_answers_and_the_demo_logins_work(demo_server: DemoServer) -> None:
    assert httpx.get(demo_server.url("/healthz")).json()["status"] == "ok"
    clerk = demo_server.accounts.user("county")
    body = {
        "grant_type": "password",
        "username": clerk.username,
        "password": demo_server.passwords[clerk.username],
        "totp": demo_server.totp(clerk.username),
        "new_password": NEW_PASSWORD,
    }
    assert httpx.post(demo_server.url("/v1/auth/token"), json=body).status_code == 200
    demo_server.passwords[clerk.username] = NEW_PASSWORD
    citizen = demo_server.accounts.citizens[0]
    after = demo_server.outbox_last_id()
    asked = httpx.post(
        demo_server.url("/v1/auth/citizen-code"), json={"id_number": citizen.id_number}
    )
    assert asked.status_code == 202
    code = demo_server.citizen_code(citizen, after)
    login = {"grant_type": "citizen_code", "id_number": citizen.id_number, "code": code}
    assert httpx.post(demo_server.url("/v1/auth/token"), json=login).status_code == 200


def test_totp_codes_are_never_handed_out_twice(demo_server: DemoServer) -> None:
    name = demo_server.accounts.user("auditor").username
    first, second = demo_server.totp(name), demo_server.totp(name)
    assert first != second  # two steps' codes (equal once in a million)


def test_a_vendored_script_is_served_with_its_type_and_the_security_headers(
    demo_server: DemoServer,
) -> None:
    manifest = json.loads((VENDOR / "VENDORED.json").read_text(encoding="utf-8"))
    htmx = next(p for p in manifest["packages"] if p["name"] == "htmx.org")
    response = httpx.get(demo_server.url("/static/vendor/htmx.min.js"))
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] in {
        "text/javascript",
        "application/javascript",
    }
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" in response.headers
    assert htmx["files"][0]["path"] == "htmx.min.js"
    assert response.content == (VENDOR / "htmx.min.js").read_bytes()


@pytest.mark.parametrize("size", [(375, 812), (1440, 900)], ids=["phone", "desktop"])
def test_check_page_passes_a_good_page(
    page_at: Callable[[int, int], Page], size: tuple[int, int]
) -> None:
    page = page_at(*size)
    page.set_content(GOOD)
    shot = check_page(page, "harness-good")
    assert shot.name == f"harness-good-{size[0]}x{size[1]}.png" and shot.stat().st_size > 0


def test_check_page_fails_a_bad_page(page_at: Callable[[int, int], Page]) -> None:
    page = page_at(375, 812)
    page.set_content(
        GOOD.replace("</main>", '<img src="data:,"><div style="width:2000px">x</div></main>')
    )
    with pytest.raises(AssertionError, match="scrolls sideways"):
        check_page(page, "harness-wide")
    page.set_content(GOOD.replace("</main>", '<img src="data:,"></main>'))
    with pytest.raises(AssertionError, match="image-alt"):
        check_page(page, "harness-no-alt")
    page.set_content(GOOD)
    page.evaluate("() => console.error('broken')")
    with pytest.raises(AssertionError, match="broken"):
        check_page(page, "harness-logged")


def test_axe_runs_under_the_servers_csp(
    demo_server: DemoServer, page_at: Callable[[int, int], Page]
) -> None:
    page = page_at(1440, 900)
    response = page.goto(demo_server.url("/healthz"))
    assert response is not None and "content-security-policy" in response.headers
    assert isinstance(run_axe(page), list)  # injected despite `script-src`, nothing blocked
    assert problems(page) == []
