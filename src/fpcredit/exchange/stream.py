"""The exchange on NATS JetStream: the relay (outbox → the province's stream) and the durable
consumer of the partners' streams, run together by `fpcredit exchange run`.

Each province owns one stream, `FPCREDIT_EX_<code>`, of subjects `fpcredit.exchange.<from>.<to>`;
a receiving province reads its subject of each partner's stream through a durable pull consumer
named after itself. Publication carries `Nats-Msg-Id` (the message id), so a second publication
inside the stream's duplicate window is dropped by the server; past it the receiver's inbox
drops it. Messages are acknowledged only after the transaction that took them has committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import nats
import sqlalchemy as sa
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from fpcredit.exchange.identity import Identity, partners
from fpcredit.exchange.outbox import pending
from fpcredit.exchange.receive import BatchReport, Delivery, resolve_waiting, take
from fpcredit.exchange.writes import keys_of
from fpcredit.guard.keys.crypto import Vault
from fpcredit.guard.trail.log import record_rows
from fpcredit.store import schema as s
from fpcredit.store.bulk import lock_for_ingestion, next_id, sync_sequences
from fpcredit.store.db import Store, utc_now

__all__ = ["Exchange", "Progress", "stream_name", "subject"]
log = logging.getLogger(__name__)

DUPLICATE_WINDOW_S: Final = 24 * 3600
# What the store raises for what a message holds (a constraint, a value), not for being busy.
_POISON: Final = (sa.exc.IntegrityError, sa.exc.DataError, ValueError, TypeError, KeyError)
ACK_WAIT_S: Final = 30.0


def stream_name(province: str) -> str:
    return f"FPCREDIT_EX_{province}"


def subject(sender: str, to: str) -> str:
    return f"fpcredit.exchange.{sender}.{to}"


def consumer_name(province: str) -> str:
    return f"province-{province}"


@dataclass
class Progress:
    """What a run has done so far (the status line of `exchange run`)."""

    published: int = 0
    received: BatchReport = field(default_factory=BatchReport)
    linked_later: int = 0
    errors: int = 0


def _mark_sent(store: Store, keys_dir: Path, acked: list[tuple[str, int]]) -> int:
    """Record the messages the stream acknowledged; on the trail. Returns how many were new."""
    if not acked:
        return 0
    sent = s.exchange_sent
    with store.engine.begin() as conn:
        lock_for_ingestion(conn)
        ids = [m for m, _ in acked]
        known = set(conn.scalars(sa.select(sent.c.message_id).where(sent.c.message_id.in_(ids))))
        now = utc_now()
        first = next_id(conn, sent)
        rows = [
            {"id": first + n, "message_id": m, "stream_seq": seq, "published_at": now}
            for n, (m, seq) in enumerate(x for x in dict(acked).items() if x[0] not in known)
        ]
        if rows:
            conn.execute(sent.insert(), rows)
            last = first + len(rows) - 1
            record_rows(
                conn, "exchange_sent", first, last, "exchange", "exchange_sent", keys_dir=keys_dir
            )
            sync_sequences(conn, (sent,))
        return len(rows)


class Exchange:
    """One province's relay and consumer on one NATS connection."""

    def __init__(
        self,
        store: Store,
        vault: Vault,
        me: Identity,
        servers: str,
        *,
        batch: int = 256,
        idle_s: float = 0.05,
    ) -> None:
        self.store, self.vault, self.me, self.servers = store, vault, me, servers
        self.batch, self.idle_s = batch, idle_s
        self.progress = Progress()
        # Called with each batch and the wall-clock time of its commit, before it is
        # acknowledged (benchmarks/exchange.py measures latency to our commit with it).
        self.on_committed: Callable[[list[Delivery], float], None] | None = None
        self._nc: Any = None
        self._closing = False
        self._away = False  # the server was lost and has not answered since (said once)
        self._js: JetStreamContext | None = None
        self._subs: dict[str, Any] = {}

    # -- connection ----------------------------------------------------------------------------

    async def connect(self) -> JetStreamContext:
        """Connect (or reuse the connection); NatsError/OSError when the server is away."""
        if self._js is not None and self._nc is not None and self._nc.is_connected:
            return self._js
        await self.close()
        # No reconnection inside the client: a lost server fails what is in flight, and `run`
        # connects again (a batch not acknowledged comes again; the outbox keeps the rest).
        self._nc = await nats.connect(
            self.servers,
            connect_timeout=2,
            allow_reconnect=False,
            # nats-py tries each server of the first connection until it has failed more
            # than this many times (0 would mean for ever): then NoServersError.
            max_reconnect_attempts=1,
            reconnect_time_wait=0.5,
            name=f"fpcredit-exchange-{self.me.province}",
            error_cb=self._on_error,
            disconnected_cb=self._on_disconnected,
        )
        self._js = self._nc.jetstream(timeout=5)
        await self.ensure_stream(self._js, self.me.province)
        if self._away:
            log.warning("exchange: NATS is back at %s", self.servers)
            self._away = False
        return self._js

    # nats-py prints a traceback for each error unless told otherwise: `run` says it once.
    async def _on_error(self, e: Exception) -> None:
        log.debug("exchange: NATS %s: %s", type(e).__name__, str(e)[:200])

    async def _on_disconnected(self) -> None:
        if not self._closing:
            log.debug("exchange: NATS disconnected")

    async def close(self) -> None:
        self._subs.clear()
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None:
            self._closing = True
            try:
                with contextlib.suppress(Exception):
                    await nc.close()
            finally:
                self._closing = False

    @staticmethod
    async def ensure_stream(js: JetStreamContext, province: str) -> None:
        config = StreamConfig(
            name=stream_name(province),
            subjects=[f"fpcredit.exchange.{province}.*"],
            storage=StorageType.FILE,
            duplicate_window=DUPLICATE_WINDOW_S,
        )
        try:
            await js.stream_info(stream_name(province))
        except NotFoundError:
            await js.add_stream(config)

    # -- the relay -----------------------------------------------------------------------------

    async def relay_once(self) -> int:
        """Publish what the outbox holds (a batch); returns how many the stream acknowledged."""
        rows = await asyncio.to_thread(self._pending)
        if not rows:
            return 0
        js = await self.connect()
        name = stream_name(self.me.province)

        async def publish(row: Any) -> tuple[str, int]:
            ack = await js.publish(
                subject(self.me.province, row.to_province),
                bytes(row.envelope),
                stream=name,
                headers={"Nats-Msg-Id": row.message_id},
            )
            return row.message_id, int(ack.seq)

        acked = await asyncio.gather(*(publish(r) for r in rows))
        await asyncio.to_thread(_mark_sent, self.store, keys_of(self.vault), list(acked))
        self.progress.published += len(acked)
        return len(acked)

    def _pending(self) -> list[Any]:
        with self.store.engine.connect() as conn:
            return pending(conn, self.batch)

    # -- the consumer --------------------------------------------------------------------------

    async def _subscription(self, js: JetStreamContext, sender: str) -> Any:
        sub = self._subs.get(sender)
        if sub is None:
            await self.ensure_stream(js, sender)
            me = self.me.province
            sub = await js.pull_subscribe(
                subject(sender, me),
                durable=consumer_name(me),
                stream=stream_name(sender),
                config=ConsumerConfig(
                    ack_policy=AckPolicy.EXPLICIT,
                    deliver_policy=DeliverPolicy.ALL,
                    ack_wait=ACK_WAIT_S,
                    max_ack_pending=max(1024, 4 * self.batch),
                ),
            )
            self._subs[sender] = sub
        return sub

    def _senders(self) -> list[str]:
        with self.store.engine.connect() as conn:
            return sorted(p for p in partners(conn) if p != self.me.province)

    async def receive_once(self, wait_s: float = 0.5) -> BatchReport:
        """Take one batch from each partner's stream; acknowledged after its commit."""
        total = BatchReport()
        senders = await asyncio.to_thread(self._senders)
        if not senders:
            return total
        js = await self.connect()
        for sender in senders:
            sub = await self._subscription(js, sender)
            try:
                msgs = await sub.fetch(self.batch, timeout=wait_s)
            except TimeoutError:
                continue
            deliveries = [Delivery(m.data, int(m.metadata.sequence.stream)) for m in msgs]
            report = await asyncio.to_thread(self._take, deliveries, stream_name(sender))
            if self.on_committed is not None:
                self.on_committed(deliveries, time.time())
            for m in msgs:  # only now: the batch is committed
                await m.ack()
            self.progress.received.add(report)
            total.add(report)
        return total

    def _take(self, deliveries: list[Delivery], stream: str) -> BatchReport:
        """A batch in one transaction; if the store refuses it for what a message holds (not
        for being busy), each message alone, and one it refuses alone is quarantined: a
        poison message must not hold up the stream behind it."""
        args = (self.store, self.vault, self.me)
        try:
            return take(*args, deliveries, stream)
        except _POISON as e:
            log.warning("exchange: a batch refused (%s); taking it message by message", e)
        total = BatchReport()
        for delivery in deliveries:
            try:
                report = take(*args, [delivery], stream)
            except _POISON:
                report = take(*args, [delivery], stream, refuse="unwritable")
            total.add(report)
        return total

    async def resolve(self) -> int:
        linked = await asyncio.to_thread(resolve_waiting, self.store, self.vault, self.me)
        self.progress.linked_later += linked
        return linked

    # -- together --------------------------------------------------------------------------------

    async def _pause(self, stop: asyncio.Event) -> None:
        """After a failure: a fresh connection next time, a second's wait unless stopped."""
        await self.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)

    async def run(
        self,
        stop: asyncio.Event,
        *,
        resolve_every_s: float = 5.0,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> Progress:
        """Relay and receive until `stop` is set. A lost server is waited for (the outbox
        keeps what is to be sent); a batch that failed is taken again (it was not acked)."""
        loop = asyncio.get_running_loop()
        next_resolve = loop.time()
        while not stop.is_set():
            try:
                sent = await self.relay_once()
                got = await self.receive_once(wait_s=0.2 if sent else 0.5)
                if loop.time() >= next_resolve:
                    await self.resolve()
                    next_resolve = loop.time() + resolve_every_s
                if on_progress is not None:
                    on_progress(self.progress)
                if not sent and not got.received:
                    await asyncio.sleep(self.idle_s)
            except (NatsError, OSError, TimeoutError) as e:
                self.progress.errors += 1
                if not self._away:
                    log.warning(
                        "exchange: NATS at %s not answering (%s); messages wait in the outbox, "
                        "retrying every second",
                        self.servers,
                        type(e).__name__,
                    )
                    self._away = True
                await self._pause(stop)
            except sa.exc.OperationalError as e:  # the store busy or away: the batch is retried
                self.progress.errors += 1
                reason = str(e.orig).splitlines()[0] if e.orig else type(e).__name__
                log.warning("exchange: store not answering (%s); retrying", reason)
                await self._pause(stop)
        await self.close()
        return self.progress
