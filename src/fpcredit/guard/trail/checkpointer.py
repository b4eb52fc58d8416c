"""The background checkpointer: the service signs the trail's new entries within a second.

`Checkpointer` signs at most `every_s` (1 s) after new entries, or as soon as `max_entries`
(1,000) are waiting, and hands each new checkpoint to the witnesses. Signing itself, and what it
refuses, is `guard/trail/checkpoints.py`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from fpcredit.config import Settings
from fpcredit.errors import TrailError
from fpcredit.guard.trail import tlog

if TYPE_CHECKING:
    from fpcredit.guard.trail.log import Trail

__all__ = ["Checkpointer", "Offer", "background"]

log = logging.getLogger(__name__)


class Offer(Protocol):
    """Where a new signed checkpoint goes after signing (a witness's submitter thread)."""

    def offer(self, note: str) -> None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


class Checkpointer:
    """Signs a checkpoint at most `every_s` after new entries, or once `max_entries` wait.

    The trail tells it of its own appends (`appended`, after each commit); entries appended by
    other processes are noticed by looking at the log's size every `every_s`. The clock is
    injectable: tests drive `tick` themselves instead of starting the thread.
    """

    def __init__(
        self,
        trail: Trail,
        *,
        every_s: float = 1.0,
        max_entries: int = 1000,
        retry_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        witnesses: Sequence[Offer] = (),
    ) -> None:
        self.trail = trail
        self.every_s, self.max_entries, self.retry_s = every_s, max_entries, retry_s
        self.clock = clock
        self.witnesses = list(witnesses)
        self._cond = threading.Condition()
        self._pending = 0  # entries appended since the last signing
        self._since: float | None = None  # when the first of them was seen
        self._signed: int | None = None  # the size last signed (None: not known yet)
        self._next_look = clock()  # when to look at the log's size next
        self._hold_until = -float("inf")  # after a refusal: nothing is signed before then
        self._stop = False
        self._thread: threading.Thread | None = None

    def appended(self, count: int) -> None:
        """Note entries appended (any thread; cheap: it runs after every commit)."""
        with self._cond:
            if self._since is None:
                self._since = self.clock()
                self._cond.notify()
            self._pending += count
            if self._pending >= self.max_entries:
                self._cond.notify()

    def _wait_s(self, now: float) -> float:
        """Seconds until something is due (0: now)."""
        if now < self._hold_until:
            return self._hold_until - now
        if self._pending >= self.max_entries:
            return 0.0
        due = self._next_look if self._since is None else self._since + self.every_s
        return max(0.0, min(due, self._next_look) - now)

    def tick(self) -> str | None:
        """Sign if due by the clock; returns the note signed (None when nothing was due)."""
        now = self.clock()
        with self._cond:
            if self._wait_s(now) > 0:
                return None
            looking = now >= self._next_look
            self._next_look = now + self.every_s
            waiting = self._since is not None
        if waiting or (looking and self._grown()):
            return self.sign()
        return None

    def _grown(self) -> bool:
        """Whether the log holds entries not signed yet (appended by anyone)."""
        size = self.trail.size()
        if self._signed is None:
            note = self.trail.latest_checkpoint()
            self._signed = 0 if note is None else _size_of(note)
        return size > self._signed

    def sign(self) -> str | None:
        """Sign now and hand the note to the witnesses. A refusal is logged (CRITICAL, by
        `checkpoints.sign`) and retried after `retry_s`, never raised: the service goes on
        serving."""
        with self._cond:
            pending, self._pending, self._since = self._pending, 0, None
        try:
            note = self.trail.checkpoint()
        except Exception as e:  # refused, or the database away for a moment
            if not isinstance(e, TrailError):
                log.warning("checkpoint not signed", exc_info=True)
            with self._cond:
                self._pending += pending
                self._since = self.clock()
                pause = self.retry_s if isinstance(e, TrailError) else self.every_s
                self._hold_until = self._since + pause
            return None
        size, before = _size_of(note), self._signed
        self._signed = size
        if before is None or size > before:  # not one another process signed and handed on
            for witness in self.witnesses:
                witness.offer(note)
        return note

    def start(self) -> None:
        """Listen to the trail and sign in a thread of its own until `stop`; the witnesses are
        offered the latest checkpoint at once (one they missed while down or stopped)."""
        for witness in self.witnesses:
            witness.start()
        note = self.trail.latest_checkpoint()
        if note is not None:
            for witness in self.witnesses:
                witness.offer(note)
        self.trail.listeners.append(self.appended)
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="trail-checkpointer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, then sign what is still waiting."""
        with self._cond:
            self._stop = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with contextlib.suppress(ValueError):
            self.trail.listeners.remove(self.appended)
        if self._pending or self._grown():
            self.sign()
        for witness in self.witnesses:
            witness.stop()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stop and (wait := self._wait_s(self.clock())) > 0:
                    self._cond.wait(wait)
                if self._stop:
                    return
            self.tick()


def _size_of(note: str) -> int:
    return tlog.Checkpoint.parse(tlog.split_note(note)[0]).size


def background(trail: Trail, settings: Settings) -> Checkpointer:
    """The service's checkpointer, with a submitter thread per witness of `settings`, started
    (`stop` it when the service stops)."""
    from fpcredit.guard.trail.witness_client import WitnessWorker, clients

    checkpointer = Checkpointer(
        trail, witnesses=[WitnessWorker(c) for c in clients(trail, settings)]
    )
    checkpointer.start()
    return checkpointer
