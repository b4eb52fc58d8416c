"""Who is calling: logins of staff, department clients and citizens; tokens and sessions.

Account administration (users, clients) lives in `guard.accounts` and is re-exported here.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final, Protocol

import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.errors import AuthError
from fpcredit.guard import passwords as pw
from fpcredit.guard.access import NATIONAL_REGION, ROLE_PURPOSES, Principal, Purpose, Role
from fpcredit.guard.accounts import (
    TOTP_FIELD,
    Client,
    Enrolment,
    User,
    add_client,
    add_user,
    client_of,
    disable_client,
    disable_dormant_users,
    disable_user,
    enable_user,
    get_user,
    list_clients,
    list_users,
    locked,
    refuse,
    reset_user,
)
from fpcredit.guard.crypto import Vault, load_vault
from fpcredit.guard.sms import SmsChannel, list_outbox, sms_channel
from fpcredit.guard.tokens import Claims, load_token_key, read_token, sign_token
from fpcredit.messages import text
from fpcredit.standard import idcard
from fpcredit.store import schema as s
from fpcredit.store.db import Store, utc_now

__all__ = [
    "Authenticator",
    "BiometricVerifier",
    "Client",
    "Enrolment",
    "IssuedToken",
    "UnconfiguredVerifier",
    "User",
    "add_client",
    "add_user",
    "disable_client",
    "disable_dormant_users",
    "disable_user",
    "enable_user",
    "get_user",
    "list_clients",
    "list_outbox",
    "list_users",
    "reset_user",
]

_CODE_FIELD: Final = "citizen_code"
_CODE_DIGITS: Final = 6
_PHONE: Final = re.compile(r"1\d{10}")

# How often a session's last activity is written (see `Authenticator._session`).
SEEN_EVERY_S: Final = 30
# How long a session found open is trusted without asking the store again (this process only;
# a logout here takes effect at once, a disable or logout elsewhere within this time).
RECHECK_S: Final = 1.0


# --- identity verification (R38) -----------------------------------------------------------


class BiometricVerifier(Protocol):
    """Checks that the one presenting an ID is its holder (face, fingerprint, …).

    Evidence is used for the one check and never stored.
    """

    def verify(self, person_id: int, evidence: bytes) -> bool: ...


class UnconfiguredVerifier:
    """The default: no biometric service is configured, so every check is refused."""

    def verify(self, person_id: int, evidence: bytes) -> bool:
        raise refuse("biometric_not_configured")


# --- logins, tokens and sessions -----------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    """A bearer token and what it stands for; `token` stays out of repr (and so of logs)."""

    token: str = field(repr=False)
    expires_at: dt.datetime
    principal: Principal


class Authenticator:
    """Logs staff, department clients and citizens in, and checks their tokens.

    One per process: it holds the vault and the token key. `clock` (naive UTC) is injectable so
    lock-outs, expiry and idle time can be tested without waiting.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings | None = None,
        *,
        vault: Vault | None = None,
        clock: Callable[[], dt.datetime] = utc_now,
        sms: SmsChannel | None = None,
        verifier: BiometricVerifier | None = None,
    ) -> None:
        self.store = store
        self.settings = settings or Settings()
        self.vault = vault or load_vault(self.settings.keys_dir)
        self.clock = clock
        self.sms = sms or sms_channel(self.settings, store, self.vault, clock)
        self.verifier = verifier or UnconfiguredVerifier()
        self._key = load_token_key(self.settings.keys_dir)
        # session id → when it was last found open (monotonic seconds, clock time)
        self._open_seen: dict[Any, tuple[float, dt.datetime]] = {}
        self._rechecking: dict[Any, float] = {}  # session → when a caller began to recheck it
        self._verified: dict[str, Claims] = {}  # token → its claims, signature checked
        self._hasher = pw.make_hasher(self.settings)

    def __repr__(self) -> str:  # the token key must never reach a log through repr()
        return f"Authenticator({self.store.engine.url.render_as_string(hide_password=True)})"

    @cached_property
    def _decoy(self) -> str:
        return pw.hash_password(self._hasher, secrets.token_urlsafe(16))

    def _spend_time(self, secret: str) -> None:
        # An unknown name costs the same Argon2 work as a known one: timing tells nothing.
        pw.verify_password(self._hasher, self._decoy, secret)

    # staff

    def login_staff(
        self, username: str, password: str, totp_code: str, new_password: str | None = None
    ) -> IssuedToken:
        """Password plus TOTP code; `new_password` replaces the password (required after a
        one-time password). Five consecutive failures lock the account for 15 minutes."""
        code = totp_code.strip()
        # Checked before the password, so that the answer never confirms a correct password.
        if not re.fullmatch(rf"[0-9]{{{pw.TOTP_DIGITS}}}", code):
            raise refuse("totp_required")
        now = self.clock()
        with self.store.engine.begin() as conn:
            outcome = self._staff_attempt(
                conn, username.strip().lower(), password, code, new_password, now
            )
        if isinstance(outcome, AuthError):
            raise outcome
        return self._issue(outcome)

    def _staff_attempt(
        self,
        conn: sa.Connection,
        name: str,
        password: str,
        code: str,
        new_password: str | None,
        now: dt.datetime,
    ) -> AuthError | Claims:
        u, cfg = s.users, self.settings
        row = conn.execute(sa.select(u).where(u.c.username == name).with_for_update()).first()
        if row is None:
            self._spend_time(password)
            return refuse("bad_credentials")
        if row.locked_until is not None and now < row.locked_until:
            return locked(row.locked_until)  # even with the right password; not counted
        changes: dict[str, Any] = {}
        failed = row.failed_logins
        if row.locked_until is not None:  # the lock has run out: a fresh count
            changes.update(locked_until=None, failed_logins=0)
            failed = 0
        disabled = row.disabled_reason
        if disabled is None and now - row.last_used_at >= dt.timedelta(days=cfg.account_idle_days):
            disabled = "dormant"
            changes.update(disabled_at=now, disabled_reason=disabled)

        def failure() -> AuthError:
            count = failed + 1
            if count >= cfg.lockout_failures:
                until = now + dt.timedelta(seconds=cfg.lockout_s)
                changes.update(failed_logins=0, locked_until=until)
                return locked(until)
            changes.update(failed_logins=count)
            return refuse("bad_credentials")

        outcome: AuthError | Claims
        ok, rehashed = pw.verify_password(self._hasher, row.password_hash, password)
        if not ok:
            outcome = failure()
        elif disabled is not None:
            outcome = (
                refuse("dormant", days=cfg.account_idle_days)
                if disabled == "dormant"
                else refuse("disabled")
            )
        elif row.must_change and new_password is None:
            outcome = refuse("password_change_required")
        elif new_password is not None and (
            weak := _new_password_problem(name, password, new_password)
        ):
            outcome = weak  # before the TOTP check, so a refused password wastes no code
        else:
            secret = self.vault.decrypt(row.totp_secret_enc, TOTP_FIELD) or ""
            step = pw.match_totp(secret, code, now, row.totp_last_step)
            if step is None:
                outcome = failure()
            else:
                changes.update(
                    failed_logins=0,
                    locked_until=None,
                    totp_last_step=step,
                    last_used_at=now,
                    last_login_at=now,
                )
                if new_password is not None:
                    changes.update(
                        password_hash=pw.hash_password(self._hasher, new_password),
                        must_change=False,
                        password_changed_at=now,
                    )
                elif rehashed is not None:
                    changes.update(password_hash=rehashed)
                role = Role(row.role)
                outcome = self._open(conn, role, name, row.region, ROLE_PURPOSES[role], None, now)
        if changes:
            conn.execute(u.update().where(u.c.id == row.id).values(**changes))
        return outcome

    # department clients

    def login_client(self, client_id: str, client_secret: str) -> IssuedToken:
        """Client credentials of a department system."""
        c, now = s.clients, self.clock()
        with self.store.engine.begin() as conn:
            row = conn.execute(sa.select(c).where(c.c.client_id == client_id)).first()
            if row is None:
                self._spend_time(client_secret)
                raise refuse("bad_credentials")
            ok, rehashed = pw.verify_password(self._hasher, row.secret_hash, client_secret)
            if not ok:
                raise refuse("bad_credentials")
            if row.disabled_at is not None:
                raise refuse("disabled")
            changes: dict[str, Any] = {"last_login_at": now}
            if rehashed is not None:
                changes["secret_hash"] = rehashed
            conn.execute(c.update().where(c.c.id == row.id).values(**changes))
            client = client_of(row)
            claims = self._open(
                conn,
                Role.DEPARTMENT,
                client.client_id,
                NATIONAL_REGION,
                client.purposes,
                client.source,
                now,
            )
        return self._issue(claims)

    # citizens

    def _person(self, number: str) -> tuple[int, str] | None:
        """(person id, home region) of the filed person with this (normalised) ID number."""
        p = s.persons
        bidx = self.vault.blind_indexes(number, "id_number")  # two while keys move profile
        query = (
            sa.select(p.c.id, p.c.hukou_region, p.c.residence_region)
            .where(p.c.id_number_bidx.in_(bidx), p.c.merged_into.is_(None), p.c.mentions > 0)
            .order_by(p.c.mentions.desc(), p.c.id)
            .limit(1)
        )
        with self.store.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return int(row.id), row.hukou_region or row.residence_region or number[:6]

    def _phone(self, conn: sa.Connection, person_id: int) -> str | None:
        """The mobile number most recently recorded for the person."""
        m, r, lk = s.mentions, s.records, s.links
        query = (
            sa.select(m.c.phone_enc)
            .join(r, r.c.id == m.c.record_id)
            .join(lk, lk.c.mention_id == m.c.id)
            .where(lk.c.person_id == person_id, m.c.phone_enc.is_not(None))
            .order_by(r.c.recorded_at.desc(), m.c.id.desc())
            .limit(1)
        )
        phone = self.vault.decrypt(conn.scalar(query), "phone")
        return phone if phone and _PHONE.fullmatch(phone) else None

    def _code_hash(self, salt: bytes, code: str) -> bytes:
        # Keyed: a 6-digit code under a plain hash would fall to 10⁶ guesses.
        digest = self.vault.blind_index(f"{bytes(salt).hex()}:{code}", _CODE_FIELD)
        assert digest is not None
        return digest

    def request_citizen_code(self, id_number: str) -> None:
        """Send a one-time login code to the phone on file for this ID number.

        An invalid number raises InvalidIdNumber (R38). Whether or not the number is filed,
        the answer is the same (so it does not tell who is filed); only a filed person with a
        phone gets a code, and at most one per `otp_resend_s`.
        """
        now, cfg = self.clock(), self.settings
        number = idcard.parse(id_number, today=now.date()).text
        person = self._person(number)
        if person is None:
            return
        t = s.citizen_codes
        mine = t.c.person_id == person[0]
        active = sa.and_(mine, t.c.closed_at.is_(None))
        with self.store.engine.begin() as conn:
            # Over all of the person's codes, burnt ones included: otherwise burning a code and
            # asking for the next would allow unlimited guessing.
            last = conn.scalar(sa.select(sa.func.max(t.c.created_at)).where(mine))
            if last is not None and (now - last).total_seconds() < cfg.otp_resend_s:
                return
            phone = self._phone(conn, person[0])
            if phone is None:
                return
            conn.execute(t.update().where(active).values(closed_at=now, closed_reason="replaced"))
            code = f"{secrets.randbelow(10**_CODE_DIGITS):0{_CODE_DIGITS}d}"
            salt = secrets.token_bytes(16)
            conn.execute(
                t.insert().values(
                    person_id=person[0],
                    salt=salt,
                    code_hash=self._code_hash(salt, code),
                    created_at=now,
                    expires_at=now + dt.timedelta(seconds=cfg.otp_lifetime_s),
                    attempts=0,
                )
            )
        # Sent after the commit: the outbox writes through its own connection.
        minutes = max(1, cfg.otp_lifetime_s // 60)
        self.sms.send(phone, text("auth.sms_code", code=code, minutes=minutes))

    def login_citizen(self, id_number: str, code: str) -> IssuedToken:
        """ID number plus the one-time code; the principal's subject is the person id."""
        now, cfg = self.clock(), self.settings
        number = idcard.parse(id_number, today=now.date()).text
        person = self._person(number)
        if person is None:
            raise refuse("bad_code")  # the same answer as a wrong code
        person_id, region = person
        t = s.citizen_codes
        with self.store.engine.begin() as conn:
            row = conn.execute(
                sa.select(t)
                .where(t.c.person_id == person_id, t.c.closed_at.is_(None))
                .order_by(t.c.id.desc())
                .limit(1)
                .with_for_update()
            ).first()
            outcome: AuthError | Claims = refuse("bad_code")
            if row is not None and now < row.expires_at:
                entered = self._code_hash(row.salt, code.strip())
                if hmac.compare_digest(entered, bytes(row.code_hash)):
                    done = {"closed_at": now, "closed_reason": "used"}
                    purposes = ROLE_PURPOSES[Role.CITIZEN]
                    outcome = self._open(
                        conn, Role.CITIZEN, str(person_id), region, purposes, None, now
                    )
                else:
                    tries = row.attempts + 1
                    done = {"attempts": tries}
                    if tries >= cfg.otp_max_attempts:
                        done.update(closed_at=now, closed_reason="burnt")
                conn.execute(t.update().where(t.c.id == row.id).values(**done))
        if isinstance(outcome, AuthError):
            raise outcome
        return self._issue(outcome)

    def verify_holder(self, id_number: str, evidence: bytes) -> bool:
        """R38: the number passes the standard's checks and the biometric verifier accepts the
        evidence for the person filed under it. The evidence is not kept."""
        number = idcard.parse(id_number, today=self.clock().date()).text
        person = self._person(number)
        return person is not None and self.verifier.verify(person[0], evidence)

    # tokens and sessions

    def _open(
        self,
        conn: sa.Connection,
        role: Role,
        subject: str,
        region: str,
        purposes: frozenset[Purpose],
        source: str | None,
        now: dt.datetime,
    ) -> Claims:
        sid = secrets.token_hex(16)
        conn.execute(
            s.sessions.insert().values(
                id=sid, role=role.value, subject=subject, created_at=now, last_seen_at=now
            )
        )
        issued = now.replace(microsecond=0)
        expires = issued + dt.timedelta(seconds=self.settings.token_lifetime_s)
        return Claims(role, subject, region, purposes, sid, issued, expires, source)

    def _issue(self, claims: Claims) -> IssuedToken:
        principal = Principal(
            claims.role, claims.subject, claims.region, claims.purposes, claims.source
        )
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

    def _recently_open(self, claims: Claims, now: dt.datetime) -> bool:
        """Whether the claims' session was found open less than RECHECK_S ago."""
        seen = self._open_seen.get(claims.session_id)
        # Both clocks: the process's (real time) and the injected one (tests move it by hand).
        return (
            seen is not None
            and max(time.monotonic() - seen[0], (now - seen[1]).total_seconds()) < RECHECK_S
        )

    def _session(self, token: str, *, allow_expired: bool) -> Claims:
        """The token's claims if its session is open and in use (this use counts as activity)."""
        claims = self._claims_of(token)
        now = self.clock()
        if not allow_expired and now >= claims.expires_at:
            raise refuse("expired")
        if self._recently_open(claims, now):
            return claims
        t = s.sessions
        idle = dt.timedelta(seconds=self.settings.session_idle_s)
        with self.store.engine.begin() as conn:
            row = conn.execute(sa.select(t).where(t.c.id == claims.session_id)).first()
            if row is None or (row.role, row.subject) != (claims.role.value, claims.subject):
                outcome: AuthError | None = refuse("invalid_token")
            elif row.closed_at is not None:
                outcome = refuse("session_closed")
            elif now - row.last_seen_at >= idle:
                conn.execute(
                    t.update().where(t.c.id == row.id).values(closed_at=now, closed_reason="idle")
                )
                outcome = refuse("session_idle", minutes=self.settings.session_idle_s // 60)
            else:
                # Activity is written at most every SEEN_EVERY_S: one write per request would make
                # every read a write (the idle limit is then at most that much early).
                if now - row.last_seen_at >= dt.timedelta(seconds=SEEN_EVERY_S):
                    conn.execute(
                        t.update()
                        .where(t.c.id == row.id)
                        .values(last_seen_at=max(now, row.last_seen_at))
                    )
                outcome = None
        self._rechecking.pop(claims.session_id, None)
        if outcome is not None:
            self._open_seen.pop(claims.session_id, None)
            raise outcome
        if len(self._open_seen) > 100_000:  # bounded: forget the lot rather than grow
            self._open_seen.clear()
            self._rechecking.clear()
        self._open_seen[claims.session_id] = (time.monotonic(), now)
        return claims

    def authenticate(self, token: str) -> Principal:
        """The caller a token stands for; AuthError (`invalid_token`, `expired`,
        `session_closed`, `session_idle`) when it stands for nobody."""
        claims = self._session(token, allow_expired=False)
        return Principal(claims.role, claims.subject, claims.region, claims.purposes, claims.source)

    def authenticate_known(self, token: str) -> Principal | None:
        """`authenticate` without the store: the caller when its token was verified before and
        its session found open within the last second; None when only `authenticate` can tell
        (it then also gives the reason for a refusal). Safe on the event loop."""
        claims = self._verified.get(token)
        if claims is None:
            return None
        now = self.clock()
        if now >= claims.expires_at or claims.session_id not in self._open_seen:
            return None
        if not self._recently_open(claims, now):
            # One caller looks at the session again; the others go on meanwhile with what was
            # found a second ago, instead of all asking the store at once (64 connections on
            # one token did). A closed session is refused once that one caller has looked.
            started = self._rechecking.get(claims.session_id)
            if started is None or time.monotonic() - started >= RECHECK_S:
                self._rechecking[claims.session_id] = time.monotonic()
                return None
        return Principal(claims.role, claims.subject, claims.region, claims.purposes, claims.source)

    def refresh(self, token: str) -> IssuedToken:
        """A new token for the same session. An expired token may be refreshed while its
        session is open and not idle, so the session's idle limit, not the token's short
        lifetime, decides when a user has to log in again."""
        claims = self._session(token, allow_expired=True)
        issued = self.clock().replace(microsecond=0)
        expires = issued + dt.timedelta(seconds=self.settings.token_lifetime_s)
        renewed = Claims(
            claims.role,
            claims.subject,
            claims.region,
            claims.purposes,
            claims.session_id,
            issued,
            expires,
            claims.source,
        )
        return self._issue(renewed)

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


def _new_password_problem(username: str, old: str, new: str) -> AuthError | None:
    if new == old:
        return AuthError("weak_password", text("auth.password_reused"), reason="reused")
    try:
        pw.check_password(new, username)
    except AuthError as e:
        return e
    return None
