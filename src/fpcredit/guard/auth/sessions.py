"""Sessions and their tokens: opened at a login, named by a signed token, checked at every use.

A session row holds what its caller may do (role, region, purposes); the token names only the
session. Closing the session (logout, idle time, an administrator's disable) stops its tokens.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.errors import AuthError
from fpcredit.guard.access import Principal, Purpose, Role
from fpcredit.guard.auth.accounts import refuse
from fpcredit.guard.auth.tokens import Claims, load_token_key, read_token, sign_token
from fpcredit.guard.trail.sealing import row_intact, sealing
from fpcredit.store import schema as s
from fpcredit.store.db import Store

__all__ = ["RECHECK_S", "SEEN_EVERY_S", "IssuedToken", "Sessions", "intact"]

log = logging.getLogger(__name__)

# How often a session's last activity is written (see `Sessions._session`).
SEEN_EVERY_S: Final = 30
# How long a session found open is trusted without asking the store again (this process only;
# a logout here takes effect at once, a disable or logout elsewhere within this time).
RECHECK_S: Final = 1.0


@dataclass(frozen=True)
class IssuedToken:
    """A bearer token and what it stands for; `token` stays out of repr (and so of logs)."""

    token: str = field(repr=False)
    expires_at: dt.datetime
    principal: Principal


def intact(conn: sa.Connection, table: str, key: object, settings: Settings) -> bool:
    """Whether a row still matches its seal; a row changed behind the platform's back is
    refused (and said so at CRITICAL: somebody with database access is at work)."""
    if row_intact(conn, table, key, settings.keys_dir):
        return True
    log.critical("a %s row does not match its seal: refused", table)
    return False


class Sessions:
    """The sessions of logged-in callers and the tokens that name them.

    One per process (the `Authenticator`'s): it holds the token key, and remembers which
    sessions it found open so that most requests need not ask the store.
    """

    def __init__(self, store: Store, settings: Settings, clock: Callable[[], dt.datetime]) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self._key = load_token_key(settings.keys_dir)
        # session id → when it was last found open (monotonic seconds, clock time) and its caller
        self._open_seen: dict[str, tuple[float, dt.datetime, Principal]] = {}
        self._rechecking: dict[str, float] = {}  # session → when a caller began to recheck it
        self._verified: dict[str, Claims] = {}  # token → its claims, signature checked

    def __repr__(self) -> str:  # the token key must never reach a log through repr()
        return f"Sessions({self.store.engine.url.render_as_string(hide_password=True)})"

    def open(
        self,
        conn: sa.Connection,
        role: Role,
        subject: str,
        region: str,
        purposes: frozenset[Purpose],
        source: str | None,
        now: dt.datetime,
    ) -> tuple[Claims, Principal]:
        """Open a session holding what its caller may do; the token will name it only."""
        sid = secrets.token_hex(16)
        with sealing(conn, "sessions", "WHERE id = :v", {"v": sid}, self.settings.keys_dir):
            conn.execute(
                s.sessions.insert().values(
                    id=sid,
                    role=role.value,
                    subject=subject,
                    region=region,
                    purposes=json.dumps(sorted(p.value for p in purposes)),
                    source=source,
                    created_at=now,
                    last_seen_at=now,
                )
            )
        issued = now.replace(microsecond=0)
        expires = issued + dt.timedelta(seconds=self.settings.token_lifetime_s)
        principal = Principal(role, subject, region, purposes, source)
        return Claims(subject, sid, issued, expires), principal

    def issue(self, claims: Claims, principal: Principal) -> IssuedToken:
        """The signed token of `claims`."""
        return IssuedToken(sign_token(self._key, claims), claims.expires_at, principal)

    def _claims_of(self, token: str) -> Claims:
        """The token's verified claims; a token once verified is not decoded again (its
        claims cannot change; expiry and the session are still checked at every use)."""
        claims = self._verified.get(token)
        if claims is None:
            claims = read_token(self._key, token)
            if len(self._verified) > 10_000:  # bounded: forget the lot rather than grow
                self._verified.clear()
            self._verified[token] = claims
        return claims

    def _recently_open(self, claims: Claims, now: dt.datetime) -> Principal | None:
        """The session's caller if it was found open less than RECHECK_S ago."""
        seen = self._open_seen.get(claims.session_id)
        # Both clocks: the process's (real time) and the injected one (tests move it by hand).
        if seen is None:
            return None
        age = max(time.monotonic() - seen[0], (now - seen[1]).total_seconds())
        return seen[2] if age < RECHECK_S else None

    def _check_session(self, claims: Claims, now: dt.datetime) -> AuthError | Principal:
        """Ask the store whether the claims' session is open and in use (this use counts as
        activity); its caller, as the session row says, or why not."""
        t = s.sessions
        idle = dt.timedelta(seconds=self.settings.session_idle_s)
        with self.store.engine.begin() as conn:
            row = conn.execute(sa.select(t).where(t.c.id == claims.session_id)).first()
            if row is None or row.subject != claims.subject:
                return refuse("invalid_token")
            if not intact(conn, "sessions", row.id, self.settings):
                return refuse("invalid_token")
            if row.closed_at is not None or row.region is None or row.purposes is None:
                return refuse("session_closed")
            if now - row.last_seen_at >= idle:
                closed = {"closed_at": now, "closed_reason": "idle"}
                conn.execute(t.update().where(t.c.id == row.id).values(**closed))
                return refuse("session_idle", minutes=self.settings.session_idle_s // 60)
            # Activity is written at most every SEEN_EVERY_S: one write per request would make
            # every read a write (the idle limit is then at most that much early).
            if now - row.last_seen_at >= dt.timedelta(seconds=SEEN_EVERY_S):
                seen = max(now, row.last_seen_at)
                conn.execute(t.update().where(t.c.id == row.id).values(last_seen_at=seen))
        purposes = frozenset(Purpose(p) for p in json.loads(row.purposes))
        return Principal(Role(row.role), row.subject, row.region, purposes, row.source)

    def _session(self, token: str, *, allow_expired: bool) -> tuple[Claims, Principal]:
        """The token's claims and caller if its session is open and in use."""
        claims = self._claims_of(token)
        now = self.clock()
        if not allow_expired and now >= claims.expires_at:
            raise refuse("expired")
        known = self._recently_open(claims, now)
        if known is not None:
            return claims, known
        outcome = self._check_session(claims, now)
        self._rechecking.pop(claims.session_id, None)
        if isinstance(outcome, AuthError):
            self._open_seen.pop(claims.session_id, None)
            raise outcome
        if len(self._open_seen) > 100_000:  # bounded: forget the lot rather than grow
            self._open_seen.clear()
            self._rechecking.clear()
        self._open_seen[claims.session_id] = (time.monotonic(), now, outcome)
        return claims, outcome

    def authenticate(self, token: str) -> Principal:
        """The caller a token stands for, as its session says; AuthError (`invalid_token`,
        `expired`, `session_closed`, `session_idle`) when it stands for nobody."""
        return self._session(token, allow_expired=False)[1]

    def authenticate_known(self, token: str) -> Principal | None:
        """`authenticate` without the store: the caller when its token was verified before and
        its session found open within the last second; None when only `authenticate` can tell
        (it then also gives the reason for a refusal). Safe on the event loop."""
        claims = self._verified.get(token)
        if claims is None:
            return None
        now = self.clock()
        seen = self._open_seen.get(claims.session_id)
        if now >= claims.expires_at or seen is None:
            return None
        if self._recently_open(claims, now) is None:
            # One caller looks at the session again; the others go on meanwhile with what was
            # found a second ago, instead of all asking the store at once (64 connections on
            # one token did). A closed session is refused once that one caller has looked.
            started = self._rechecking.get(claims.session_id)
            if started is None or time.monotonic() - started >= RECHECK_S:
                self._rechecking[claims.session_id] = time.monotonic()
                return None
        return seen[2]

    def refresh(self, token: str) -> IssuedToken:
        """A new token for the same session. An expired token may be refreshed while its
        session is open and not idle, so the session's idle limit, not the token's short
        lifetime, decides when a user has to log in again."""
        claims, principal = self._session(token, allow_expired=True)
        issued = self.clock().replace(microsecond=0)
        expires = issued + dt.timedelta(seconds=self.settings.token_lifetime_s)
        return self.issue(Claims(claims.subject, claims.session_id, issued, expires), principal)

    def logout(self, token: str) -> None:
        """Close the token's session; its tokens stop working. Closing twice is harmless."""
        claims = read_token(self._key, token)
        self._open_seen.pop(claims.session_id, None)
        t = s.sessions
        with self.store.engine.begin() as conn:
            conn.execute(
                t.update()
                .where(t.c.id == claims.session_id, t.c.closed_at.is_(None))
                .values(closed_at=self.clock(), closed_reason="logout")
            )
