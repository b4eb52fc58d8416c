"""An open-loop HTTP/1.1 load generator: requests at a constant offered rate, latency from the
moment each request was due.

A closed-loop tool (wrk) sends the next request only when one comes back, so a slow server
slows the load down and its stalls never show in the percentiles ("coordinated omission").
Here request i is due at start + i / rate whatever happens; its latency runs from that moment
to the last byte of its answer, so time spent waiting for a free connection counts. Each
connection is a keep-alive socket of its own; more are opened (up to `max_connections`) when
every one is busy; the longest idle is used first, and a request that finds its connection
closed by the server's keep-alive timeout before any answer is sent again on a new one (as
HTTP clients do), counted apart from errors. Plain asyncio streams: the client's own cost
stays far below the server's.

Used by `api_rate.py` (p99 at 200 requests/s) and `soak.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Request", "Result", "run_open_loop"]


@dataclass(frozen=True)
class Request:
    """One request to send: method, path (with query), headers and body."""

    kind: str  # a label for the report (lookup, explanation, login, …)
    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


@dataclass
class Result:
    """What came back for each kind: latencies in ms (from when each was due) and failures."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[str, dict[int, int]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    sent: int = 0
    seconds: float = 0.0
    connections: int = 0
    stale: int = 0  # sent again: the server had closed the idle connection

    def add(self, kind: str, status: int, ms: float) -> None:
        self.latencies.setdefault(kind, []).append(ms)
        counts = self.statuses.setdefault(kind, {})
        counts[status] = counts.get(status, 0) + 1

    def summary(self, expect: Callable[[str, int], bool]) -> dict[str, object]:
        """Per kind and overall: count, p50, p90, p99, max (ms), unexpected statuses."""
        out: dict[str, object] = {}
        everything: list[float] = []
        unexpected = 0
        for kind, values in sorted(self.latencies.items()):
            everything += values
            bad = sum(n for s, n in self.statuses[kind].items() if not expect(kind, s))
            unexpected += bad
            out[kind] = {**_percentiles(values), "statuses": self.statuses[kind], "unexpected": bad}
        out["all"] = {**_percentiles(everything), "unexpected": unexpected}
        out["errors"] = len(self.errors)
        out["error_examples"] = self.errors[:5]
        out["offered_rate"] = round(self.sent / self.seconds, 1) if self.seconds else 0
        out["connections_opened"] = self.connections
        out["sent_again_after_idle_close"] = self.stale
        return out


def _percentiles(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"count": 0}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {
        "count": len(ordered),
        "p50_ms": at(0.50),
        "p90_ms": at(0.90),
        "p99_ms": at(0.99),
        "max_ms": round(ordered[-1], 2),
    }


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def send(self, host: str, request: Request) -> int:
        lines = [f"{request.method} {request.path} HTTP/1.1", f"Host: {host}"]
        lines += [f"{k}: {v}" for k, v in request.headers]
        if request.body or request.method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(request.body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + request.body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length, chunked = 0, False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            await self._chunks()
        elif length:
            await self.reader.readexactly(length)
        return status

    async def _chunks(self) -> None:
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
            await self.reader.readexactly(size + 2)
            if size == 0:
                return

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


async def run_open_loop(
    host: str,
    port: int,
    rate: float,
    seconds: float,
    next_request: Callable[[int], Request],
    max_connections: int = 256,
    timeout_s: float = 10.0,
) -> Result:
    """Offer `rate` requests a second for `seconds`; request i is `next_request(i)`."""
    result = Result()
    idle: list[_Connection] = []
    pending: set[asyncio.Task[None]] = set()
    start = time.perf_counter() + 0.05
    hostport = f"{host}:{port}"

    async def connect() -> _Connection:
        if result.connections >= max_connections:
            raise RuntimeError("connection limit reached")
        reader, writer = await asyncio.open_connection(host, port)
        result.connections += 1
        return _Connection(reader, writer)

    async def one(i: int, due: float) -> None:
        request = next_request(i)
        conn = idle.pop(0) if idle else None  # the longest idle first: every socket kept warm
        try:
            if conn is not None:
                try:
                    status = await asyncio.wait_for(conn.send(hostport, request), timeout_s)
                except (asyncio.IncompleteReadError, ConnectionError) as e:
                    if isinstance(e, asyncio.IncompleteReadError) and e.partial:
                        raise
                    # Closed by the server while idle (its keep-alive timeout) before a byte
                    # of the answer came: sent again on a new connection, as HTTP clients do
                    # (RFC 9112 §9.3.1); counted, and its latency still runs from `due`.
                    conn.close()
                    result.stale += 1
                    conn = None
            if conn is None:
                conn = await connect()
                status = await asyncio.wait_for(conn.send(hostport, request), timeout_s)
        except Exception as e:  # any failure is a failed request, kept with its reason
            result.errors.append(f"{request.kind}: {e!r}")
            if conn is not None:
                conn.close()
            return
        result.add(request.kind, status, (time.perf_counter() - due) * 1000)
        idle.append(conn)

    for i in itertools.count():
        due = start + i / rate
        if due - start >= seconds:
            break
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(i, due))
        pending.add(task)
        task.add_done_callback(pending.discard)
        result.sent += 1
    if pending:
        await asyncio.wait(pending, timeout=timeout_s + 5)
    result.seconds = seconds
    for conn in idle:
        conn.close()
    return result
