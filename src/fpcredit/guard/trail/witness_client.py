"""The log's side of C2SP tlog-witness: each signed checkpoint goes to every witness.

A `WitnessClient` sends ``POST <url>/add-checkpoint`` with the size the witness last accepted and
a consistency proof from it (built from the stored nodes); on 409 it starts again from the size
the witness names. The cosignatures it gets back are checked against the witness's pinned key and
appended to the checkpoint file with the checkpoint. In the service a `WitnessWorker` thread per
witness does this in the background: a witness that is down delays nothing and fails nothing —
it is logged and tried again.
"""

from __future__ import annotations

import base64
import logging
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from fpcredit.config import Settings
from fpcredit.errors import ConfigError, TrailError
from fpcredit.guard.trail import tlog
from fpcredit.guard.trail.cosignature import CosignatureVerifier
from fpcredit.messages import text

if TYPE_CHECKING:
    from fpcredit.guard.trail.log import Trail

__all__ = [
    "WitnessClient",
    "WitnessWorker",
    "clients",
    "fetch_latest",
    "request_body",
    "submit_all",
]

log = logging.getLogger(__name__)

SIZE_TYPE: Final = "text/x.tlog.size"
_MAX_ANSWER: Final = 65_536


def request_body(old: int, proof: Sequence[bytes], note: str) -> bytes:
    """An add-checkpoint request: ``old N``, one base64 proof line per hash, an empty line,
    the signed checkpoint."""
    lines = "".join(base64.b64encode(h).decode() + "\n" for h in proof)
    return f"old {old}\n{lines}\n{note}".encode()


def _http(url: str, body: bytes | None, timeout_s: float) -> tuple[int, str, str]:
    """Status, text and content type of a GET (no body) or POST; TrailError when there is no
    answer at all."""
    request = urllib.request.Request(url, data=body, method="GET" if body is None else "POST")
    if body is not None:
        request.add_header("Content-Type", "text/plain; charset=utf-8")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:
            status, kind, data = answer.status, answer.headers.get_content_type(), answer.read()
    except urllib.error.HTTPError as e:
        status, kind, data = e.code, e.headers.get_content_type(), e.read(_MAX_ANSWER)
    except (OSError, ValueError) as e:  # refused, timed out, unreachable, a malformed URL
        raise TrailError(str(getattr(e, "reason", e))) from e
    return status, data[:_MAX_ANSWER].decode("utf-8", "replace"), kind


def fetch_latest(url: str, origin: str, timeout_s: float = 10.0) -> str | None:
    """The witness's latest cosigned checkpoint of `origin` (our documented extension route),
    or None when it holds none."""
    query = urllib.parse.urlencode({"origin": origin})
    status, body, _kind = _http(f"{url.rstrip('/')}/latest-checkpoint?{query}", None, timeout_s)
    if status == 404:
        return None
    if status != 200:
        raise TrailError(f"HTTP {status}: {body.strip()[:200]}")
    return body


class WitnessClient:
    """Submits checkpoints of `trail` to one witness and keeps its cosignatures."""

    def __init__(
        self, trail: Trail, url: str, key: CosignatureVerifier, timeout_s: float = 5.0
    ) -> None:
        self.trail, self.url, self.key, self.timeout_s = trail, url.rstrip("/"), key, timeout_s
        self.accepted = 0  # the size the witness last accepted (0 until it says otherwise)

    def submit(self, note: str) -> str | None:
        """Have the witness cosign `note`; returns the cosigned note (also appended to the
        checkpoint file), or None when the witness already holds a newer checkpoint of ours.
        TrailError when it would not cosign (logged at CRITICAL when that shows a fork or a
        log that lost entries)."""
        head = tlog.Checkpoint.parse(tlog.split_note(note)[0])
        old = self.accepted if self.accepted <= head.size else 0
        for _attempt in range(3):  # other submitters may move the witness in between
            proof = [] if old in (0, head.size) else self.trail.consistency_proof(old, head.size)
            try:
                status, body, kind = _http(
                    f"{self.url}/add-checkpoint", request_body(old, proof, note), self.timeout_s
                )
            except TrailError as e:  # no answer at all: down, unreachable
                raise self._failed(head.size, str(e), False) from e
            if status == 200:
                return self._keep(note, body, head.size)
            if status != 409 or kind != SIZE_TYPE or not body.strip().isdigit():
                raise self._failed(head.size, f"HTTP {status}: {body.strip()[:200]}", status == 422)
            known = int(body.strip())
            if known > head.size:
                self._ahead(known, head.size)
                return None
            if known == old:  # the same size with another root: the witness saw a fork
                raise self._failed(head.size, f"HTTP {status}", True)
            old = known
        raise self._failed(head.size, "HTTP 409", False)

    def _keep(self, note: str, answer: str, size: int) -> str:
        """The note with the witness's cosignature lines that verify, written to the file."""
        from fpcredit.guard.trail.checkpoints import record_cosignature

        cosigned = note + "".join(line + "\n" for line in answer.split("\n") if line)
        try:
            tlog.open_note(cosigned, [self.key])
            signatures = tlog.split_note(cosigned)[1]
        except TrailError as e:
            raise TrailError(text("trail.witness_unverified", url=self.url)) from e
        mine = (self.key.name, self.key.key_id)
        kept = note + "".join(line for name, blob, line in signatures if (name, blob[:4]) == mine)
        record_cosignature(self.trail, self.url, kept)
        self.accepted = size
        return kept

    def _ahead(self, known: int, size: int) -> None:
        """The witness holds a larger tree: fine when we signed it (a newer checkpoint got
        there first), a log that lost entries when we did not."""
        latest = self.trail.latest_checkpoint()
        signed = 0 if latest is None else tlog.Checkpoint.parse(tlog.split_note(latest)[0]).size
        if signed >= known:
            self.accepted = known
            return
        message = text("trail.witness_ahead", url=self.url, known=known, size=size)
        log.critical(message)
        raise TrailError(message)

    def _failed(self, size: int, error: str, fork: bool) -> TrailError:
        if fork:
            message = text("trail.witness_fork", url=self.url, size=size)
            log.critical("%s (%s)", message, error)
        else:
            message = text("trail.witness_failed", url=self.url, size=size, error=error)
        return TrailError(message)


def clients(trail: Trail, settings: Settings) -> list[WitnessClient]:
    """A client per witness in `settings.witnesses` (ConfigError naming a malformed key)."""
    out = []
    for w in settings.witnesses:
        try:
            key = CosignatureVerifier.from_key_string(w.key)
        except TrailError as e:
            raise ConfigError(text("trail.witness_setting", url=w.url)) from e
        out.append(WitnessClient(trail, w.url, key))
    return out


def submit_all(witnesses: Sequence[WitnessClient], note: str) -> int:
    """Submit `note` to each witness now; returns how many cosigned. A witness that fails is
    logged, never raised: the caller's work is done either way."""
    cosigned = 0
    for client in witnesses:
        try:
            cosigned += client.submit(note) is not None
        except TrailError as e:
            log.warning("%s", e)
    return cosigned


class WitnessWorker:
    """Submits the newest offered checkpoint to one witness, in a thread of its own; a failure
    is retried after `retry_s`, or sooner when a newer checkpoint is offered."""

    def __init__(self, client: WitnessClient, retry_s: float = 10.0) -> None:
        self.client, self.retry_s = client, retry_s
        self._cond = threading.Condition()
        self._note: str | None = None
        self._stop = False
        self._thread: threading.Thread | None = None

    def offer(self, note: str) -> None:
        with self._cond:
            self._note = note
            self._cond.notify()

    def start(self) -> None:
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="trail-witness", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the thread (a checkpoint not yet delivered is offered again at the next start)."""
        with self._cond:
            self._stop = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._note is None and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                note, self._note = self._note, None
            assert note is not None
            try:
                self.client.submit(note)
            except Exception as e:  # down, refusing, or anything else: logged, tried again
                log.warning("%s", e)
                with self._cond:
                    if self._note is None:
                        self._note = note
                    self._cond.wait(self.retry_s)
