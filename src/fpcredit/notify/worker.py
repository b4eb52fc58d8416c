"""The notification worker: claims due rows under a lease, delivers them, retries, dead-letters.

A run claims the due rows (pending, `next_attempt_at` ≤ now, no live lease) in one statement —
under `FOR UPDATE SKIP LOCKED` on PostgreSQL, under SQLite's write lock there — counting the
attempt and setting `lease_until`. Each row is then delivered through its channel and marked
delivered, scheduled again after a backoff (exponential with jitter, tenacity's
`wait_exponential_jitter`), or moved to `dead` after `notify_attempts` attempts. A worker killed
mid-delivery leaves its rows leased; once the lease has expired, another run claims them again:
delivery is at least once, and receivers de-duplicate on the message id.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import sqlalchemy as sa
import tenacity

from fpcredit.config import Settings
from fpcredit.guard.keys.crypto import Vault
from fpcredit.notify.channels import Channel, Delivery, DeliveryError, Router, SmsNotifier
from fpcredit.notify.sms import sms_channel
from fpcredit.notify.webhooks import WebhookNotifier
from fpcredit.store import schema as s
from fpcredit.store.db import Store, utc_now

__all__ = ["Backoff", "Drained", "Worker", "background", "claim", "worker_for"]
log = logging.getLogger(__name__)

BATCH: Final = 20  # rows claimed at once


class Backoff:
    """The delay before attempt n + 1 after n failed ones: base·2ⁿ⁻¹ plus a uniform jitter of up
    to base, at most `max_s` — tenacity's `wait_exponential_jitter`, not a loop of our own."""

    def __init__(self, base_s: float, max_s: float) -> None:
        self._wait = tenacity.wait_exponential_jitter(multiplier=base_s, max=max_s, jitter=base_s)
        self._retrying = tenacity.Retrying()

    def delay(self, failed: int) -> float:
        """Seconds to wait after the `failed`-th failed attempt (1-based)."""
        state = tenacity.RetryCallState(self._retrying, None, (), {})
        state.attempt_number = failed
        return float(self._wait(state))


@dataclass
class Drained:
    """What a run did: deliveries that went through, failed and wait, failed for good."""

    delivered: int = 0
    retried: int = 0
    dead: int = 0

    def add(self, other: Drained) -> None:
        self.delivered += other.delivered
        self.retried += other.retried
        self.dead += other.dead


def claim(store: Store, now: dt.datetime, lease_s: float, limit: int) -> list[Delivery]:
    """Lease up to `limit` due rows to this caller and count their attempt."""
    n = s.notifications
    due = sa.and_(
        n.c.state == "pending",
        n.c.next_attempt_at <= now,
        sa.or_(n.c.lease_until.is_(None), n.c.lease_until <= now),
    )
    pick = sa.select(n.c.id).where(due).order_by(n.c.next_attempt_at, n.c.id).limit(limit)
    if store.dialect == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    lease = now + dt.timedelta(seconds=lease_s)
    with store.engine.begin() as conn:
        rows = conn.execute(
            n.update()
            .where(n.c.id.in_(pick.scalar_subquery()))
            .values(lease_until=lease, attempts=n.c.attempts + 1)
            .returning(n)
        ).all()
    return sorted((Delivery.of(r) for r in rows), key=lambda d: (d.created_at, d.message_id))


class Worker:
    """Delivers what is due through `channel` (a Router of SMS and webhooks in service)."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        channel: Channel,
        clock: Callable[[], dt.datetime] = utc_now,
        backoff: Backoff | None = None,
    ) -> None:
        self.store, self.settings, self.channel, self.clock = store, settings, channel, clock
        self.backoff = backoff or Backoff(
            settings.notify_backoff_base_s, settings.notify_backoff_max_s
        )

    def run_once(self) -> Drained:
        """Deliver everything due now (and what falls due while it runs); then return."""
        total = Drained()
        while True:
            batch = claim(self.store, self.clock(), self.settings.notify_lease_s, BATCH)
            if not batch:
                return total
            total.add(self._deliver(batch))

    def _deliver(self, batch: list[Delivery]) -> Drained:
        done = Drained()
        lease = batch[0].lease_until
        assert lease is not None
        for i, delivery in enumerate(batch):
            # Not begun once the lease could expire mid-post: another worker may claim the rest.
            margin = dt.timedelta(seconds=self.settings.notify_timeout_s)
            if self.clock() + margin >= lease:
                self._release(batch[i:])
                break
            try:
                self.channel.deliver(delivery)
            except DeliveryError as e:
                self._failed(delivery, e, done)
            except Exception as e:  # a channel's bug must not stop the other deliveries
                log.warning("notification channel failed", exc_info=True)
                self._failed(delivery, DeliveryError(f"error:{type(e).__name__}"), done)
            else:
                self._finish(delivery, state="delivered", delivered_at=self.clock())
                done.delivered += 1
        return done

    def _failed(self, delivery: Delivery, e: DeliveryError, done: Drained) -> None:
        if e.permanent or delivery.attempts >= self.settings.notify_attempts:
            self._finish(delivery, state="dead", last_error=e.reason)
            done.dead += 1
            log.warning("notification %s dead: %s", delivery.message_id, e.reason)
            return
        wait = dt.timedelta(seconds=self.backoff.delay(delivery.attempts))
        self._finish(delivery, next_attempt_at=self.clock() + wait, last_error=e.reason)
        done.retried += 1

    def _finish(self, delivery: Delivery, **values: object) -> None:
        n = s.notifications
        with self.store.engine.begin() as conn:
            conn.execute(
                n.update()
                .where(
                    n.c.message_id == delivery.message_id,
                    n.c.state == "pending",
                    n.c.lease_until == delivery.lease_until,  # still ours: not claimed again
                )
                .values(lease_until=None, **values)
            )

    def _release(self, rest: list[Delivery]) -> None:
        n = s.notifications
        ids = [d.message_id for d in rest]
        with self.store.engine.begin() as conn:
            conn.execute(
                n.update()
                .where(n.c.message_id.in_(ids), n.c.state == "pending")
                .values(lease_until=None, attempts=n.c.attempts - 1)
            )

    def run(self, stop: threading.Event) -> None:
        """Deliver until `stop` is set, waiting `notify_poll_s` whenever nothing is due."""
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:  # the database away for a moment: try again at the next poll
                log.warning("notification worker: a run failed", exc_info=True)
            stop.wait(self.settings.notify_poll_s)


def worker_for(settings: Settings, store: Store, vault: Vault) -> tuple[Worker, Callable[[], None]]:
    """The service's worker (SMS to persons, webhooks to departments) and how to close it."""
    webhooks = WebhookNotifier(store, vault, settings.notify_timeout_s)
    sms = SmsNotifier(store, vault, sms_channel(settings, store, vault), settings.language)
    return Worker(store, settings, Router(sms, webhooks)), webhooks.close


class Background:
    """The worker in a daemon thread of the service (`fpcredit serve`)."""

    def __init__(self, worker: Worker, close: Callable[[], None]) -> None:
        self._stop = threading.Event()
        self._close = close
        self._thread = threading.Thread(
            target=worker.run, args=(self._stop,), name="fpcredit-notify", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self._close()


def background(settings: Settings, store: Store, vault: Vault) -> Background:
    """Start the worker in a thread; `stop()` ends it (the app's lifespan does both)."""
    worker, close = worker_for(settings, store, vault)
    return Background(worker, close)
