"""Who is calling: logins of staff, department clients and citizens, and holder checks (R38).

A login opens a session (`guard.auth.sessions`), whose token then stands for the caller.
Accounts are made and changed in `guard.auth.accounts` and `guard.auth.clients`.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable
from functools import cached_property
from typing import Any, Protocol

import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.errors import AuthError
from fpcredit.guard.access import NATIONAL_REGION, ROLE_PURPOSES, Principal, Role
from fpcredit.guard.auth import passwords as pw
from fpcredit.guard.auth.accounts import (
    TOTP_FIELD,
    locked,
    recent_passwords,
    refuse,
    remember_password,
)
from fpcredit.guard.auth.citizens import CitizenCodes, CodeQueue
from fpcredit.guard.auth.clients import client_of
from fpcredit.guard.auth.sessions import IssuedToken, Sessions, intact
from fpcredit.guard.auth.tokens import Claims
from fpcredit.guard.keys.crypto import Vault, load_vault
from fpcredit.guard.trail.sealing import lock_tables, sealing
from fpcredit.notify.sms import SmsChannel, sms_channel
from fpcredit.standard import idcard
from fpcredit.store import schema as s
from fpcredit.store.db import Store, utc_now

__all__ = ["Authenticator", "BiometricVerifier", "UnconfiguredVerifier"]


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


# --- logins --------------------------------------------------------------------------------


class Authenticator:
    """Logs staff, department clients and citizens in, and checks their tokens.

    One per process: it holds the vault, and its `sessions` the token key. `clock` (naive UTC)
    is injectable so lock-outs, expiry and idle time can be tested without waiting.
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
        self.citizens = CitizenCodes(store, self.settings, self.vault, clock, self.sms)
        self.codes = CodeQueue(self.citizens.send, self.settings.code_queue_size)
        self.sessions = Sessions(store, self.settings, clock)
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

    def _new_password_problem(
        self, conn: sa.Connection, user_id: int, username: str, new: str
    ) -> AuthError | None:
        """Why `new` may not replace the account's password: the rule, or one of the last
        HISTORY passwords (the one in use and one-time passwords among them)."""
        try:
            pw.check_password(new, username)
        except AuthError as e:
            return e
        if pw.reused(self._hasher, recent_passwords(conn, user_id), new):
            return pw.weak("reused")
        return None

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
        return self.sessions.issue(*outcome)

    def _staff_attempt(
        self,
        conn: sa.Connection,
        name: str,
        password: str,
        code: str,
        new_password: str | None,
        now: dt.datetime,
    ) -> AuthError | tuple[Claims, Principal]:
        u, cfg = s.users, self.settings
        early = self._hash_first(conn, u.c.password_hash, u.c.username == name, password)
        # Before the row is read: every writer of accounts takes the lock first (PostgreSQL:
        # before the row lock, no deadlock; SQLite: the file's one write lock), so the count of
        # failures, the lockout and the last TOTP step read here are the latest — two attempts
        # at once can neither lose a failure nor both use one code.
        lock_tables(conn, ["users"])
        row = conn.execute(sa.select(u).where(u.c.username == name).with_for_update()).first()
        if row is None:
            if early is None:  # not yet made to take a password's time
                self._spend_time(password)
            return refuse("bad_credentials")
        if not intact(conn, "users", row.id, self.settings):
            return refuse("altered", "seal.row_refused")
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

        outcome: AuthError | tuple[Claims, Principal]
        ok, rehashed = self._secret_matches(early, row.password_hash, password)
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
            weak := self._new_password_problem(conn, row.id, name, new_password)
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
                    fresh = pw.hash_password(self._hasher, new_password)
                    remember_password(conn, row.id, fresh, now)
                    changes.update(password_hash=fresh, must_change=False, password_changed_at=now)
                elif rehashed is not None:
                    changes.update(password_hash=rehashed)
                role = Role(row.role)
                outcome = self.sessions.open(
                    conn, role, name, row.region, ROLE_PURPOSES[role], None, now
                )
        if changes:
            with sealing(conn, "users", "WHERE id = :v", {"v": row.id}, cfg.keys_dir):
                conn.execute(u.update().where(u.c.id == row.id).values(**changes))
        return outcome

    def _hash_first(
        self,
        conn: sa.Connection,
        column: sa.Column[Any],
        where: sa.ColumnElement[bool],
        secret: str,
    ) -> tuple[str | None, tuple[bool, str | None]] | None:
        """On SQLite, the stored hash read and `secret` checked against it before the write
        lock is taken: holding the file's one lock across Argon2 would hold every writer (a
        row changed meanwhile is checked again, `_secret_matches`). None on PostgreSQL, whose lock
        holds only the table's writers."""
        if conn.dialect.name == "postgresql":
            return None
        stored = conn.execute(sa.select(column).where(where)).scalar()
        if stored is None:
            self._spend_time(secret)
            return (None, (False, None))
        return stored, pw.verify_password(self._hasher, stored, secret)

    def _secret_matches(
        self,
        early: tuple[str | None, tuple[bool, str | None]] | None,
        stored: str,
        secret: str,
    ) -> tuple[bool, str | None]:
        """`secret` against the hash `stored` now: the check made before the lock when it was
        made against this hash, else made now."""
        if early is not None and early[0] == stored:
            return early[1]
        return pw.verify_password(self._hasher, stored, secret)

    # department clients

    def login_client(self, client_id: str, client_secret: str) -> IssuedToken:
        """Client credentials of a department system."""
        c, now = s.clients, self.clock()
        with self.store.engine.begin() as conn:
            where = c.c.client_id == client_id
            early = self._hash_first(conn, c.c.secret_hash, where, client_secret)
            lock_tables(conn, ["clients"])  # as for accounts (`_staff_attempt`)
            row = conn.execute(sa.select(c).where(where)).first()
            if row is None:
                if early is None:
                    self._spend_time(client_secret)
                raise refuse("bad_credentials")
            if not intact(conn, "clients", row.id, self.settings):
                raise refuse("altered", "seal.row_refused")
            ok, rehashed = self._secret_matches(early, row.secret_hash, client_secret)
            if not ok:
                raise refuse("bad_credentials")
            if row.disabled_at is not None:
                raise refuse("disabled")
            changes: dict[str, Any] = {"last_login_at": now}
            if rehashed is not None:
                changes["secret_hash"] = rehashed
            with sealing(conn, "clients", "WHERE id = :v", {"v": row.id}, self.settings.keys_dir):
                conn.execute(c.update().where(c.c.id == row.id).values(**changes))
            client = client_of(row)
            opened = self.sessions.open(
                conn,
                Role.DEPARTMENT,
                client.client_id,
                NATIONAL_REGION,
                client.purposes,
                client.source,
                now,
            )
        return self.sessions.issue(*opened)

    # citizens

    def _number(self, id_number: str) -> str:
        """The normalised ID number; InvalidIdNumber (R38) names the failed check."""
        return idcard.parse(id_number, today=self.clock().date()).text

    def request_citizen_code(self, id_number: str) -> None:
        """Send a one-time login code to the phone on file for this ID number, now.

        An invalid number raises InvalidIdNumber (R38). Only a filed person with a phone gets a
        code, at most one per `otp_resend_s`; the caller is told nothing either way. The
        service answers without waiting for this work: `queue_citizen_code`.
        """
        self.citizens.send(self._number(id_number))

    def queue_citizen_code(self, id_number: str) -> None:
        """`request_citizen_code` in the background: checks the number's form and returns at
        once, so neither the answer nor its timing tells whether the number is filed."""
        self.codes.submit(self._number(id_number))

    def login_citizen(self, id_number: str, code: str) -> IssuedToken:
        """ID number plus the one-time code; the principal's subject is the person id.

        A wrong, expired, used or burnt code and an unfiled number all answer `bad_code`, and
        an unfiled number costs the same work as a wrong code."""
        now = self.clock()
        person = self.citizens.person(self._number(id_number))
        with self.store.engine.begin() as conn:
            if not self.citizens.check(conn, person, code, now) or person is None:
                opened = None
            else:
                person_id, region = person
                purposes = ROLE_PURPOSES[Role.CITIZEN]
                opened = self.sessions.open(
                    conn, Role.CITIZEN, str(person_id), region, purposes, None, now
                )
        if opened is None:
            raise refuse("bad_code")
        return self.sessions.issue(*opened)

    def verify_holder(self, id_number: str, evidence: bytes) -> bool:
        """R38: the number passes the standard's checks and the biometric verifier accepts the
        evidence for the person filed under it. The evidence is not kept."""
        person = self.citizens.person(self._number(id_number))
        return person is not None and self.verifier.verify(person[0], evidence)

    # sessions

    def authenticate(self, token: str) -> Principal:
        """The caller a token stands for (`Sessions.authenticate`)."""
        return self.sessions.authenticate(token)

    def authenticate_known(self, token: str) -> Principal | None:
        """The caller without asking the store, when known (`Sessions.authenticate_known`)."""
        return self.sessions.authenticate_known(token)

    def refresh(self, token: str) -> IssuedToken:
        """A new token for the same session (`Sessions.refresh`)."""
        return self.sessions.refresh(token)

    def logout(self, token: str) -> None:
        """Close the token's session (`Sessions.logout`)."""
        self.sessions.logout(token)
