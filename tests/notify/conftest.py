"""Fixtures of the notification tests: a registered department and a worker on a moved clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from fpcredit.config import Settings
from fpcredit.guard.keys.crypto import Vault
from fpcredit.notify.outbox import enqueue
from fpcredit.store.db import Store, utc_now
from tests.notify.receiver import Receiver, Server


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = utc_now() + dt.timedelta(seconds=5)  # what the test enqueues is due

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@dataclass
class Department:
    receiver: Receiver
    server: Server


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def department() -> Iterator[Department]:
    receiver = Receiver()
    server = Server(receiver)
    yield Department(receiver, server)
    server.close()


def quick(settings: Settings, **more: object) -> Settings:
    """`settings` with short backoffs, leases and timeouts."""
    values: dict[str, object] = {
        "notify_backoff_base_s": 1.0,
        "notify_backoff_max_s": 8.0,
        "notify_lease_s": 30.0,
        "notify_timeout_s": 2.0,
        "notify_attempts": 8,
        **more,
    }
    return settings.model_copy(update=values)


def enqueue_for(store: Store, source: str, count: int) -> list[str]:
    """`count` department notifications to `source`, committed; their message ids."""
    with store.engine.begin() as conn:
        return [
            enqueue(conn, "case_step", audience=source, params={"case_id": i, "step": "assigned"})
            for i in range(count)
        ]


__all__ = ["Clock", "Department", "Vault", "enqueue_for", "quick"]
