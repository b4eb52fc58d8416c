"""Department clients: the client-credentials accounts of department systems.

A department has at most one active client; its purposes are among the department role's.
Who may call these is decided by `guard/auth/admin.py`; these functions are the store's side.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.guard.access import ROLE_PURPOSES, Purpose, Role
from fpcredit.guard.auth import passwords as pw
from fpcredit.guard.auth.accounts import close_sessions, refuse, sealed
from fpcredit.guard.trail.log import record_rows
from fpcredit.guard.trail.sealing import keys_of
from fpcredit.standard.elements import load_standard
from fpcredit.store import schema as s
from fpcredit.store.db import Store, utc_now

__all__ = [
    "Client",
    "add_client",
    "client_incentives",
    "client_of",
    "department_purposes",
    "disable_client",
    "get_client",
    "list_clients",
    "set_client_purposes",
]


@dataclass(frozen=True)
class Client:
    """A department system's client-credentials account, without its secret."""

    client_id: str
    source: str
    purposes: frozenset[Purpose]
    created_at: dt.datetime
    last_login_at: dt.datetime | None
    disabled_at: dt.datetime | None


def client_of(row: sa.Row[Any]) -> Client:
    """The client a `clients` row stands for."""
    purposes = frozenset(Purpose(p) for p in json.loads(row.purposes))
    return Client(
        row.client_id, row.source, purposes, row.created_at, row.last_login_at, row.disabled_at
    )


def add_client(
    store: Store,
    source: str,
    purposes: Iterable[Purpose | str],
    *,
    incentives: Iterable[str] = (),
    catalogue: Mapping[str, str] | None = None,
    settings: Settings | None = None,
    now: dt.datetime | None = None,
) -> tuple[str, str]:
    """Register the client of a department: (client_id, client_secret), secret once.

    A department is a data-providing source of the standard, or a department the active
    policy's incentive `catalogue` (incentive id → department) names; `incentives` are those it
    may verify, each one it provides. One active client per department; purposes must be among
    the department role's.
    """
    settings = settings or Settings()
    now = now or utc_now()
    catalogue = catalogue or {}
    if source not in load_standard().departments and source not in set(catalogue.values()):
        raise refuse("bad_source", "users.bad_source", source=source)
    wanted = department_purposes(purposes)
    verifies = sorted(set(incentives))
    for incentive in verifies:
        if catalogue.get(incentive) != source:
            raise refuse(
                "bad_incentive",
                "incentive.not_department_incentive",
                what=incentive,
                department=source,
            )
    c = s.clients
    client_id = f"{source}-{secrets.token_hex(4)}"
    secret = secrets.token_urlsafe(32)
    with store.engine.begin() as conn, sealed(conn, store, "clients", "client_id", client_id):
        active = sa.select(c.c.client_id).where(c.c.source == source, c.c.disabled_at.is_(None))
        if conn.execute(active).first() is not None:
            raise refuse("client_exists", "users.client_exists", source=source)
        conn.execute(
            c.insert().values(
                client_id=client_id,
                source=source,
                purposes=json.dumps(sorted(p.value for p in wanted)),
                secret_hash=pw.hash_password(pw.make_hasher(settings), secret),
                created_at=now,
            )
        )
        if verifies:
            _register_incentives(conn, store, client_id, verifies, now)
    return client_id, secret


def _register_incentives(
    conn: sa.Connection, store: Store, client_id: str, incentives: list[str], now: dt.datetime
) -> None:
    """The client's incentives, as rows the trail vouches for (one change entry)."""
    ci = s.client_incentives
    ids: list[int] = []
    for incentive in incentives:
        made = conn.execute(
            ci.insert().values(client_id=client_id, incentive=incentive, created_at=now)
        )
        key = made.inserted_primary_key
        assert key is not None
        ids.append(int(key[0]))
    record_rows(
        conn,
        "client_incentives",
        min(ids),
        max(ids),
        "system",
        "client_add",
        keys_dir=keys_of(store),
    )


def client_incentives(store: Store, client_id: str) -> frozenset[str]:
    """The incentives a department client was registered to verify."""
    ci = s.client_incentives
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(ci.c.incentive).where(ci.c.client_id == client_id))
        return frozenset(str(r[0]) for r in rows)


def list_clients(store: Store) -> list[Client]:
    """Every department client, by id."""
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(s.clients).order_by(s.clients.c.client_id)).all()
    return [client_of(r) for r in rows]


def disable_client(store: Store, client_id: str, *, now: dt.datetime | None = None) -> None:
    """Retire a client (e.g. to rotate its secret: disable, then add a new one)."""
    now = now or utc_now()
    c = s.clients
    with store.engine.begin() as conn, sealed(conn, store, "clients", "client_id", client_id):
        done = conn.execute(
            c.update().where(c.c.client_id == client_id).values(disabled_at=now)
        ).rowcount
        if not done:
            raise refuse("unknown_client", "users.unknown_client", client_id=client_id)
        close_sessions(conn, Role.DEPARTMENT.value, client_id, now, "disabled")


def get_client(store: Store, client_id: str) -> Client:
    """The client; AuthError `unknown_client` when there is none."""
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(s.clients).where(s.clients.c.client_id == client_id)).first()
    if row is None:
        raise refuse("unknown_client", "users.unknown_client", client_id=client_id)
    return client_of(row)


def department_purposes(purposes: Iterable[Purpose | str]) -> frozenset[Purpose]:
    """The purposes a department client may be registered with, checked: at least one, each
    among the department role's; AuthError `bad_purpose` naming the allowed ones otherwise."""
    allowed = ROLE_PURPOSES[Role.DEPARTMENT]
    permitted = ", ".join(sorted(allowed))
    wanted: set[Purpose] = set()
    for p in purposes:
        if p not in {a.value for a in allowed}:
            raise refuse("bad_purpose", "users.bad_purpose", purpose=p, allowed=permitted)
        wanted.add(Purpose(p))
    if not wanted:
        raise refuse("bad_purpose", "users.no_purpose", allowed=permitted)
    return frozenset(wanted)


def set_client_purposes(
    store: Store,
    client_id: str,
    purposes: Iterable[Purpose | str],
    *,
    now: dt.datetime | None = None,
) -> Client:
    """Change which purposes a department client may name (an access setting, the security
    administrator's). Its open sessions close: a session keeps the purposes of its login."""
    wanted = department_purposes(purposes)
    now = now or utc_now()
    c = s.clients
    with store.engine.begin() as conn, sealed(conn, store, "clients", "client_id", client_id):
        done = conn.execute(
            c.update()
            .where(c.c.client_id == client_id)
            .values(purposes=json.dumps(sorted(p.value for p in wanted)))
        ).rowcount
        if not done:
            raise refuse("unknown_client", "users.unknown_client", client_id=client_id)
        close_sessions(conn, Role.DEPARTMENT.value, client_id, now, "purposes")
    return get_client(store, client_id)
