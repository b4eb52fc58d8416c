"""The citizen portal (R22): my grade and its explanation, incentives, points, cases, my data.

Every page is a view over the citizen's own API routes (`/v1/me/…`), called with their token.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from fpcredit.guard.trail.tlog import verify_inclusion
from fpcredit.messages import text
from fpcredit.web.pages.visit import Refused, Visit, page

router = APIRouter(include_in_schema=False)  # mounted at /portal
AREA = "portal"
CASE_KINDS = {
    "objection": ("/v1/me/objections", "reason"),
    "repair": ("/v1/me/repairs", "evidence"),
    "correction": ("/v1/me/corrections", "what_is_wrong"),
    "review": ("/v1/me/reviews", "reason"),
}


# -- logging in -------------------------------------------------------------------------------
@router.get("/login")
@page(AREA, signed_in=False)
async def login(visit: Visit) -> Response:
    ended = visit.request.query_params.get("ended") == "1"
    return visit.render(
        "portal/login.html", step="number", notice="page.session_ended" if ended else "", error=""
    )


@router.post("/login")
@page(AREA, signed_in=False)
async def login_post(visit: Visit) -> Response:
    form = await visit.form()
    number = str(form.get("id_number") or "").strip()
    code = str(form.get("code") or "").strip()
    if not code:  # the first step: send a code to the phone on file
        answer = await visit.call("POST", "/v1/auth/citizen-code", json={"id_number": number})
        if not answer.ok:
            return visit.render(
                "portal/login.html",
                status=answer.status,
                step="number",
                notice="",
                error=answer.detail() or text("page.id_number_invalid"),
            )
        return visit.render(
            "portal/login.html", step="code", number=number, notice="page.code_sent", error=""
        )
    answer = await visit.call(
        "POST",
        "/v1/auth/token",
        json={"grant_type": "citizen_code", "id_number": number, "code": code},
    )
    if not answer.ok:
        return visit.render(
            "portal/login.html",
            status=answer.status,
            step="code",
            number=number,
            notice="",
            error=answer.detail(),
        )
    visit.signed(answer.data, role="citizen", subject="", region="", purpose="self_service")
    return visit.go("/portal/")


@router.post("/logout")
@page(AREA)
async def logout(visit: Visit) -> Response:
    return await visit.log_out()


# -- my grade ---------------------------------------------------------------------------------
@router.get("/")
@page(AREA)
async def home(visit: Visit) -> Response:
    credit = await visit.call("GET", "/v1/me/credit")
    notes = await visit.get("/v1/me/notifications", limit=3)
    points = await visit.get("/v1/me/points", limit=1)
    return visit.render(
        "portal/home.html",
        credit=credit.data if credit.ok else None,
        credit_missing=credit.detail() if not credit.ok else "",
        notifications=notes,
        balance=points["balance"],
    )


@router.get("/explanation")
@page(AREA)
async def explanation(visit: Visit) -> Response:
    report = await visit.get("/v1/me/explanation")
    return visit.render("portal/explanation.html", report=report)


@router.get("/incentives")
@page(AREA)
async def incentives(visit: Visit) -> Response:
    mine = await visit.get("/v1/me/incentives")
    return visit.render("portal/incentives.html", mine=mine)


# -- points -----------------------------------------------------------------------------------
@router.get("/points")
@page(AREA)
async def points(visit: Visit) -> Response:
    return await _points(visit, done=None, error="")


async def _points(visit: Visit, done: Any, error: str, status: int = 200) -> Response:
    mine = await visit.get("/v1/me/points", limit=20)
    catalogue = await visit.get("/v1/redeemables")
    return visit.render(
        "portal/points.html",
        status=status,
        mine=mine,
        catalogue=catalogue["redeemables"],
        done=done,
        error=error,
        once=secrets.token_urlsafe(12),
    )


@router.post("/points")
@page(AREA)
async def redeem(visit: Visit) -> Response:
    form = await visit.form()
    # The form's one-time key makes a double submit one redemption (the API's Idempotency-Key).
    once = str(form.get("once") or "")
    key = hashlib.sha256(f"{visit.session.nonce}|{once}".encode()).hexdigest()[:40]
    answer = await visit.call(
        "POST",
        "/v1/me/redemptions",
        json={"redeemable": str(form.get("redeemable") or "")},
        headers={"idempotency-key": key},
    )
    if not answer.ok:
        return await _points(visit, None, answer.detail(), status=answer.status)
    return await _points(visit, answer.data, "")


# -- cases ------------------------------------------------------------------------------------
@router.get("/cases")
@page(AREA)
async def cases(visit: Visit) -> Response:
    mine = await visit.get("/v1/me/cases")
    return visit.render("portal/cases.html", mine=mine)


@router.get("/cases/new")
@page(AREA)
async def case_form(visit: Visit) -> Response:
    kind = visit.request.query_params.get("kind", "objection")
    fact = visit.request.query_params.get("fact", "")
    if kind not in CASE_KINDS:
        kind = "objection"
    return visit.render("portal/case_new.html", kind=kind, fact=fact, error="", words="")


@router.post("/cases/new")
@page(AREA)
async def case_open(visit: Visit) -> Response:
    form = await visit.form()
    kind = str(form.get("kind") or "")
    fact = str(form.get("fact") or "").strip()
    words = str(form.get("words") or "").strip()
    if kind not in CASE_KINDS:
        kind = "objection"
    path, field = CASE_KINDS[kind]
    body: dict[str, Any] = {field: words}
    if kind != "review":
        body["fact_id"] = int(fact) if fact.isdigit() and len(fact) < 19 else fact
    answer = await visit.call("POST", path, json=body)
    if not answer.ok:
        return visit.render(
            "portal/case_new.html",
            status=answer.status,
            kind=kind,
            fact=fact,
            words=words,
            error=answer.detail(),
        )
    return visit.go(f"/portal/cases/{answer.data['id']}")


@router.get("/cases/{case_id}")
@page(AREA)
async def case(visit: Visit) -> Response:
    case_id = visit.request.path_params["case_id"]
    found = await visit.get(f"/v1/me/cases/{case_id}")
    return visit.render("portal/case.html", case=found)


# -- my data ----------------------------------------------------------------------------------
@router.get("/file")
@page(AREA)
async def my_file(visit: Visit) -> Response:
    mine = await visit.get("/v1/me")
    return visit.render("portal/file.html", file=mine)


@router.get("/export.pdf")
@page(AREA)
async def export(visit: Visit) -> Response:
    answer = await visit.call("GET", "/v1/me/export", params={"format": "pdf"})
    if not answer.ok:
        raise Refused(answer)
    return visit.keep(
        Response(
            answer.content,
            media_type="application/pdf",
            headers={"content-disposition": 'attachment; filename="fpcredit-my-file.pdf"'},
        )
    )


@router.get("/feedback")
@page(AREA)
async def feedback(visit: Visit) -> Response:
    about = visit.request.query_params.get("about", "incentive")
    ref = visit.request.query_params.get("ref", "")
    return visit.render("portal/feedback.html", about=about, ref=ref, error="", done=False)


@router.post("/feedback")
@page(AREA)
async def feedback_post(visit: Visit) -> Response:
    form = await visit.form()
    about, ref = str(form.get("about") or ""), str(form.get("ref") or "")
    raw = str(form.get("satisfaction") or "")
    body = {
        "about": about,
        "ref": ref,
        "satisfaction": int(raw) if raw.isdigit() and len(raw) == 1 else raw,
        "complaint": str(form.get("complaint") or "") or None,
    }
    answer = await visit.call("POST", "/v1/me/feedback", json=body)
    if not answer.ok:
        return visit.render(
            "portal/feedback.html",
            status=answer.status,
            about=about,
            ref=ref,
            error=answer.detail(),
            done=False,
        )
    return visit.render("portal/feedback.html", about=about, ref=ref, error="", done=True)


@router.get("/notifications")
@page(AREA)
async def notifications(visit: Visit) -> Response:
    raw = visit.request.query_params.get("offset", "0")
    offset = int(raw) if raw.isdigit() and len(raw) < 7 else 0
    found = await visit.get("/v1/me/notifications", limit=20, offset=offset)
    return visit.render("portal/notifications.html", found=found)


@router.get("/access-log")
@page(AREA)
async def access_log(visit: Visit) -> Response:
    log = await visit.get("/v1/me/access-log", limit=100)
    root = bytes.fromhex(log["root_hash"])
    head = log["checkpoint"].split("\n")
    # The checkpoint's body names the size and root the proofs are checked against.
    signed_root = head[2] if len(head) > 2 else ""
    agrees = signed_root == base64.b64encode(root).decode() and head[1] == str(log["tree_size"])
    for entry in log["entries"]:
        entry["verified"] = agrees and verify_inclusion(
            entry["index"],
            log["tree_size"],
            bytes.fromhex(entry["leaf_hash"]),
            [bytes.fromhex(h) for h in entry["inclusion_proof"]],
            root,
        )
    return visit.render("portal/access_log.html", log=log, agrees=agrees)
