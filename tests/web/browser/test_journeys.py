"""The portal and the console in a real browser (Debian's Chromium) against a demo home: the
journeys of issue 17 — a citizen, a clerk, an analyst, an auditor — and every page at a phone's
and a desktop's size, each screenshot saved, checked with axe-core, for sideways scrolling, for
console errors, and for identifiers the visitor may not see."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page

from fpcredit.service import DemoCitizen
from tests.leaks import leaks
from tests.web.browser.harness import NEW_PASSWORD, DemoServer, check_page

SIZES = [(375, 812), (1440, 900)]
IDS = ["phone", "desktop"]
FULL_ID = re.compile(r"(?<![0-9])[1-9][0-9]{5}(?:19|20)[0-9]{2}[01][0-9][0-3][0-9][0-9]{3}[0-9Xx]")
PORTAL = [
    "/portal/",
    "/portal/explanation",
    "/portal/incentives",
    "/portal/points",
    "/portal/cases",
    "/portal/cases/new?kind=review",
    "/portal/file",
    "/portal/feedback",
    "/portal/notifications",
    "/portal/access-log",
]
DASHBOARDS = ["grades", "quality", "monitoring"]


def _name(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.strip("/").lower()).strip("-") or "home"


# The full names of the demo province's people (its truth file), for the leak scan.
NAMES: set[str] = set()


@pytest.fixture(scope="module", autouse=True)
def _names(demo_home: Path) -> None:
    with (demo_home.parent / "feeds" / "truth" / "persons.csv").open(encoding="utf-8") as f:
        NAMES.update(row["name"] for row in csv.DictReader(f) if len(row["name"]) >= 2)


def _no_identifier(page: Page, citizen: DemoCitizen | None = None) -> None:
    """The leak scan of a rendered page: no whole ID number, mobile number or known full name
    (the citizen's own are masked on their pages too), and no address carries an ID number."""
    html = page.content()
    assert NAMES, "the truth file's names were not read"
    assert not leaks(html, NAMES), f"{page.url}: {leaks(html, NAMES)}"
    assert not FULL_ID.search(html), f"{page.url}: a whole ID number on the page"
    assert not FULL_ID.search(page.url)
    if citizen is not None:
        assert citizen.id_number not in html and citizen.id_number not in page.url


def _citizen_login(page: Page, server: DemoServer, citizen: DemoCitizen) -> None:
    after = server.outbox_last_id()
    page.goto(server.url("/portal/login"))
    page.fill("#id_number", citizen.id_number)
    page.click("main button[type=submit]")
    page.wait_for_selector("#code")
    page.fill("#code", server.citizen_code(citizen, after))
    page.click("main button[type=submit]")
    page.wait_for_url(server.url("/portal/"))


def _staff_login(page: Page, server: DemoServer, role: str) -> None:
    user = server.accounts.user(role)
    page.goto(server.url("/console/login"))
    page.fill("#username", user.username)
    page.fill("#password", server.passwords[user.username])
    page.fill("#totp", server.totp(user.username))
    first = server.passwords[user.username] != NEW_PASSWORD
    if first:  # the one-time password is replaced at the first login
        page.fill("#new_password", NEW_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(server.url("/console/"))
    if first:
        server.passwords[user.username] = NEW_PASSWORD


def _purpose(page: Page, server: DemoServer, purpose: str) -> None:
    page.goto(server.url("/console/purpose"))
    page.check(f"#p-{purpose}")
    page.click("main button[type=submit]")
    page.wait_for_url(server.url("/console/"))
    assert purpose.replace("_", "") and page.locator(".purpose-bar strong").count() == 1


@pytest.fixture
def citizen_page(
    demo_server: DemoServer, page_at: Callable[[int, int], Page]
) -> Iterator[Callable[[int, int, int], Page]]:
    def make(width: int, height: int, which: int = 0) -> Page:
        page = page_at(width, height)
        _citizen_login(page, demo_server, demo_server.accounts.citizens[which])
        return page

    yield make


@pytest.mark.parametrize(("width", "height"), SIZES, ids=IDS)
def test_the_front_door_leads_to_the_portal_and_the_console(
    demo_server: DemoServer, page_at: Callable[[int, int], Page], width: int, height: int
) -> None:
    page = page_at(width, height)
    page.goto(demo_server.url("/"))
    check_page(page, "front")
    assert page.locator("a[href='/portal/']").count() == 1
    assert page.locator("a[href='/console/']").count() == 1
    for area in ("portal", "console"):
        page.goto(demo_server.url(f"/{area}/"))
        assert page.url == demo_server.url(f"/{area}/login")  # not signed in: the login page
        check_page(page, f"{area}-login")


@pytest.mark.parametrize(("width", "height"), SIZES, ids=IDS)
def test_every_portal_page(
    demo_server: DemoServer, citizen_page: Callable[..., Page], width: int, height: int
) -> None:
    citizen = demo_server.accounts.citizens[1]  # below the best grade: the fuller explanation
    page = citizen_page(width, height, 1)
    for path in PORTAL:
        page.goto(demo_server.url(path))
        assert page.url == demo_server.url(path), f"{path} sent the citizen to {page.url}"
        check_page(page, "portal-" + _name(path.removeprefix("/portal")))
        _no_identifier(page, citizen)


@pytest.mark.parametrize(("width", "height", "which"), [(375, 812, 0), (1440, 900, 2)], ids=IDS)
def test_a_citizen_reads_the_explanation_disputes_a_record_redeems_and_sees_who_read(
    demo_server: DemoServer, citizen_page: Callable[..., Page], width: int, height: int, which: int
) -> None:
    citizen = demo_server.accounts.citizens[which]
    page = citizen_page(width, height, which)
    assert citizen.grade in page.locator(".grade").inner_text()
    page.click("text=为什么是这个等级")
    assert page.url == demo_server.url("/portal/explanation")
    assert page.locator(".line").count() >= 20  # every indicator counted, line by line
    # Dispute a record from the file: the objection opens with its deadline.
    page.goto(demo_server.url("/portal/file"))
    page.locator("table a", has_text="提出异议").first.click()
    assert "/portal/cases/new" in page.url and "kind=objection" in page.url
    check_page(page, "portal-objection")
    page.fill("#words", "这条记录的日期不对，我当时不在本地。")
    page.click("main button[type=submit]")
    assert re.search(r"/portal/cases/\d+$", page.url), page.url
    assert "异议" in page.locator("h1").inner_text()
    assert "办理中" in page.content()
    check_page(page, "portal-case")
    # Redeem points for the first service open today and affordable.
    page.goto(demo_server.url("/portal/points"))
    balance = int(re.search(r"积分余额：(-?\d+)", page.content()).group(1))  # type: ignore[union-attr]
    choice = page.locator("input[name=redeemable]:not([disabled])")
    if which == 0:  # the demo's best A is the one of most points: some service is affordable
        assert choice.count() > 0, balance
    if choice.count():
        choice.first.check()
        page.click("main form button[type=submit]")
        assert "兑换成功" in page.content()
        after = int(re.search(r"积分余额：(-?\d+)", page.content()).group(1))  # type: ignore[union-attr]
        assert after < balance
    else:
        assert balance >= 0  # nothing affordable today: the form says which are closed
    # Who read my data: the reads of this very journey, each proof verified.
    page.goto(demo_server.url("/portal/access-log"))
    assert "已验证" in page.locator(".notice.ok").inner_text()
    assert page.locator("table tbody tr .badge.ok").count() >= 3
    assert page.locator("table tbody tr .badge.bad").count() == 0
    _no_identifier(page, citizen)


def test_a_form_without_its_csrf_token_is_refused(demo_server: DemoServer) -> None:
    with httpx.Client(base_url=demo_server.base_url) as client:
        client.get("/portal/login")  # the session cookie of a visitor
        refused = client.post("/portal/login", data={"id_number": "110105194912310029"})
        assert refused.status_code == 403
        assert "表单已过期" in refused.text
        forged = client.post("/portal/login", data={"id_number": "1", "csrf": "x" * 43})
        assert forged.status_code == 403


@pytest.mark.parametrize(("width", "height"), SIZES, ids=IDS)
def test_a_clerk_resolves_a_review_pair_and_an_objection(
    demo_server: DemoServer, page_at: Callable[[int, int], Page], width: int, height: int
) -> None:
    # A citizen objects to a record (through the API, as the app would; the first citizen's
    # records are the citizen journey's); the county clerk decides it when the citizen is of
    # the clerk's county, else the province's staff (the demo's below-A citizen may not be).
    citizen = demo_server.accounts.citizens[1]
    role = "county" if citizen.region == demo_server.accounts.user("county").region else "province"
    case_id = _objection_by_api(demo_server, citizen)
    page = page_at(width, height)
    _staff_login(page, demo_server, role)
    _purpose(page, demo_server, "objection_handling")
    page.goto(demo_server.url("/console/cases?kind=objection"))
    check_page(page, "console-cases")
    _no_identifier(page)
    page.click(f"a[href='/console/cases/{case_id}']")
    check_page(page, "console-case")
    _no_identifier(page)
    page.check("#o-reject")
    page.fill("#reason", "经核实，医院登记的日期与出生证明一致。")
    page.click("main form button[type=submit]")
    assert "decided=" in page.url
    page.goto(demo_server.url(f"/console/cases/{case_id}"))
    assert "已办结" in page.content()
    # A doubtful pair: the two sides field by field, then a decision with its reason.
    page.goto(demo_server.url("/console/reviews"))
    assert "/console/purpose" in page.url  # the review needs its own purpose
    page.check("#p-record_linkage")
    page.click("main button[type=submit]")
    assert page.url == demo_server.url("/console/reviews")
    check_page(page, "console-reviews")
    _no_identifier(page)
    first = page.locator("table tbody a").first
    if not first.count():
        pytest.skip("no doubtful pair in the clerk's county on this demo province")
    first.click()
    check_page(page, "console-review")
    _no_identifier(page)
    assert page.locator("table tbody tr").count() >= 4  # name, sex, birth, regions
    page.check("#a-reject")
    page.fill("#reason", "出生日期和户籍地都不同，不是同一人。")
    page.click("main form button[type=submit]")
    assert page.url == demo_server.url("/console/reviews")


def _objection_by_api(server: DemoServer, citizen: DemoCitizen) -> int:
    with httpx.Client(base_url=server.base_url) as client:
        after = server.outbox_last_id()
        client.post("/v1/auth/citizen-code", json={"id_number": citizen.id_number})
        login = {
            "grant_type": "citizen_code",
            "id_number": citizen.id_number,
            "code": server.citizen_code(citizen, after),
        }
        token = client.post("/v1/auth/token", json=login).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        facts = client.get("/v1/me", headers=auth).json()["facts"]
        open_ = {c["fact_id"] for c in client.get("/v1/me/cases", headers=auth).json()["cases"]}
        fact = next(f["id"] for f in facts if not f["disputed"] and f["id"] not in open_)
        body = {"fact_id": fact, "reason": "日期不对，请核实。"}
        made = client.post("/v1/me/objections", json=body, headers=auth)
        assert made.status_code == 201, made.text
        return int(made.json()["id"])


@pytest.mark.parametrize(("width", "height"), SIZES, ids=IDS)
def test_an_analyst_opens_every_dashboard(
    demo_server: DemoServer, page_at: Callable[[int, int], Page], width: int, height: int
) -> None:
    page = page_at(width, height)
    _staff_login(page, demo_server, "province")
    check_page(page, "console-home")
    for board in DASHBOARDS:
        page.goto(demo_server.url(f"/console/dashboards/{board}"))
        if "/console/purpose" in page.url:  # each board asks for the purpose it serves
            want = re.search(r"want=([a-z_]+)", page.url)
            assert want is not None
            check_page(page, "console-purpose")
            page.check(f"#p-{want.group(1)}")
            page.click("main button[type=submit]")
        assert page.url == demo_server.url(f"/console/dashboards/{board}")
        page.wait_for_selector("[data-chart] svg")  # ECharts drew
        check_page(page, f"console-dashboard-{board}")
        _no_identifier(page)
    # Find a person by ID number (posted, never in an address): the file is masked. (The
    # citizen whose disputes the clerk's journey decides: the others' may be open, and a
    # person whose every record is disputed is not evaluated.)
    citizen = demo_server.accounts.citizens[1]
    page.goto(demo_server.url("/console/persons"))
    check_page(page, "console-search")
    page.fill("#value", citizen.id_number)
    page.click("main form button[type=submit]")
    assert page.locator("table tbody tr").count() == 1
    check_page(page, "console-search-found")
    _no_identifier(page, citizen)
    page.click(f"a[href='/console/persons/{citizen.person_id}']")
    check_page(page, "console-person")
    _no_identifier(page, citizen)
    page.click("text=评价说明")
    assert page.locator("h1").first.inner_text() != "无法办理", page.locator("main").inner_text()
    check_page(page, "console-explanation")
    _no_identifier(page, citizen)


@pytest.mark.parametrize(("width", "height"), SIZES, ids=IDS)
def test_an_auditor_verifies_the_trail(
    demo_server: DemoServer, page_at: Callable[[int, int], Page], width: int, height: int
) -> None:
    page = page_at(width, height)
    _staff_login(page, demo_server, "auditor")
    page.goto(demo_server.url("/console/trail"))
    assert "/console/purpose" in page.url
    page.check("#p-audit")
    page.click("main button[type=submit]")
    assert page.url == demo_server.url("/console/trail")
    assert page.locator("pre.note").inner_text().strip()  # the signed checkpoint
    page.click("text=重新验证整个审计日志")
    assert "验证通过" in page.locator(".notice.ok").inner_text()
    check_page(page, "console-trail")
    _no_identifier(page)


def test_every_person_below_the_best_grade_of_the_demo_reads_what_to_do_or_when(
    demo_server: DemoServer,
) -> None:
    """On the demo province, as the service explains it: each person below the best grade has
    achievable actions or a dated path, and no line of a dimension left out of the total."""
    import pyarrow.parquet as pq

    results = sorted((demo_server.home / "evaluations").glob("*.parquet"))[-1]
    rows = pq.read_table(results, columns=["person_id", "grade"]).to_pylist()
    grades = sorted({r["grade"] for r in rows if r["grade"]})
    below = [int(r["person_id"]) for r in rows if r["grade"] and r["grade"] != grades[0]]
    assert below
    user = demo_server.accounts.user("province")
    login = {
        "grant_type": "password",
        "username": user.username,
        "password": demo_server.passwords[user.username],
        "totp": demo_server.totp(user.username),
    }
    if demo_server.passwords[user.username] != NEW_PASSWORD:
        login["new_password"] = NEW_PASSWORD
    with httpx.Client(base_url=demo_server.base_url, timeout=120) as client:
        token = client.post("/v1/auth/token", json=login)
        assert token.status_code == 200, token.text
        demo_server.passwords[user.username] = NEW_PASSWORD
        auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
        for pid in below:
            answer = client.get(
                f"/v1/persons/{pid}/explanation",
                params={"purpose": "credit_evaluation"},
                headers=auth,
            )
            assert answer.status_code == 200, (pid, answer.text)
            report = answer.json()
            nxt = report["to_raise_grade"]
            assert nxt.get("actions") or nxt.get("path"), (pid, nxt)
            left_out = {d["dimension"] for d in report["dimensions"] if not d["included"]}
            assert not [i for i in report["indicators"] if i["dimension"] in left_out], pid
