"""Group commit for the trail: concurrent appends share one transaction, each still durable.

A request that reads personal data must not answer before its trail entry is committed. One
transaction per request makes the database's commit the service's ceiling; here a writer thread
takes every entry waiting, appends them in one transaction and then wakes each caller with its
index. A caller waits for at most one commit more than it would alone, and an entry is never
acknowledged before it is stored.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field

from fpcredit.errors import LedgerError
from fpcredit.guard.ledger import Event, Ledger
from fpcredit.messages import text

__all__ = ["GroupCommit"]

# The most entries one transaction takes; more wait for the next.
MAX_BATCH = 1000


@dataclass
class _Pending:
    event: Event
    done: threading.Event = field(default_factory=threading.Event)
    index: int | None = None
    error: Exception | None = None


class GroupCommit:
    """Appends `Event`s to `ledger` from many threads, batched, each acknowledged after commit."""

    def __init__(self, ledger: Ledger, timeout_s: float = 30.0) -> None:
        self.ledger = ledger
        self.timeout_s = timeout_s
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.start()

    def start(self) -> None:
        """Start the writer if it is not running (again after `close`: an app can restart)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="trail-writer", daemon=True)
                self._thread.start()

    def append(self, event: Event) -> int:
        """Append one entry; returns its index once it is committed (LedgerError otherwise)."""
        pending = _Pending(event)
        self.start()
        self._queue.put(pending)
        if not pending.done.wait(self.timeout_s):
            raise LedgerError(text("ledger.unavailable"))
        if pending.error is not None:
            raise LedgerError(text("ledger.unavailable")) from pending.error
        assert pending.index is not None
        return pending.index

    def close(self) -> None:
        """Finish what is queued, then stop the writer."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join(self.timeout_s)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            indexes = self.ledger.append_many([p.event for p in batch])
        except Exception as e:  # every waiting caller must hear of the failure, whatever it is
            if len(batch) > 1:  # one bad entry must not sink the others: try them one by one
                for p in batch:
                    self._commit([p])
                return
            batch[0].error = e
            batch[0].done.set()
            return
        for p, index in zip(batch, indexes, strict=True):
            p.index = index
            p.done.set()
