"""The staff console (R35): search and files, the review and case queues, dashboards, the trail.

Every page is a view over the staff API routes, called with the clerk's token and the purpose
the clerk chose for the task (kept in the session, shown on every page, changed on /purpose).
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter
from starlette.responses import Response

from fpcredit.messages import text
from fpcredit.web.pages.visit import Leave, Refused, Visit, page
from fpcredit.web.pages.words import department

router = APIRouter(include_in_schema=False)  # mounted at /console
AREA: Final = "console"
STAFF: Final = frozenset({"national", "province", "city", "county"})
CASE_KINDS: Final = ("objection", "repair", "correction", "review")
OUTCOMES: Final = {
    "objection": ("uphold", "correct", "reject"),
    "repair": ("approve", "refuse"),
    "correction": ("correct", "reject"),
    "review": ("confirm", "revise"),
}
DASHBOARDS: Final = ("grades", "quality", "monitoring")
PAGE: Final = 50  # trail entries a page


def _purpose(visit: Visit, *wanted: str) -> str:
    """The purpose of the task; a visitor who has not chosen one (or one this page cannot
    serve) is asked to choose first, and comes back."""
    chosen = visit.session.purpose
    if not chosen or (wanted and chosen not in wanted):
        back = visit.request.url.path
        raise Leave(f"/console/purpose?next={back}&want={','.join(wanted)}")
    return chosen


# -- logging in -------------------------------------------------------------------------------
@router.get("/login")
@page(AREA, signed_in=False)
async def login(visit: Visit) -> Response:
    ended = visit.request.query_params.get("ended") == "1"
    return visit.render(
        "console/login.html", error="", username="",
        notice="page.session_ended" if ended else "",
    )  # fmt: skip


@router.post("/login")
@page(AREA, signed_in=False)
async def login_post(visit: Visit) -> Response:
    form = await visit.form()
    username = str(form.get("username") or "").strip()
    body: dict[str, Any] = {
        "grant_type": "password",
        "username": username,
        "password": str(form.get("password") or ""),
        "totp": str(form.get("totp") or "").strip(),
    }
    if form.get("new_password"):
        body["new_password"] = str(form.get("new_password"))
    answer = await visit.call("POST", "/v1/auth/token", json=body)
    if not answer.ok:
        return visit.render(
            "console/login.html", status=answer.status, error=answer.detail(),
            username=username, notice="",
        )  # fmt: skip
    token = str(answer.data["access_token"])
    who = await visit.pages.api.call(visit.request, "GET", "/v1/auth/session", token=token)
    if not who.ok:
        raise Refused(who)
    if who.data["role"] == "citizen":  # a citizen's token has no business here
        raise Leave("/portal/")
    visit.signed(
        answer.data, role=who.data["role"], subject=who.data["subject"],
        region=who.data["region"], purpose="",
    )  # fmt: skip
    return visit.go("/console/")


@router.post("/logout")
@page(AREA)
async def logout(visit: Visit) -> Response:
    return await visit.log_out()


# -- home and the task's purpose --------------------------------------------------------------
@router.get("/")
@page(AREA)
async def home(visit: Visit) -> Response:
    who = await visit.get("/v1/auth/session")
    return visit.render("console/home.html", who=who)


@router.get("/purpose")
@page(AREA)
async def purpose_form(visit: Visit) -> Response:
    who = await visit.get("/v1/auth/session")
    wanted = [w for w in visit.request.query_params.get("want", "").split(",") if w]
    nxt = _local(visit.request.query_params.get("next", "/console/"))
    return visit.render("console/purpose.html", who=who, wanted=wanted, next=nxt, error="")


@router.post("/purpose")
@page(AREA)
async def purpose_post(visit: Visit) -> Response:
    form = await visit.form()
    who = await visit.get("/v1/auth/session")
    chosen = str(form.get("purpose") or "")
    nxt = _local(str(form.get("next") or "/console/"))
    if chosen not in who["purposes"]:
        return visit.render(
            "console/purpose.html", status=400, who=who, wanted=[], next=nxt,
            error="page.purpose_pick",
        )  # fmt: skip
    visit.choose_purpose(chosen)
    return visit.go(nxt)


def _local(path: str) -> str:
    """Only a console page may be where a form sends the visitor next."""
    ok = path.startswith("/console/") and "//" not in path and "\\" not in path
    return path if ok else "/console/"


# -- persons ----------------------------------------------------------------------------------
@router.get("/persons")
@page(AREA)
async def search_form(visit: Visit) -> Response:
    _purpose(visit)
    return visit.render("console/search.html", found=None, error="")


@router.post("/persons")
@page(AREA)
async def search(visit: Visit) -> Response:
    form = await visit.form()
    purpose = _purpose(visit)
    by = str(form.get("by") or "id_number")
    value = str(form.get("value") or "").strip()
    body = {"name": value} if by == "name" else {"id_number": value}
    answer = await visit.call("POST", "/v1/persons/search", params={"purpose": purpose}, json=body)
    if not answer.ok:
        return visit.render(
            "console/search.html", status=answer.status, found=None, error=answer.detail()
        )
    return visit.render("console/search.html", found=answer.data["persons"], error="")


@router.get("/persons/{person_id}")
@page(AREA)
async def person(visit: Visit) -> Response:
    purpose = _purpose(visit)
    pid = visit.request.path_params["person_id"]
    file = await visit.get(f"/v1/persons/{pid}", purpose=purpose)
    credit = await visit.call("GET", f"/v1/persons/{pid}/credit", params={"purpose": purpose})
    return visit.render(
        "console/person.html", file=file, credit=credit.data if credit.ok else None,
        credit_missing="" if credit.ok else credit.detail(),
    )  # fmt: skip


@router.get("/persons/{person_id}/explanation")
@page(AREA)
async def person_explanation(visit: Visit) -> Response:
    purpose = _purpose(visit)
    pid = visit.request.path_params["person_id"]
    report = await visit.get(f"/v1/persons/{pid}/explanation", purpose=purpose)
    return visit.render("console/explanation.html", report=report)


# -- cases ------------------------------------------------------------------------------------
@router.get("/cases")
@page(AREA)
async def cases(visit: Visit) -> Response:
    purpose = _purpose(visit)
    query = visit.request.query_params
    kind = query.get("kind") if query.get("kind") in CASE_KINDS else None
    state = query.get("state") if query.get("state") in ("open", "closed") else "open"
    found = await visit.get("/v1/cases", purpose=purpose, kind=kind, state=state, limit=100)
    return visit.render("console/cases.html", found=found, kind=kind or "", state=state)


@router.get("/cases/{case_id}")
@page(AREA)
async def case(visit: Visit) -> Response:
    return await _case(visit, "", 200)


async def _case(visit: Visit, error: str, status: int) -> Response:
    purpose = _purpose(visit)
    raw = visit.request.path_params["case_id"]
    found = await visit.get("/v1/cases", purpose=purpose, limit=500)
    match = [c for c in found["cases"] if str(c["id"]) == raw]
    if not match:
        return visit.render("refused.html", status=404, detail=_unknown_case(raw))
    item = match[0]
    return visit.render(
        "console/case.html", status=status, case=item, today=found["today"],
        outcomes=OUTCOMES.get(item["kind"], ()), error=error,
    )  # fmt: skip


def _unknown_case(raw: str) -> str:
    return text("case.unknown", case=raw if raw.isdigit() else "?")


@router.post("/cases/{case_id}")
@page(AREA)
async def decide(visit: Visit) -> Response:
    form = await visit.form()
    purpose = _purpose(visit)
    raw = visit.request.path_params["case_id"]
    body: dict[str, Any] = {
        "outcome": str(form.get("outcome") or ""),
        "reason": str(form.get("reason") or "").strip(),
    }
    if form.get("corrected"):
        body["corrected"] = str(form.get("corrected")).strip()
    answer = await visit.call(
        "POST", f"/v1/cases/{raw}/decision", params={"purpose": purpose}, json=body
    )
    if not answer.ok:
        return await _case(visit, answer.detail(), answer.status)
    return visit.go(f"/console/cases?kind={answer.data['kind']}&state=open&decided={raw}")


# -- linkage review ---------------------------------------------------------------------------
@router.get("/reviews")
@page(AREA)
async def reviews(visit: Visit) -> Response:
    purpose = _purpose(visit, "record_linkage")
    found = await visit.get("/v1/reviews", purpose=purpose, status="pending", limit=50)
    return visit.render("console/reviews.html", found=found)


@router.get("/reviews/{review_id}")
@page(AREA)
async def review(visit: Visit) -> Response:
    return await _review(visit, "", 200)


async def _review(visit: Visit, error: str, status: int) -> Response:
    purpose = _purpose(visit, "record_linkage")
    rid = visit.request.path_params["review_id"]
    pair = await visit.get(f"/v1/reviews/{rid}", purpose=purpose)
    return visit.render("console/review.html", status=status, pair=pair, error=error)


@router.post("/reviews/{review_id}")
@page(AREA)
async def review_decide(visit: Visit) -> Response:
    form = await visit.form()
    purpose = _purpose(visit, "record_linkage")
    rid = visit.request.path_params["review_id"]
    body = {"action": str(form.get("action") or ""), "reason": str(form.get("reason") or "")}
    answer = await visit.call(
        "POST", f"/v1/reviews/{rid}/decision", params={"purpose": purpose}, json=body
    )
    if not answer.ok:
        return await _review(visit, answer.detail(), answer.status)
    return visit.go("/console/reviews")


@router.post("/reviews/{review_id}/merge")
@page(AREA)
async def review_merge(visit: Visit) -> Response:
    """Merge the record's file into the candidate's (the two are one person)."""
    form = await visit.form()
    purpose = _purpose(visit, "record_linkage")
    pair = await visit.get(f"/v1/reviews/{visit.request.path_params['review_id']}", purpose=purpose)
    body = {"other": pair["mention_person_id"], "reason": str(form.get("reason") or "")}
    answer = await visit.call(
        "POST", f"/v1/persons/{pair['candidate_person_id']}/merge",
        params={"purpose": purpose}, json=body,
    )  # fmt: skip
    if not answer.ok:
        return await _review(visit, answer.detail(), answer.status)
    return visit.go(f"/console/reviews?merged={answer.data['merged']}")


@router.post("/reviews/{review_id}/unmerge")
@page(AREA)
async def review_unmerge(visit: Visit) -> Response:
    """Split the record off the file it is in now (it is nobody's of that file)."""
    form = await visit.form()
    purpose = _purpose(visit, "record_linkage")
    pair = await visit.get(f"/v1/reviews/{visit.request.path_params['review_id']}", purpose=purpose)
    body = {"mention_ids": [pair["mention_id"]], "reason": str(form.get("reason") or "")}
    answer = await visit.call(
        "POST", f"/v1/persons/{pair['mention_person_id']}/unmerge",
        params={"purpose": purpose}, json=body,
    )  # fmt: skip
    if not answer.ok:
        return await _review(visit, answer.detail(), answer.status)
    return visit.go(f"/console/reviews?split={answer.data['new_person_id']}")


# -- dashboards -------------------------------------------------------------------------------
@router.get("/dashboards/{board}")
@page(AREA)
async def dashboard(visit: Visit) -> Response:
    board = visit.request.path_params["board"]
    if board not in DASHBOARDS:
        return visit.render("refused.html", status=404, detail="")
    purpose = _purpose(visit, "data_quality" if board == "quality" else "supervision")
    data = await visit.get(f"/v1/dashboards/{board}", purpose=purpose)
    labels = [department(d["source"]) for d in data.get("departments", ())]
    return visit.render(f"console/dash_{board}.html", data=data, board=board, labels=labels)


# -- the trail (auditors) ---------------------------------------------------------------------
@router.get("/trail")
@page(AREA)
async def trail(visit: Visit) -> Response:
    return await _trail(visit, None)


@router.post("/trail")
@page(AREA)
async def trail_verify(visit: Visit) -> Response:
    await visit.form()
    _purpose(visit, "audit")
    return await _trail(visit, await visit.get("/v1/audit/verify"))


async def _trail(visit: Visit, verified: Any) -> Response:
    """The newest page of entries (or the page from `start`), the signed checkpoint, and the
    result of a verification when one was asked for."""
    purpose = _purpose(visit, "audit")
    raw = visit.request.query_params.get("start", "")
    size = (await visit.get("/v1/audit/entries", purpose=purpose, limit=1))["tree_size"]
    start = int(raw) if raw.isdigit() and len(raw) < 19 else max(0, size - PAGE)
    entries = await visit.get("/v1/audit/entries", purpose=purpose, start=start, limit=PAGE)
    entries["entries"].reverse()  # newest first
    head = await visit.call("GET", "/v1/audit/checkpoint")
    return visit.render(
        "console/trail.html", entries=entries, start=start, page=PAGE, verified=verified,
        checkpoint=head.content.decode() if head.ok else "",
    )  # fmt: skip
