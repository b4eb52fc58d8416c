"""Staff and administrator accounts: creating, resetting, disabling them.

An account holds one role, fixed when it is created: nothing here or anywhere else changes it
(三员分立 needs that no account ever holds two). Who may call which of these is decided by
`guard/auth/admin.py`; these functions are the store's side. Department clients are
`guard/auth/clients.py`; the refusals and sealed writes both use are here.
"""

from __future__ import annotations

import datetime as dt
import re
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.errors import AuthError
from fpcredit.guard.access import (
    ADMIN_ROLES,
    NATIONAL_REGION,
    STAFF_ROLES,
    Role,
)
from fpcredit.guard.auth import passwords as pw
from fpcredit.guard.keys.crypto import Vault, load_vault
from fpcredit.guard.trail.sealing import keys_of, sealing
from fpcredit.messages import text
from fpcredit.standard import regions
from fpcredit.store import schema as s
from fpcredit.store.db import Store, utc_now

__all__ = [
    "ACCOUNT_ROLES",
    "RESERVED_WORDS",
    "TOTP_FIELD",
    "Enrolment",
    "User",
    "add_user",
    "close_sessions",
    "disable_dormant_users",
    "disable_user",
    "enable_user",
    "get_user",
    "list_users",
    "locked",
    "recent_passwords",
    "refuse",
    "remember_password",
    "reset_user",
    "sealed",
    "valid_username",
]

ACCOUNT_ROLES: Final = STAFF_ROLES | ADMIN_ROLES
TOTP_FIELD: Final = "totp_secret"  # the vault's associated data for the secret's column
_USERNAME: Final = re.compile(r"[a-z][a-z0-9._-]{2,31}")
# Names that suggest a default, shared or built-in account: GB/T 22239 wants every account to
# belong to one person. The one rule: a username containing any of these words anywhere is
# refused (`admin2`, `root_1`, `test-user`, `sysadmin`, `webadmin`). None of them can occur
# inside a name spelt in pinyin; a real name that happens to hold one (`liuserong`) is
# accepted once split by a dot (`liu.serong`).
RESERVED_WORDS: Final = (
    "admin", "anonymous", "default", "demo", "fpcredit", "guest", "manager", "nobody",
    "operator", "public", "root", "service", "shared", "staff", "support", "sysop", "system",
    "temp", "test", "user",
)  # fmt: skip
_NATION_ONLY: Final = frozenset({Role.NATIONAL, Role.SYSADMIN, Role.SECADMIN})
_LEVEL: Final = {Role.PROVINCE: "province", Role.CITY: "prefecture", Role.COUNTY: "county"}


def sealed(
    conn: sa.Connection, store: Store, table: str, column: str, value: str
) -> AbstractContextManager[None]:
    """Keep the row's seal and the table's digest on the trail with this write (the row is
    found by a column the write does not change)."""
    return sealing(conn, table, f"WHERE {column} = :v", {"v": value}, keys_of(store))


def refuse(code: str, key: str | None = None, **values: object) -> AuthError:
    """AuthError `code` with the catalogue sentence `key` (default `auth.<code>`)."""
    return AuthError(code, text(key or f"auth.{code}", None, **values))


def locked(until: dt.datetime) -> AuthError:
    """AuthError `locked`, saying until when (UTC)."""
    return AuthError(
        "locked", text("auth.locked", until=f"{until:%Y-%m-%d %H:%M} UTC"), until=until
    )


# --- staff accounts ------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    """A staff or administrator account, without its secrets. Times are naive UTC."""

    username: str
    role: Role
    region: str
    must_change: bool
    created_at: dt.datetime
    last_login_at: dt.datetime | None
    locked_until: dt.datetime | None
    disabled_at: dt.datetime | None
    disabled_reason: str | None  # admin | dormant


class Enrolment(NamedTuple):
    """What `add_user` and `reset_user` hand out once: show it to the holder, then forget it."""

    user: User
    totp_secret: str  # base32, for the holder's authenticator app
    provisioning_uri: str  # otpauth:// URI of the same secret (QR code)
    password: str | None  # the generated one-time password; None when the caller chose one


def _user(row: sa.Row[Any]) -> User:
    return User(
        row.username,
        Role(row.role),
        row.region,
        bool(row.must_change),
        row.created_at,
        row.last_login_at,
        row.locked_until,
        row.disabled_at,
        row.disabled_reason,
    )


def _account_role(role: Role | str) -> Role:
    try:
        found = Role(role)
    except ValueError:
        found = None
    if found not in ACCOUNT_ROLES:
        raise refuse("bad_role", "users.bad_role", role=role)
    assert found is not None
    return found


def _check_region(role: Role, region: str) -> str:
    """The region a staff account is bound to, checked against GB/T 2260 as far as we know it."""
    code = region.strip()
    if code == NATIONAL_REGION:
        ok = role in _NATION_ONLY or role is Role.AUDITOR
    # The system and security administrators serve the whole platform, never one region.
    elif role in _NATION_ONLY or not re.fullmatch(r"\d{6}", code):
        ok = False
    else:
        level = "province" if code[2:] == "0000" else "prefecture" if code[4:] == "00" else "county"
        known = regions.lookup(code)
        # The table is partial (every province, some prefectures and counties): a code it lacks
        # passes on its shape, unless the table lists the counties of its prefecture.
        listed = known is not None and known.level == level
        unlisted = known is None and not (level == "county" and regions.counties(code[:4]))
        ok = (
            regions.lookup(code[:2] + "0000") is not None
            and (role is Role.AUDITOR or _LEVEL[role] == level)
            and (listed or unlisted)
        )
    if not ok:
        raise refuse("bad_region", "users.bad_region", role=role.value, region=code)
    return code


def valid_username(name: str) -> bool:
    """Whether `name` has the form of a username (not whether such an account exists)."""
    return bool(_USERNAME.fullmatch(name))


def _username(name: str) -> str:
    username = name.strip().lower()
    if not _USERNAME.fullmatch(username):
        raise refuse("bad_username", "users.bad_username")
    word = next((w for w in RESERVED_WORDS if w in username), None)
    if word is not None:
        raise refuse("reserved_username", "users.reserved_username", username=username, word=word)
    return username


def _enrol(settings: Settings, vault: Vault, username: str, password: str | None) -> dict[str, Any]:
    """Password hash and encrypted TOTP secret; the plaintexts go back under `_plain`."""
    chosen = pw.generate_password() if password is None else password
    pw.check_password(chosen, username)
    secret = pw.new_totp_secret()
    return {
        "password_hash": pw.hash_password(pw.make_hasher(settings), chosen),
        "must_change": password is None,
        "totp_secret_enc": vault.encrypt(secret, TOTP_FIELD),
        "totp_last_step": None,
        "failed_logins": 0,
        "locked_until": None,
        "_plain": (secret, None if password is not None else chosen),
    }


def _enrolment(settings: Settings, user: User, plain: tuple[str, str | None]) -> Enrolment:
    secret, password = plain
    uri = pw.provisioning_uri(secret, user.username, settings.totp_issuer)
    return Enrolment(user, secret, uri, password)


def add_user(
    store: Store,
    role: Role | str,
    region: str,
    username: str,
    password: str | None = None,
    *,
    settings: Settings | None = None,
    vault: Vault | None = None,
    now: dt.datetime | None = None,
) -> Enrolment:
    """Create a staff (national/province/city/county) or administrator (sysadmin, secadmin,
    auditor) account, with its one role for good.

    Without `password` a strong one-time password is generated, returned once and must be
    changed at the first login. The TOTP secret is returned once and stored only encrypted.
    """
    settings = settings or Settings()
    vault = vault or load_vault(settings.keys_dir)
    now = now or utc_now()
    account_role = _account_role(role)
    bound = _check_region(account_role, region)
    name = _username(username)
    values = _enrol(settings, vault, name, password)
    plain = values.pop("_plain")
    row = {"username": name, "role": account_role.value, "region": bound, **values}
    stamps = {"created_at": now, "last_used_at": now, "password_changed_at": now}
    try:
        with store.engine.begin() as conn, sealed(conn, store, "users", "username", name):
            made = conn.execute(s.users.insert().returning(s.users.c.id).values(**row, **stamps))
            remember_password(conn, made.scalar_one(), row["password_hash"], now)
    except sa.exc.IntegrityError as e:
        raise refuse("user_exists", "users.exists", username=name) from e
    return _enrolment(settings, get_user(store, name), plain)


def get_user(store: Store, username: str) -> User:
    """The account; AuthError `unknown_user` when there is none."""
    name = username.strip().lower()
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(s.users).where(s.users.c.username == name)).first()
    if row is None:
        raise refuse("unknown_user", "users.unknown", username=name)
    return _user(row)


def list_users(store: Store) -> list[User]:
    """Every account, by username."""
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(s.users).order_by(s.users.c.username)).all()
    return [_user(r) for r in rows]


def remember_password(
    conn: sa.Connection, user_id: int, password_hash: str, now: dt.datetime
) -> None:
    """Add a new password's hash to the account's history, which keeps the last HISTORY."""
    h = s.password_history
    conn.execute(h.insert().values(user_id=user_id, password_hash=password_hash, created_at=now))
    kept = sa.select(h.c.id).where(h.c.user_id == user_id).order_by(h.c.id.desc()).limit(pw.HISTORY)
    conn.execute(h.delete().where(h.c.user_id == user_id, h.c.id.not_in(kept.scalar_subquery())))


def recent_passwords(conn: sa.Connection, user_id: int) -> list[str]:
    """The hashes of the account's last HISTORY passwords, the one in use among them."""
    h = s.password_history
    query = sa.select(h.c.password_hash).where(h.c.user_id == user_id).order_by(h.c.id.desc())
    return list(conn.scalars(query.limit(pw.HISTORY)))


def close_sessions(
    conn: sa.Connection, role: str, subject: str, now: dt.datetime, why: str
) -> None:
    """Close the open sessions of one caller (an account or a client), with reason `why`."""
    t = s.sessions
    conn.execute(
        t.update()
        .where(t.c.role == role, t.c.subject == subject, t.c.closed_at.is_(None))
        .values(closed_at=now, closed_reason=why)
    )


def _update_user(
    store: Store, username: str, now: dt.datetime, why: str | None, **values: Any
) -> User:
    """Apply `values` to the account; close its open sessions with reason `why`."""
    user = get_user(store, username)
    u = s.users
    with store.engine.begin() as conn, sealed(conn, store, "users", "username", user.username):
        conn.execute(u.update().where(u.c.username == user.username).values(**values))
        if "password_hash" in values:  # a one-time password counts among the last five
            uid = conn.execute(sa.select(u.c.id).where(u.c.username == user.username)).scalar_one()
            remember_password(conn, uid, values["password_hash"], now)
        if why:
            close_sessions(conn, user.role.value, user.username, now, why)
    return get_user(store, username)


def disable_user(store: Store, username: str, *, now: dt.datetime | None = None) -> User:
    """Disable an account and close its sessions (its tokens stop working at once)."""
    now = now or utc_now()
    return _update_user(store, username, now, "disabled", disabled_at=now, disabled_reason="admin")


def enable_user(store: Store, username: str, *, now: dt.datetime | None = None) -> User:
    """Re-enable a disabled account; its 90-day dormancy clock starts again."""
    now = now or utc_now()
    return _update_user(
        store,
        username,
        now,
        None,
        disabled_at=None,
        disabled_reason=None,
        last_used_at=now,
        failed_logins=0,
        locked_until=None,
    )


def reset_user(
    store: Store,
    username: str,
    *,
    settings: Settings | None = None,
    vault: Vault | None = None,
    now: dt.datetime | None = None,
) -> Enrolment:
    """New one-time password and TOTP secret; unlocks, revives a dormant account, ends sessions.

    An account disabled by an administrator stays disabled (`enable_user` undoes that).
    """
    settings = settings or Settings()
    vault = vault or load_vault(settings.keys_dir)
    now = now or utc_now()
    user = get_user(store, username)
    values = _enrol(settings, vault, user.username, None)
    plain = values.pop("_plain")
    if user.disabled_reason == "dormant":
        values.update(disabled_at=None, disabled_reason=None)
    changed = _update_user(
        store, user.username, now, "reset", last_used_at=now, password_changed_at=now, **values
    )
    return _enrolment(settings, changed, plain)


def disable_dormant_users(
    store: Store, *, settings: Settings | None = None, now: dt.datetime | None = None
) -> list[str]:
    """Disable every account unused for `account_idle_days` (logins do this one by one)."""
    settings = settings or Settings()
    now = now or utc_now()
    u = s.users
    cutoff = now - dt.timedelta(days=settings.account_idle_days)
    dormant = sa.and_(u.c.disabled_at.is_(None), u.c.last_used_at <= cutoff)
    with store.engine.begin() as conn:
        found = conn.execute(
            sa.select(u.c.id, u.c.username).where(dormant).order_by(u.c.username)
        ).all()
        if found:
            ids = [int(i) for i, _name in found]
            where = f"WHERE id IN ({', '.join(map(str, ids))})"
            with sealing(conn, "users", where, {}, keys_of(store), action="users_dormant"):
                done = {"disabled_at": now, "disabled_reason": "dormant"}
                conn.execute(u.update().where(u.c.id.in_(ids)).values(**done))
    return [name for _id, name in found]
