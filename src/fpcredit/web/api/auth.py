"""Tokens: staff (password + TOTP), department clients (client credentials), citizens (SMS code)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from fpcredit.errors import AuthError, InvalidIdNumber
from fpcredit.messages import text
from fpcredit.web.deps import PROBLEMS, CurrentCaller, ServicesDep, invalid

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


@router.post("/token", response_model=Token)
def token(body: Login, services: ServicesDep) -> Token:
    """Exchange credentials for a short-lived signed token (401 with the reason when refused)."""
    identity = services.identity
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
def citizen_code(body: CodeRequest, services: ServicesDep) -> CodeSent:
    """Send a one-time login code to the phone on file for this ID number."""
    try:
        services.identity.request_citizen_code(body.id_number)
    except InvalidIdNumber as e:
        raise invalid(["body", "id_number"], text("web.id_invalid", reason=e.reason)) from None
    except AuthError as e:
        raise HTTPException(429, str(e)) from None
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
