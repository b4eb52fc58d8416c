"""`kill -9` of a real worker process mid-delivery loses nothing: the lease expires, a restart
delivers every message."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.guard.keys.crypto import Vault
from fpcredit.notify.webhooks import set_webhook
from fpcredit.store import schema as s
from fpcredit.store.db import Store
from tests.notify.conftest import Department, enqueue_for

LEASE_S = 3.0


def _env(settings: Settings) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "FPCREDIT_HOME": str(settings.home),
        "FPCREDIT_NOTIFY_LEASE_S": str(LEASE_S),
        "FPCREDIT_NOTIFY_TIMEOUT_S": "2",
        "FPCREDIT_NOTIFY_POLL_S": "0.2",
    }
    if settings.database_url:
        env["FPCREDIT_DATABASE_URL"] = settings.database_url
    return env


def _fpcredit() -> list[str]:
    return [str(Path(sys.executable).with_name("fpcredit"))]


def test_kill_9_mid_delivery_loses_nothing(
    settings: Settings, store: Store, vault: Vault, department: Department
) -> None:
    receiver = department.receiver
    receiver.secret = set_webhook(store, vault, "health", department.server.url)
    receiver.stall_s = 60.0  # the first post hangs: the worker is killed while it waits
    ids = enqueue_for(store, "health", 10)

    worker = subprocess.Popen([*_fpcredit(), "notify", "run"], env=_env(settings))
    try:
        assert receiver.stalled.wait(60), "the worker never posted"
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
        killed_at = time.monotonic()
    finally:
        if worker.poll() is None:
            worker.kill()
    assert receiver.unique() == set()  # nothing acknowledged before the kill
    n = s.notifications
    with store.engine.connect() as conn:
        leased = conn.scalar(sa.select(sa.func.count()).where(n.c.lease_until.is_not(None)))
    assert leased == 10  # claimed by the dead worker, not lost

    receiver.stall_s = 0.0  # the department answers again
    time.sleep(max(0.0, LEASE_S + 0.5 - (time.monotonic() - killed_at)))
    restarted = subprocess.run(
        [*_fpcredit(), "notify", "run", "--once", "--json"],
        env=_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert restarted.returncode == 0, restarted.stderr
    assert receiver.unique() == set(ids)
    assert receiver.bad_signatures == 0
    with store.engine.connect() as conn:
        states = set(conn.scalars(sa.select(n.c.state)))
    assert states == {"delivered"}
