"""Citizens' one-time login codes: sent in the background, checked with the same work for all.

Neither the answer to a code request nor its timing may tell whether an ID number is filed:
`CodeQueue` takes the request and answers at once, and a worker thread does the lookup, the
code and the message. A login with an unfiled number does the work of a wrong code.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hmac
import logging
import queue
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from typing import Final

import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.guard.keys.crypto import Vault
from fpcredit.guard.trail.entries import lock
from fpcredit.messages import language, text, using_language
from fpcredit.notify.sms import SmsChannel
from fpcredit.store import schema as s
from fpcredit.store.db import Store

__all__ = ["CitizenCodes", "CodeQueue"]
log = logging.getLogger(__name__)

_CODE_FIELD: Final = "citizen_code"
_CODE_DIGITS: Final = 6
_PHONE: Final = re.compile(r"1\d{10}")
_NOBODY: Final = 0  # a person id no row has: an unfiled number's code lookups find nothing


class CitizenCodes:
    """Issues and checks the codes of filed persons (ID numbers given normalised)."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        vault: Vault,
        clock: Callable[[], dt.datetime],
        sms: SmsChannel,
    ) -> None:
        self.store = store
        self.settings = settings
        self.vault = vault
        self.clock = clock
        self.sms = sms
        self._decoy_salt = secrets.token_bytes(16)

    def person(self, number: str) -> tuple[int, str] | None:
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

    def send(self, number: str) -> None:
        """Send a code to the phone on file for `number`, if it is filed, has a phone, and was
        not sent one within `otp_resend_s`; otherwise do nothing (the caller was answered)."""
        person = self.person(number)
        if person is None:
            return
        now, cfg, t = self.clock(), self.settings, s.citizen_codes
        mine = t.c.person_id == person[0]
        with self.store.engine.begin() as conn:
            # Over all of the person's codes, burnt ones included: otherwise burning a code and
            # asking for the next would allow unlimited guessing.
            last = conn.scalar(sa.select(sa.func.max(t.c.created_at)).where(mine))
            if last is not None and (now - last).total_seconds() < cfg.otp_resend_s:
                return
            phone = self._phone(conn, person[0])
            if phone is None:
                return
            active = sa.and_(mine, t.c.closed_at.is_(None))
            conn.execute(t.update().where(active).values(closed_at=now, closed_reason="replaced"))
            code = f"{secrets.randbelow(10**_CODE_DIGITS):0{_CODE_DIGITS}d}"
            salt = secrets.token_bytes(16)
            expires = now + dt.timedelta(seconds=cfg.otp_lifetime_s)
            conn.execute(
                t.insert().values(
                    person_id=person[0],
                    salt=salt,
                    code_hash=self._code_hash(salt, code),
                    created_at=now,
                    expires_at=expires,
                    attempts=0,
                )
            )
        # Sent after the commit: the outbox writes through its own connection.
        minutes = max(1, cfg.otp_lifetime_s // 60)
        self.sms.send(phone, text("auth.sms_code", code=code, minutes=minutes))

    def check(
        self, conn: sa.Connection, person: tuple[int, str] | None, code: str, now: dt.datetime
    ) -> bool:
        """Whether `code` is the person's open, unexpired code; it is then closed as used, and
        a wrong one counts towards burning it. For an unfiled number (`person` None) the same
        statements and hash run against no row, so the answer takes as long as a wrong code."""
        t = s.citizen_codes
        pid = person[0] if person is not None else _NOBODY
        if conn.dialect.name == "sqlite":
            # The file's write lock before the read (FOR UPDATE below is PostgreSQL's): guesses
            # sent at once each read the count the last one wrote, so none goes uncounted and
            # a code lets in one login only.
            lock(conn)
        row = conn.execute(
            sa.select(t)
            .where(t.c.person_id == pid, t.c.closed_at.is_(None))
            .order_by(t.c.id.desc())
            .limit(1)
            .with_for_update()
        ).first()
        salt = bytes(row.salt) if row is not None else self._decoy_salt
        entered = self._code_hash(salt, code.strip())
        stored = bytes(row.code_hash) if row is not None else bytes(len(entered))
        right = hmac.compare_digest(entered, stored) and row is not None
        if row is not None and now >= row.expires_at:
            return False  # expired: not counted as a wrong entry
        done: dict[str, object]
        if right:
            done = {"closed_at": now, "closed_reason": "used"}
        else:
            tries = (row.attempts if row is not None else 0) + 1
            done = {"attempts": tries}
            if tries >= self.settings.otp_max_attempts:
                done.update(closed_at=now, closed_reason="burnt")
        target = row.id if row is not None else _NOBODY
        conn.execute(t.update().where(t.c.id == target).values(**done))
        return right


_STOP: Final = object()


class CodeQueue:
    """A bounded queue of code requests and the one worker thread that sends them.

    `submit` never waits and never fails: a full queue drops the request (and logs that it
    did, without the number), so the caller's answer is the same in every case. The worker
    starts with the first request. `held()` keeps the worker from taking requests (a seam for
    tests that show the answer does not wait for the work); `drain()` waits for the queue to
    empty.
    """

    def __init__(self, handle: Callable[[str], None], size: int) -> None:
        self._handle = handle
        self._queue: queue.Queue[object] = queue.Queue(maxsize=size)
        self._go = threading.Event()
        self._go.set()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self.dropped = 0

    def submit(self, number: str) -> None:
        """Queue a request for `number` (normalised); returns at once. The text is sent in the
        language of the request that asked (the worker thread has none of its own)."""
        self._start()
        try:
            self._queue.put_nowait((number, language()))
        except queue.Full:
            self.dropped += 1
            log.warning("citizen-code queue full: a request was dropped")

    def _start(self) -> None:
        if self._worker is not None:
            return
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._run, name="fpcredit-citizen-codes", daemon=True
                )
                self._worker.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            self._go.wait()  # after the get: a worker already waiting in get() is held too
            try:
                if item is _STOP:
                    return
                assert isinstance(item, tuple)
                number, lang = item
                with using_language(lang):
                    self._handle(number)
            except Exception as e:  # the worker outlives a failed request
                # Only the type: a driver's message may quote parameters.
                log.error("citizen code request failed (%s)", type(e).__name__)
            finally:
                self._queue.task_done()

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Keep the worker from taking requests while the block runs."""
        self._go.clear()
        try:
            yield
        finally:
            self._go.set()

    def drain(self) -> None:
        """Wait until every queued request has been handled."""
        if self._worker is not None:
            self._queue.join()

    def close(self, timeout: float = 10.0) -> None:
        """Handle what is queued, then stop the worker."""
        worker = self._worker
        if worker is None:
            return
        self._go.set()
        self._queue.put(_STOP)
        worker.join(timeout)
        self._worker = None
