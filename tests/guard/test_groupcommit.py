"""Group commit (guard/trail/groupcommit.py): batched, durable, never blocking the loop."""

from __future__ import annotations

import asyncio
import textwrap
import threading
import time
from collections.abc import Iterable

import pytest
import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.errors import TrailError
from fpcredit.guard.trail.groupcommit import GroupCommit
from fpcredit.guard.trail.log import Event, Trail
from fpcredit.guard.trail.verify import verify
from fpcredit.store import schema as s
from fpcredit.store.db import Store
from tests.guard.killed import acknowledged_before_kill

E = s.ledger_entries


def _event(i: int) -> Event:
    return Event("svc:test", "read", "allowed", str(i), "credit_evaluation")


def _stored(store: Store) -> list[int]:
    with store.engine.connect() as conn:
        return list(conn.scalars(sa.select(E.c.idx).order_by(E.c.idx)))


@pytest.mark.parametrize("on_loop", [True, False], ids=["on_loop", "writer_thread"])
def test_concurrent_async_appends_are_dense_and_stored(
    store: Store, settings: Settings, on_loop: bool
) -> None:
    trail = Trail(store, settings)
    commits = GroupCommit(trail, on_loop=on_loop)

    async def burst() -> list[int]:
        return await asyncio.gather(*(commits.append_async(_event(i)) for i in range(300)))

    got = asyncio.run(burst())
    commits.close()
    assert sorted(got) == list(range(300)) == _stored(store)
    assert verify(store, settings)["ok"]
    # Each caller got its own entry back: the subject it appended.
    for i in (0, 150, 299):
        assert trail.entry(got[i]).subject_hash == trail.subject_hash(str(i))


def test_sync_and_async_callers_share_the_log(store: Store, settings: Settings) -> None:
    commits = GroupCommit(Trail(store, settings))
    from_threads: list[int] = []

    def worker() -> None:
        from_threads.extend(commits.append(_event(1000 + k)) for k in range(20))

    async def both() -> list[int]:
        threads = [threading.Thread(target=worker) for _ in range(3)]
        for t in threads:
            t.start()
        mine = await asyncio.gather(*(commits.append_async(_event(i)) for i in range(100)))
        for t in threads:
            await asyncio.to_thread(t.join)
        return mine

    mine = asyncio.run(both())
    commits.close()
    assert sorted(mine + from_threads) == list(range(160)) == _stored(store)


def test_a_locked_log_does_not_block_the_loop(tmp_path: object) -> None:
    """Another writer holds SQLite's lock: the loop keeps running, and the entries are committed
    by the writer thread once the lock is free, each acknowledged only then."""
    settings = Settings(home=tmp_path)  # type: ignore[arg-type]
    from fpcredit.store.db import open_store

    store = open_store(settings)
    store.upgrade()
    trail = Trail(store, settings)
    trail.append("svc:test", "warm_up")
    commits = GroupCommit(trail)
    assert commits.on_loop
    blocker = store.engine.raw_connection()
    blocker.driver_connection.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]

    async def scenario() -> tuple[list[int], int, float]:
        ticks = 0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        tick_task = asyncio.create_task(ticker())
        appends = asyncio.gather(*(commits.append_async(_event(i)) for i in range(10)))
        await asyncio.sleep(0.5)
        assert not appends.done()  # nothing acknowledged while the lock is held
        released = time.monotonic()
        blocker.rollback()
        got = await appends
        done.set()
        await tick_task
        return got, ticks, time.monotonic() - released

    got, ticks, after = asyncio.run(scenario())
    blocker.close()
    commits.close()
    assert ticks >= 25  # the loop ran on while the lock was held (≈ 50 ticks in 0.5 s)
    assert sorted(got) == list(range(1, 11)) and _stored(store) == list(range(11))
    assert after < 5


class _Broken:
    """A trail whose appends fail (the store is gone)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def append_many(self, events: Iterable[Event], *, wait: bool = True) -> range:
        raise sa.exc.OperationalError("INSERT", {}, Exception("disk I/O error"))


@pytest.mark.parametrize("on_loop", [True, False], ids=["on_loop", "writer_thread"])
def test_a_failed_append_is_reported_to_every_caller(store: Store, on_loop: bool) -> None:
    commits = GroupCommit(_Broken(store), on_loop=on_loop)  # type: ignore[arg-type]

    async def burst() -> list[int | BaseException]:
        calls = (commits.append_async(_event(i)) for i in range(5))
        return await asyncio.gather(*calls, return_exceptions=True)

    outcomes = asyncio.run(burst())
    commits.close()
    assert all(isinstance(o, TrailError) for o in outcomes)
    with pytest.raises(TrailError):
        commits.append(_event(9))


class _Stuck:
    """A trail whose appends never finish in time."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.release = threading.Event()

    def append_many(self, events: Iterable[Event], *, wait: bool = True) -> range:
        if not wait:
            raise sa.exc.OperationalError("BEGIN", {}, Exception("database is locked"))
        self.release.wait(10)
        raise sa.exc.OperationalError("BEGIN", {}, Exception("database is locked"))


def test_a_caller_gives_up_after_the_timeout(store: Store) -> None:
    stuck = _Stuck(store)
    commits = GroupCommit(stuck, timeout_s=0.3, on_loop=True)  # type: ignore[arg-type]

    async def one() -> float:
        start = time.monotonic()
        with pytest.raises(TrailError):
            await commits.append_async(_event(1))
        return time.monotonic() - start

    waited = asyncio.run(one())
    stuck.release.set()
    commits.close()
    assert 0.25 < waited < 5


_BURST = textwrap.dedent(
    """
    import asyncio, sys
    from fpcredit.config import Settings
    from fpcredit.guard.trail.groupcommit import GroupCommit
    from fpcredit.guard.trail.log import Event, Trail
    from fpcredit.store.db import open_store

    settings = Settings(home=sys.argv[1], database_url=sys.argv[2] or None)
    commits = GroupCommit(Trail(open_store(settings), settings))

    async def caller() -> None:
        while True:
            idx = await commits.append_async(Event("svc:burst", "read", "allowed", "p", "x"))
            print(idx, flush=True)

    async def main() -> None:
        await asyncio.gather(*(caller() for _ in range(16)))

    asyncio.run(main())
    """
)


def test_kill_9_loses_no_entry_acknowledged_to_a_caller(store: Store, settings: Settings) -> None:
    """The service's path: many callers on one loop, batches committed on it; killed mid-burst."""
    Trail(store, settings).append("svc:burst", "warm_up")
    acknowledged = acknowledged_before_kill(_BURST, settings, 500)
    assert set(acknowledged) <= set(_stored(store))
    assert verify(store, settings)["ok"]
