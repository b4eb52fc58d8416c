"""Group commit for the trail: concurrent appends share one transaction, each still durable.

A request that reads personal data must not answer before its trail entry is committed. One
transaction per request makes the database's commit the service's ceiling; here the entries
waiting are appended in one transaction and each caller is then woken with its index. A caller
waits for at most one commit more than it would alone, and an entry is never acknowledged
before it is stored.

Two ways in:

- `append` (any thread) hands the entry to a writer thread and blocks until it is committed.
- `append_async` (on an event loop) awaits a future. On SQLite the entries of one loop are
  gathered for `gather_s` and committed on the loop itself, without waiting for a lock: a
  writer thread beside a busy loop fights it for the GIL, and that cost a third of the
  service's throughput (docs/security.md, "Measured"). When the database is locked by another
  writer (an ingestion, say) or anything else goes wrong, the batch goes to the writer thread,
  which waits for the lock and reports failures entry by entry. On PostgreSQL, whose commits
  wait on the network, `append_async` always uses the writer thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections import defaultdict
from dataclasses import dataclass

from fpcredit.errors import TrailError
from fpcredit.guard.trail.log import Event, Trail
from fpcredit.messages import text

__all__ = ["GroupCommit"]

# The most entries one transaction takes; more wait for the next.
MAX_BATCH = 1000
# How often the writer thread, when idle, copies the write-ahead log into the database.
WAL_EVERY_S = 0.5
log = logging.getLogger(__name__)


@dataclass
class _Pending:
    event: Event
    done: threading.Event | None = None  # set for `append`: the thread it wakes
    index: int | None = None
    error: Exception | None = None
    # Set for append_async: the caller's loop and the future it awaits instead of `done`.
    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future[int] | None = None


def _settle(pending: list[_Pending]) -> None:
    """On the callers' loop: resolve their futures (a cancelled caller is simply skipped)."""
    for p in pending:
        assert p.future is not None
        if p.future.done():
            continue
        if p.error is not None:
            p.future.set_exception(TrailError(text("trail.unavailable")))
        else:
            assert p.index is not None
            p.future.set_result(p.index)


def _expire(pending: list[_Pending]) -> None:
    """On the callers' loop: fail those still waiting for the writer thread."""
    for p in pending:
        if p.future is not None and not p.future.done():
            p.future.set_exception(TrailError(text("trail.unavailable")))


class GroupCommit:
    """Appends `Event`s to `trail` from threads and event loops, batched, each acknowledged
    after commit."""

    def __init__(
        self,
        trail: Trail,
        timeout_s: float = 30.0,
        gather_s: float = 0.002,
        on_loop: bool | None = None,
    ) -> None:
        self.trail = trail
        self.timeout_s = timeout_s
        self.gather_s = gather_s
        # Committing on the loop suits a local file; a server's round trips belong in a thread.
        self.on_loop = trail.store.dialect == "sqlite" if on_loop is None else on_loop
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._gathering: dict[asyncio.AbstractEventLoop, list[_Pending]] = {}
        self.start()

    def start(self) -> None:
        """Start the writer if it is not running (again after `close`: an app can restart)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="trail-writer", daemon=True)
                self._thread.start()

    def append(self, event: Event) -> int:
        """Append one entry; returns its index once it is committed (TrailError otherwise)."""
        pending = _Pending(event, done=threading.Event())
        assert pending.done is not None
        self.start()
        self._queue.put(pending)
        if not pending.done.wait(self.timeout_s):
            raise TrailError(text("trail.unavailable"))
        if pending.error is not None:
            raise TrailError(text("trail.unavailable")) from pending.error
        assert pending.index is not None
        return pending.index

    async def append_async(self, event: Event) -> int:
        """`append` for a caller on an event loop: awaits the commit without holding a thread."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        pending = _Pending(event, loop=loop, future=future)
        if self.on_loop:
            gathering = self._gathering.setdefault(loop, [])
            gathering.append(pending)
            if len(gathering) == 1:
                loop.call_later(self.gather_s, self._flush, loop)
        else:
            self._to_writer(loop, [pending])
        return await future

    def _to_writer(self, loop: asyncio.AbstractEventLoop, batch: list[_Pending]) -> None:
        """Hand awaited entries to the writer thread; their callers give up after timeout_s.
        (The loop's own commits need no timer: they are done before anyone awaits them.)"""
        self.start()
        for p in batch:
            self._queue.put(p)
        loop.call_later(self.timeout_s, _expire, batch)

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        """On `loop`: commit what it gathered, or hand it to the writer thread."""
        batch = self._gathering.pop(loop, [])
        if not batch:
            return
        try:
            indexes = self.trail.append_many([p.event for p in batch], wait=False)
        except Exception:  # locked, or worse: the writer waits, retries and reports
            self._to_writer(loop, batch)
            return
        for p, index in zip(batch, indexes, strict=True):
            p.index = index
        _settle(batch)

    def close(self) -> None:
        """Finish what is queued, then stop the writer."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join(self.timeout_s)
        close = getattr(self.trail, "close", None)  # a trail's kept connection, if any
        if close is not None:
            close()

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=WAL_EVERY_S)
            except queue.Empty:
                self._checkpoint_wal()
                continue
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

    def _checkpoint_wal(self) -> None:
        """The loop's commits leave the write-ahead log to this thread (`Store.no_wait_engine`);
        a failure is the next time's to retry."""
        try:
            self.trail.store.checkpoint_wal()
        except Exception:  # a busy or locked store: the log grows a little meanwhile
            log.debug("write-ahead log checkpoint deferred", exc_info=True)

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            indexes = self.trail.append_many([p.event for p in batch])
        except Exception as e:  # every waiting caller must hear of the failure, whatever it is
            if len(batch) > 1:  # one bad entry must not sink the others: try them one by one
                for p in batch:
                    self._commit([p])
                return
            batch[0].error = e
            self._wake(batch)
            return
        for p, index in zip(batch, indexes, strict=True):
            p.index = index
        self._wake(batch)

    @staticmethod
    def _wake(batch: list[_Pending]) -> None:
        by_loop: defaultdict[asyncio.AbstractEventLoop, list[_Pending]] = defaultdict(list)
        for p in batch:
            if p.loop is None:
                assert p.done is not None
                p.done.set()
            else:
                by_loop[p.loop].append(p)
        for loop, pending in by_loop.items():
            # A loop that has closed has nobody waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, pending)
