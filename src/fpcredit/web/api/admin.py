"""Administration for the system and security administrators (三员分立, guard/auth/admin.py).

Thin: each route checks nothing itself; the gate admits the route's roles (web/rules.py) and
`Administration` checks the duty and the target again and puts every action on the trail. A new
account's password and TOTP secret and a new client's secret are in the answer once, and nowhere
else (the answer is `no-store`, like every answer of the service).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel, Field

from fpcredit.errors import AuthError, PolicyError
from fpcredit.evaluate.active import Activation
from fpcredit.guard.access import Purpose, Role
from fpcredit.guard.auth import accounts, clients
from fpcredit.guard.auth.admin import Actor, Administration
from fpcredit.web.api.views import UtcTime
from fpcredit.web.deps import PROBLEMS, CurrentCaller, Problem, ServicesDep, invalid
from fpcredit.web.rotation import RotationJob, RotationStatus

router = APIRouter(
    prefix="/v1/admin",
    tags=["admin"],
    responses={
        **PROBLEMS,
        409: {"model": Problem, "description": "Exists already, or a rotation is running."},
    },
)

Username = Annotated[str, Path(min_length=1, max_length=64, description="The account's name.")]
ClientId = Annotated[str, Path(min_length=1, max_length=64, description="The client's id.")]
# Refusals by code; any other refusal of the library is a value the caller sent (422).
_STATUS = {
    "refused_role": 403,
    "refused_target": 403,
    "unknown_user": 404,
    "unknown_client": 404,
    "user_exists": 409,
    "client_exists": 409,
    "rotation_running": 409,
}


@contextmanager
def _answered() -> Iterator[None]:
    """The library's refusals as HTTP answers (each is on the trail already)."""
    try:
        yield
    except AuthError as e:
        status = _STATUS.get(e.code)
        if status is None:
            raise invalid(["body"], str(e)) from None
        raise HTTPException(status, str(e)) from None
    except PolicyError as e:
        raise invalid(["body", "text"], str(e)) from None


def _administration(
    request: Request, caller: CurrentCaller, services: ServicesDep
) -> Administration:
    address = request.client.host if request.client else None
    actor = Actor.of(caller.principal, address)
    return Administration(
        services.store, services.settings, actor, services.commits.append, vault=services.vault
    )


AdminDep = Annotated[Administration, Depends(_administration)]


# -- accounts ------------------------------------------------------------------------------


class UserView(BaseModel):
    """A staff or administrator account, without its secrets; its role never changes."""

    username: str
    role: Role
    region: str
    must_change_password: bool
    created_at: UtcTime
    last_login_at: UtcTime | None
    locked_until: UtcTime | None
    disabled_at: UtcTime | None
    disabled_reason: str | None = Field(description="`admin` or `dormant` when disabled.")


class Users(BaseModel):
    users: list[UserView]


class NewUser(BaseModel):
    role: Role = Field(description="A staff role: national, province, city or county.")
    region: str = Field(pattern=r"^\d{6}$", description="The region code (national: 000000).")
    username: str = Field(min_length=1, max_length=64)


class Enrolled(BaseModel):
    """Shown this once only: hand it to the holder in person."""

    user: UserView
    password: str = Field(description="One-time password, to be changed at the first login.")
    totp_secret: str = Field(description="Base32 secret of the holder's authenticator app.")
    totp_uri: str = Field(description="The same secret as an otpauth:// URI (QR code).")


def _user(u: accounts.User) -> UserView:
    return UserView(
        username=u.username,
        role=u.role,
        region=u.region,
        must_change_password=u.must_change,
        created_at=u.created_at,
        last_login_at=u.last_login_at,
        locked_until=u.locked_until,
        disabled_at=u.disabled_at,
        disabled_reason=u.disabled_reason,
    )


def _enrolled(made: accounts.Enrolment) -> Enrolled:
    assert made.password is not None  # generated: the API never takes a chosen password
    return Enrolled(
        user=_user(made.user),
        password=made.password,
        totp_secret=made.totp_secret,
        totp_uri=made.provisioning_uri,
    )


@router.get("/users", response_model=Users)
def list_users(admin: AdminDep) -> Users:
    """Every staff and administrator account."""
    with _answered():
        return Users(users=[_user(u) for u in admin.users()])


@router.post("/users", response_model=Enrolled, status_code=201)
def add_user(body: NewUser, admin: AdminDep) -> Enrolled:
    """Create a staff account (never an administrator's: those are made on the server)."""
    with _answered():
        return _enrolled(admin.add_user(body.role, body.region, body.username))


@router.post("/users/{username}/reset", response_model=Enrolled)
def reset_user(username: Username, admin: AdminDep) -> Enrolled:
    """New one-time password and TOTP secret for a staff account; its sessions end."""
    with _answered():
        return _enrolled(admin.reset_user(username))


@router.post("/users/{username}/disable", response_model=UserView)
def disable_user(username: Username, admin: AdminDep) -> UserView:
    """Disable a staff account; its sessions end at once."""
    with _answered():
        return _user(admin.disable_user(username))


@router.post("/users/{username}/enable", response_model=UserView)
def enable_user(username: Username, admin: AdminDep) -> UserView:
    """Enable a disabled staff account again."""
    with _answered():
        return _user(admin.enable_user(username))


# -- department clients --------------------------------------------------------------------


class ClientView(BaseModel):
    client_id: str
    source: str
    purposes: list[Purpose]
    created_at: UtcTime
    last_login_at: UtcTime | None
    disabled_at: UtcTime | None


class Clients(BaseModel):
    clients: list[ClientView]


class NewClient(BaseModel):
    source: str = Field(min_length=1, max_length=32, description="The department: health, …")
    purposes: list[Purpose] = Field(max_length=16, description="Purposes it may name.")
    incentives: list[str] = Field(
        default=[],
        max_length=64,
        description="Incentives of the active policy this department provides and may verify.",
    )


class ClientEnrolled(BaseModel):
    """Shown this once only."""

    client_id: str
    client_secret: str
    purposes: list[Purpose]
    incentives: list[str] = []


class ClientPurposes(BaseModel):
    purposes: list[Purpose] = Field(max_length=16)


def _client(c: clients.Client) -> ClientView:
    return ClientView(
        client_id=c.client_id,
        source=c.source,
        purposes=sorted(c.purposes),
        created_at=c.created_at,
        last_login_at=c.last_login_at,
        disabled_at=c.disabled_at,
    )


@router.get("/clients", response_model=Clients)
def list_clients(admin: AdminDep) -> Clients:
    """Every department client, without its secret."""
    with _answered():
        return Clients(clients=[_client(c) for c in admin.clients()])


@router.post("/clients", response_model=ClientEnrolled, status_code=201)
def add_client(body: NewClient, admin: AdminDep) -> ClientEnrolled:
    """Register a department system's client credentials."""
    with _answered():
        client_id, secret = admin.add_client(body.source, body.purposes, body.incentives)
    return ClientEnrolled(
        client_id=client_id,
        client_secret=secret,
        purposes=sorted(set(body.purposes)),
        incentives=sorted(set(body.incentives)),
    )


@router.post("/clients/{client_id}/disable", response_model=ClientView)
def disable_client(client_id: ClientId, admin: AdminDep) -> ClientView:
    """Retire a client; its sessions end at once."""
    with _answered():
        admin.disable_client(client_id)
        return _client(clients.get_client(admin.store, client_id))


@router.put("/clients/{client_id}/purposes", response_model=ClientView)
def set_client_purposes(client_id: ClientId, body: ClientPurposes, admin: AdminDep) -> ClientView:
    """Which purposes the client may name (the security administrator's); its sessions end."""
    with _answered():
        return _client(admin.set_client_purposes(client_id, body.purposes))


# -- keys and policies ---------------------------------------------------------------------


class RotationRequest(BaseModel):
    profile: Literal["default", "gm"] | None = Field(
        default=None, description="Move the store to this crypto profile; default: keep it."
    )


class RotationView(BaseModel):
    state: Literal["idle", "running", "done", "failed"]
    started_by: str | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    step: str | None
    report: dict[str, Any] | None
    error: str | None


def _job(request: Request) -> RotationJob:
    job: RotationJob = request.app.state.rotation
    return job


def _rotation(status: RotationStatus) -> RotationView:
    return RotationView(**vars(status))


@router.post("/keys/rotation", response_model=RotationView, status_code=202)
def rotate_keys(body: RotationRequest, request: Request, admin: AdminDep) -> RotationView:
    """Start a key rotation in the background (409 while one runs); follow it with GET."""
    with _answered():
        return _rotation(_job(request).start(admin, body.profile))


@router.get("/keys/rotation", response_model=RotationView)
def rotation(request: Request, admin: AdminDep) -> RotationView:
    """The service's key rotation: idle, running (its last step), done (its report), failed."""
    with _answered():
        admin.check("key_rotate")
    return _rotation(_job(request).status())


class ActivationView(BaseModel):
    number: int
    policy_id: str
    version: str
    sha256: str
    activated_by: str
    activated_at: UtcTime
    reason: str


class Policies(BaseModel):
    policies: list[ActivationView] = Field(description="Oldest first; the last is in force.")


class NewPolicy(BaseModel):
    text: str = Field(min_length=1, description="The policy YAML (docs/policy.md).")
    reason: str = Field(min_length=1, max_length=500, description="Why it is activated.")


def _activation(a: Activation) -> ActivationView:
    return ActivationView(**vars(a))


@router.get("/policies", response_model=Policies)
def list_policies(admin: AdminDep) -> Policies:
    """Every activation of a policy; none means the packaged default is in force."""
    with _answered():
        return Policies(policies=[_activation(a) for a in admin.policies()])


@router.post("/policies", response_model=ActivationView, status_code=201)
def activate_policy(body: NewPolicy, admin: AdminDep) -> ActivationView:
    """Validate a policy (422 listing the problems, as `fpcredit policy check`) and make it the
    policy evaluations and explanations use from now on."""
    with _answered():
        return _activation(admin.activate_policy(body.text.encode("utf-8"), body.reason))
