"""Tokens: staff (password + TOTP), department clients (client credentials), citizens (SMS code).

Every login, let in or refused, is on the trail (action `login`): the outcome (`ok`, or the
refusal's code: `bad_credentials`, `locked`, `bad_code`, …), the caller's address, the actor —
`role:name` once let in, else the kind of login and the typed name where it is a valid one
(`staff:li.ming`, `department:health-1a2b3c4d`), `staff:-` where it is not — and the subject
(`user:<typed name>`, `client:<typed id>`, or the citizen's person id, so that a citizen finds
every login to their file in their access log). A login refused by the rate limit is not.
"""

from __future__ import annotations

import re
from typing import Annotated, Final, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from fpcredit.errors import AuthError, InvalidIdNumber, TrailError
from fpcredit.guard.access import Principal, Role
from fpcredit.guard.auth.accounts import valid_username
from fpcredit.guard.trail.entries import check_code
from fpcredit.guard.trail.log import Event
from fpcredit.messages import text
from fpcredit.standard.idcard import normalize
from fpcredit.web.deps import PROBLEMS, CurrentCaller, Services, ServicesDep, invalid, limit

router = APIRouter(prefix="/v1/auth", tags=["auth"], responses=PROBLEMS)
_CLIENT_ID: Final = re.compile(r"[a-z]{2,16}-[0-9a-f]{8}")  # as clients.add_client makes them


class StaffLogin(BaseModel):
    grant_type: Literal["password"]
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    totp: str = Field(min_length=6, max_length=8, description="The 6-digit code of the TOTP app.")
    new_password: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="Replaces the password; required at the first login with a one-time password.",
    )


class ClientLogin(BaseModel):
    grant_type: Literal["client_credentials"]
    client_id: str = Field(min_length=1, max_length=64)
    client_secret: str = Field(min_length=1, max_length=256)


class CitizenLogin(BaseModel):
    grant_type: Literal["citizen_code"]
    id_number: str = Field(min_length=15, max_length=18)
    code: str = Field(min_length=6, max_length=6)


Login = Annotated[StaffLogin | ClientLogin | CitizenLogin, Field(discriminator="grant_type")]


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class CodeRequest(BaseModel):
    id_number: str = Field(min_length=15, max_length=18)


class CodeSent(BaseModel):
    sent: bool = Field(description="Always true, so the answer does not reveal who is on file.")
    expires_in: int


class LoggedOut(BaseModel):
    logged_out: bool


class SessionView(BaseModel):
    """Who the presented token names: what the caller may do, as the gate will judge it."""

    role: str
    subject: str
    region: str
    purposes: list[str] = Field(description="The purposes this caller may name.")


def _id_number(raw: str) -> str:
    """The normalised ID number; 422 naming the failed check (the number is not echoed)."""
    try:
        return normalize(raw)
    except InvalidIdNumber as e:
        raise invalid(["body", "id_number"], text("web.id_invalid", reason=e.reason)) from None


def _login_name(body: StaffLogin | ClientLogin | CitizenLogin, services: Services) -> str:
    """Whose login this is, as a bucket key: the username, client id or ID number."""
    limits = services.limits
    if isinstance(body, StaffLogin):
        return limits.name("username", body.username.strip().lower())
    if isinstance(body, ClientLogin):
        return limits.name("client", body.client_id.strip())
    try:
        number = normalize(body.id_number)
    except InvalidIdNumber:  # refused by the login itself (401), counted all the same
        number = body.id_number.strip().upper()
    return limits.name("id_number", number)


def _named(kind: str, name: str, valid: bool) -> str:
    """`kind:name` as the trail's actor, or `kind:-` when the typed name is not a valid name
    (it is then only in the hashed subject: what was typed may be anything, an ID number too)."""
    actor = f"{kind}:{name}"
    try:
        check_code("actor", actor)
    except TrailError:
        valid = False
    return actor if valid else f"{kind}:-"


def _filed(raw: str, services: Services) -> str | None:
    """The person id of a citizen's login, if the number is filed (one lookup, filed or not)."""
    try:
        number = normalize(raw)
    except InvalidIdNumber:
        return None
    person = services.identity.citizens.person(number)
    return None if person is None else str(person[0])


def _refused(body: StaffLogin | ClientLogin | CitizenLogin, services: Services) -> Event:
    """The actor and subject of a refused login, from what was typed."""
    if isinstance(body, StaffLogin):
        name = body.username.strip().lower()
        return Event(_named("staff", name, valid_username(name)), "login", subject=f"user:{name}")
    if isinstance(body, ClientLogin):
        cid = body.client_id.strip()
        valid = bool(_CLIENT_ID.fullmatch(cid))
        return Event(_named("department", cid, valid), "login", subject=f"client:{cid}")
    return Event("citizen:-", "login", subject=_filed(body.id_number, services))


def _let_in(principal: Principal) -> Event:
    role, who = principal.role, principal.subject
    subject = {Role.CITIZEN: who, Role.DEPARTMENT: f"client:{who}"}.get(role, f"user:{who}")
    return Event(f"{role.value}:{who}", "login", subject=subject)


def _on_trail(services: Services, event: Event, outcome: str, request: Request) -> None:
    address = request.client.host if request.client else None
    services.commits.append(Event(event.actor, event.action, outcome, event.subject, None, address))


@router.post("/token", response_model=Token)
def token(body: Login, request: Request, services: ServicesDep) -> Token:
    """Exchange credentials for a short-lived signed token (401 with the reason when refused;
    429 when one username, client id or ID number is tried too often, from any address).
    Every login, let in or refused, is on the trail with the caller's address."""
    identity = services.identity
    if services.limits.login.enabled:
        limit(services.limits.login, _login_name(body, services))
    try:
        if isinstance(body, StaffLogin):
            issued = identity.login_staff(
                body.username, body.password, body.totp, body.new_password
            )
        elif isinstance(body, ClientLogin):
            issued = identity.login_client(body.client_id, body.client_secret)
        else:
            issued = identity.login_citizen(body.id_number, body.code)
    except (AuthError, InvalidIdNumber) as e:
        outcome = e.code if isinstance(e, AuthError) else "invalid_id"
        _on_trail(services, _refused(body, services), outcome, request)
        raise HTTPException(401, str(e)) from None
    _on_trail(services, _let_in(issued.principal), "ok", request)
    left = (issued.expires_at - identity.clock()).total_seconds()
    return Token(access_token=issued.token, expires_in=max(0, int(left)))


@router.post("/citizen-code", response_model=CodeSent, status_code=202)
async def citizen_code(body: CodeRequest, services: ServicesDep) -> CodeSent:
    """Send a one-time login code to the phone on file for this ID number.

    Answered at once, the same way whether or not the number is filed: the lookup, the code
    and the message are the work of a background sender. 429 when one ID number is asked for
    too often, from any address."""
    number = _id_number(body.id_number)
    if services.limits.code.enabled:
        limit(services.limits.code, services.limits.name("id_number", number))
    services.identity.queue_citizen_code(number)
    return CodeSent(sent=True, expires_in=services.settings.otp_lifetime_s)


@router.post("/refresh", response_model=Token)
def refresh(request: Request, caller: CurrentCaller, services: ServicesDep) -> Token:
    """A new token for the same session (the session's 15-minute idle limit still applies)."""
    identity = services.identity
    try:
        issued = identity.refresh(_presented(request))
    except AuthError as e:
        raise HTTPException(401, str(e)) from None
    left = (issued.expires_at - identity.clock()).total_seconds()
    return Token(access_token=issued.token, expires_in=max(0, int(left)))


def _presented(request: Request) -> str:
    return request.headers.get("authorization", "").partition(" ")[2].strip()


@router.post("/logout", response_model=LoggedOut)
def logout(request: Request, caller: CurrentCaller, services: ServicesDep) -> LoggedOut:
    """Close the session of the presented token."""
    services.identity.logout(_presented(request))
    return LoggedOut(logged_out=True)


@router.get("/session", response_model=SessionView)
async def session(caller: CurrentCaller) -> SessionView:
    """Who I am to the service: role, name, region and the purposes I may name."""
    principal = caller.principal
    return SessionView(
        role=principal.role.value,
        subject=principal.subject,
        region=principal.region,
        purposes=sorted(p.value for p in principal.purposes if principal.may(p)),
    )
