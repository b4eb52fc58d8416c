"""A witness (C2SP tlog-witness): cosigns a log's checkpoint only when it extends the last one.

Run by an auditor or another province (`fpcredit witness serve`), with its own home: its
Ed25519 witness key under ``keys/witness.key`` and, per log origin, the latest checkpoint it
cosigned under ``witness/`` (replaced atomically and fsynced before it answers). `add_checkpoint`
is the protocol, pure of HTTP: it takes the request body and returns the status, body and
content type to send (web/witness.py serves it).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from fpcredit.errors import ConfigError, TrailError
from fpcredit.files import private_dir, read_or_create, write_private
from fpcredit.guard.trail import tlog
from fpcredit.guard.trail.cosignature import CosignatureSigner
from fpcredit.guard.trail.notes import b64decode
from fpcredit.messages import text

__all__ = ["Answer", "Witness", "parse_logs", "parse_request"]

log = logging.getLogger(__name__)

KEY_FILE: Final = "witness.key"
SIZE_TYPE: Final = "text/x.tlog.size"
TEXT_TYPE: Final = "text/plain; charset=utf-8"
MAX_PROOF: Final = 63  # proof lines a request may carry (the spec's limit)
MAX_BODY: Final = 65_536
_OLD: Final = re.compile(r"old (0|[1-9][0-9]{0,19})")


@dataclass(frozen=True)
class Answer:
    """What to send back: an HTTP status, a body and its content type."""

    status: int
    body: str
    content_type: str = TEXT_TYPE


@dataclass(frozen=True)
class Request:
    """An add-checkpoint request: the old size, the consistency proof, the signed note."""

    old: int
    proof: list[bytes]
    note: str


def parse_request(body: bytes) -> Request:
    """Read ``old N``, up to 63 base64 proof lines, an empty line and the signed checkpoint;
    TrailError (400) saying what is wrong."""
    try:
        raw = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise TrailError(text("witness.malformed", why="UTF-8")) from e
    first, _, rest = raw.partition("\n")
    found = _OLD.fullmatch(first)
    if not found:
        raise TrailError(text("witness.malformed", why="old"))
    proof: list[bytes] = []
    while True:
        line, newline, rest = rest.partition("\n")
        if not newline:
            raise TrailError(text("witness.malformed", why="proof"))
        if not line:
            break
        hashed = b64decode(line)
        if hashed is None or len(hashed) != tlog.HASH_SIZE or len(proof) == MAX_PROOF:
            raise TrailError(text("witness.malformed", why="proof"))
        proof.append(hashed)
    return Request(int(found.group(1)), proof, rest)


def parse_logs(specs: Sequence[str]) -> dict[str, list[tlog.NoteVerifier]]:
    """``ORIGIN=VERIFIER_KEY`` options as the keys trusted per origin (ConfigError if bad)."""
    logs: dict[str, list[tlog.NoteVerifier]] = {}
    for spec in specs:
        origin, sep, key = spec.partition("=")
        try:
            if not sep or not origin:
                raise TrailError(spec)
            logs.setdefault(origin, []).append(tlog.NoteVerifier.from_key_string(key))
        except TrailError as e:
            raise ConfigError(text("witness.log_option", value=spec)) from e
    if not logs:
        raise ConfigError(text("witness.no_logs"))
    return logs


@dataclass(frozen=True)
class _State:
    """The latest checkpoint cosigned for one origin."""

    size: int
    root: bytes
    note: str  # the checkpoint, the log's verified signature lines and our cosignature


class Witness:
    """Cosigns consistent successors of the logs it trusts; keeps the latest per origin."""

    def __init__(
        self,
        state_dir: Path,
        signer: CosignatureSigner,
        logs: Mapping[str, Sequence[tlog.NoteVerifier]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state_dir = private_dir(state_dir)
        self.signer = signer
        self.logs = {origin: list(keys) for origin, keys in logs.items()}
        self.clock = clock
        self._lock = threading.Lock()

    @classmethod
    def open(cls, home: Path, logs: Sequence[str], name: str) -> Witness:
        """The witness of `home`: its key (created, named `name`, on first use) and state."""
        path = home / "keys" / KEY_FILE
        raw = read_or_create(path, lambda: CosignatureSigner.generate(name).key_string().encode())
        try:
            signer = CosignatureSigner.from_key_string(raw.decode())
        except (UnicodeDecodeError, TrailError) as e:
            raise ConfigError(text("trail.key_damaged", name=path.name)) from e
        return cls(home / "witness", signer, parse_logs(logs))

    def verifier_key(self) -> str:
        """The key a log pins for this witness: name+hex(key id)+base64(0x04 ‖ key)."""
        return self.signer.verifier.key_string()

    # -- state --

    def _path(self, origin: str) -> Path:
        return self.state_dir / f"{hashlib.sha256(origin.encode()).hexdigest()[:32]}.json"

    def _load(self, origin: str) -> _State | None:
        try:
            doc = json.loads(self._path(origin).read_bytes())
        except FileNotFoundError:
            return None
        except ValueError as e:
            raise TrailError(text("trail.file_damaged", path=self._path(origin), line=1)) from e
        return _State(int(doc["size"]), bytes.fromhex(doc["root"]), str(doc["note"]))

    def _save(self, origin: str, state: _State) -> None:
        doc = {"origin": origin, "size": state.size, "root": state.root.hex(), "note": state.note}
        write_private(self._path(origin), json.dumps(doc, ensure_ascii=False).encode())

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Check and update atomically, across threads and processes (the spec's race)."""
        with self._lock:
            fd = os.open(self.state_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)

    def latest(self, origin: str) -> str | None:
        """The latest checkpoint cosigned for `origin`, with its signatures (our extension)."""
        state = self._load(origin)
        return None if state is None else state.note

    # -- the protocol --

    def add_checkpoint(self, body: bytes) -> Answer:
        """C2SP tlog-witness add-checkpoint: 200 with our cosignature line, 400 malformed,
        403 no trusted signature, 404 unknown origin, 409 (with the size we know) when the old
        size is not ours or the same size has another root, 422 when the proof fails."""
        try:
            request = parse_request(body)
            note_text, signatures = tlog.split_note(request.note)
            head = tlog.Checkpoint.parse(note_text)
        except TrailError as e:
            return Answer(400, f"{e}\n")
        if head.origin not in self.logs:
            return Answer(404, text("witness.unknown_log", origin=head.origin) + "\n")
        keys = self.logs[head.origin]
        try:
            tlog.open_note(request.note, keys)
        except TrailError:
            return Answer(403, text("witness.unverified") + "\n")
        if request.old > head.size:
            return Answer(400, text("witness.old_too_big", old=request.old, size=head.size) + "\n")
        trusted = {(k.name, k.key_id) for k in keys}
        lines = "".join(line for name, blob, line in signatures if (name, blob[:4]) in trusted)
        with self._locked():
            return self._extend(head, request, note_text, lines)

    def _extend(self, head: tlog.Checkpoint, request: Request, body: str, lines: str) -> Answer:
        state = self._load(head.origin)
        known = 0 if state is None else state.size
        if request.old != known or (
            state is not None and head.size == known and head.root != state.root
        ):
            self._suspect(head, request, known)
            return Answer(409, f"{known}\n", SIZE_TYPE)
        if not _consistent(request, head, state):
            self._suspect(head, request, known)
            return Answer(422, text("witness.proof_bad", old=request.old, size=head.size) + "\n")
        cosignature = self.signer.cosignature_line(body, int(self.clock()))
        self._save(head.origin, _State(head.size, head.root, f"{body}\n{lines}{cosignature}"))
        return Answer(200, cosignature)

    @staticmethod
    def _suspect(head: tlog.Checkpoint, request: Request, known: int) -> None:
        # A validly signed checkpoint that does not extend what we cosigned may be evidence of
        # a log misbehaving (the spec invites logging it).
        log.warning(
            "refused checkpoint of %s: size %d from old size %d, ours %d",
            head.origin,
            head.size,
            request.old,
            known,
        )


def _consistent(request: Request, head: tlog.Checkpoint, state: _State | None) -> bool:
    """The proof from the checkpoint we hold (empty from nothing or to the same size)."""
    if state is None or request.old == 0:
        return not request.proof
    return tlog.verify_consistency(state.size, head.size, request.proof, state.root, head.root)
