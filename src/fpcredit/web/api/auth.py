"""Tokens: staff (password + TOTP), department clients (client credentials), citizens (SMS code)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from fpcredit.errors import AuthError, InvalidIdNumber
from fpcredit.messages import text
from fpcredit.standard.idcard import normalize
from fpcredit.web.deps import PROBLEMS, CurrentCaller, Services, ServicesDep, invalid, limit

router = APIRouter(prefix="/v1/auth", tags=["auth"], responses=PROBLEMS)


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


@router.post("/token", response_model=Token)
def token(body: Login, services: ServicesDep) -> Token:
    """Exchange credentials for a short-lived signed token (401 with the reason when refused;
    429 when one username, client id or ID number is tried too often, from any address)."""
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
        raise HTTPException(401, str(e)) from None
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
