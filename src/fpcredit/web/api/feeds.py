"""A department's feed pushed over HTTP (R2): the same ingestion as `fpcredit ingest`.

A department system sends one file as the request body, as it is, in the format its mapping
declares (CSV in GB18030 or UTF-8, JSON Lines, Parquet). The body is streamed, block by block,
to a private file under `FPCREDIT_HOME/uploads` (0600 in a 0700 folder) while it is hashed, so
a file of any size up to `feed_max_bytes` is never held in memory; it is ingested in the thread
pool by `collect.ingest.ingest_once` and removed afterwards, whatever happened. A byte-identical
re-send answers with the first ingestion's report and writes nothing. docs/ingestion.md,
"Pushing a feed over HTTP", documents the route, its answers and its errors.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import re
import secrets
import time
from pathlib import Path
from typing import Annotated, Final

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import ClientDisconnect

from fpcredit.collect.ingest import Ingested, ingest_once
from fpcredit.collect.mapping import load_mapping, sources
from fpcredit.errors import FeedError, StoreError, TrailError
from fpcredit.files import FILE_MODE, private_dir
from fpcredit.guard.trail.log import Event
from fpcredit.messages import text
from fpcredit.web.deps import (
    PROBLEMS,
    Caller,
    CurrentCaller,
    Problem,
    Services,
    ServicesDep,
    invalid,
)
from fpcredit.web.limits import retry_after

__all__ = ["UPLOADS", "FeedReport", "router"]

UPLOADS: Final = "uploads"  # under FPCREDIT_HOME: files being received, each removed after
_BLOCK: Final = 1 << 20  # bytes gathered before a write (and its hashing) in the thread pool
_STALE_S: Final = 24 * 3600  # a file this old was left by a killed process: removed
_NAME_MAX: Final = 255

router = APIRouter(prefix="/v1/feeds", tags=["feeds"], responses=PROBLEMS)


class FeedReport(BaseModel):
    """The reconciliation report of `fpcredit ingest --json` (rows = accepted + duplicates +
    quarantined), with the ingestion it is, the file's SHA-256 and whether it was a re-send."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="The file's name as the client gave it (`name`), never a path.")
    source: str
    rows: int
    accepted: int
    duplicates: int
    quarantined: int
    flagged: int = Field(description="Accepted rows with at least one field flagged doubtful.")
    dropped_fields: list[str] = Field(description="Columns outside the standard, not stored.")
    ingestion_id: int = Field(description="The ingestion (the first one, for a re-send).")
    file_sha256: str = Field(description="SHA-256 of the bytes received.")
    replayed: bool = Field(
        description="The same bytes had been ingested for this source: this is their first "
        "report, and nothing was written now."
    )


FileName = Annotated[
    str | None,
    Query(
        max_length=_NAME_MAX,
        description="The file's name, for the report and the ingestion's record "
        "(default: <source>.<format>); only its last path component is kept.",
    ),
]

_BODY: Final = {
    "requestBody": {
        "required": True,
        "description": "The feed file, byte for byte, in the format of the source's mapping.",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def _shown(name: str) -> str:
    """A file name as a report shows it: its last path component, printable characters only."""
    last = re.split(r"[/\\]", name)[-1]
    return "".join(ch for ch in last if ch.isprintable()).strip()[:_NAME_MAX]


async def _trail(
    services: Services, caller: Caller, outcome: str, subject: str, address: str | None = None
) -> None:
    """One entry of the push's decision: who, which outcome, about what (hashed)."""
    principal = caller.principal
    entry = Event(
        f"{principal.role.value}:{principal.subject}",
        caller.rule.action,
        outcome=outcome,
        subject=subject,
        address=address,
    )
    await services.commits.append_async(entry)
    services.metrics.audit(outcome)


def _uploads(home: Path) -> Path:
    """The private folder of files being received; what a killed process left is removed."""
    folder = private_dir(home / UPLOADS)
    cutoff = time.time() - _STALE_S
    for left in folder.glob("*.part"):
        with contextlib.suppress(OSError):
            if left.stat().st_mtime < cutoff:
                left.unlink()
    return folder


class _Spool:
    """The body on its way to a private file: written and hashed a block at a time."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / f"{secrets.token_hex(8)}.part"
        # Created 0600 from the start, never readable by others (fpcredit.files' rule).
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        self.handle = os.fdopen(fd, "wb")
        self.digest = hashlib.sha256()
        self.size = 0
        self._buffer = bytearray()

    def _write(self, block: bytes | bytearray) -> None:
        self.handle.write(block)
        self.digest.update(block)

    async def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self._buffer += chunk
        if len(self._buffer) >= _BLOCK:
            block, self._buffer = self._buffer, bytearray()
            await run_in_threadpool(self._write, block)

    def finish(self) -> str:
        """Write what is left and close the file; its SHA-256 (hex)."""
        self._write(self._buffer)
        self._buffer = bytearray()
        self.handle.close()
        return self.digest.hexdigest()

    def remove(self) -> None:
        self.handle.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _too_large(limit: int) -> HTTPException:
    return HTTPException(413, text("web.too_large", limit=limit))


def _declared(request: Request, limit: int) -> None:
    """The Content-Length, if the client sent one, checked before a byte is read."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise _too_large(limit)


def _take_push(services: Services, caller: Caller) -> None:
    """Count one push against the client's per-minute allowance; 429 when it is spent."""
    buckets = services.limits.feed
    if not buckets.enabled:
        return
    wait = buckets.take(services.limits.name("client", caller.principal.subject))
    if wait > 0:
        count = services.settings.feed_pushes_per_minute
        raise HTTPException(
            429, text("web.feed_rate_limited", count=count), {"Retry-After": retry_after(wait)}
        )


def _answer(done: Ingested, sha256: str) -> FeedReport:
    report = done.report
    return FeedReport(
        path=_shown(report.path),
        source=report.source,
        rows=report.rows,
        accepted=report.accepted,
        duplicates=report.duplicates,
        quarantined=report.quarantined,
        flagged=report.flagged,
        dropped_fields=report.dropped_fields,
        ingestion_id=done.ingestion_id,
        file_sha256=sha256,
        replayed=done.replayed,
    )


@router.post(
    "/{source}",
    response_model=FeedReport,
    openapi_extra=_BODY,
    responses={
        403: {"model": Problem, "description": "Not a department client, or not its source."},
        404: {"model": Problem, "description": "No such department source."},
        413: {"model": Problem, "description": "The file is over `feed_max_bytes`."},
        429: {"model": Problem, "description": "This client's pushes a minute are spent."},
        503: {"model": Problem, "description": "The store is busy or the trail is not written."},
    },
)
async def push(
    source: str,
    request: Request,
    caller: CurrentCaller,
    services: ServicesDep,
    name: FileName = None,
) -> FeedReport | Response:
    """Ingest one feed file of the caller's own department; a re-send of the same bytes
    answers with the first ingestion's report (`replayed`) and changes nothing. A file that
    cannot be ingested as a whole (a required column missing, unreadable) is answered 422 with
    the reason, and nothing of it is stored."""
    settings = services.settings
    address = request.client.host if request.client else None
    known = await run_in_threadpool(sources, settings.mappings_dir)
    if source not in known:
        await _trail(services, caller, "unknown_source", f"source:{source}", address)
        raise HTTPException(404, text("web.feed_unknown_source", known=", ".join(known)))
    own = caller.principal.source
    if own != source:  # a department pushes its own feeds only
        await _trail(services, caller, "refused_source", f"source:{source}", address)
        raise HTTPException(403, text("web.feed_other_source", own=own or "-"))
    limit = settings.feed_max_bytes
    _declared(request, limit)
    _take_push(services, caller)
    folder = await run_in_threadpool(_uploads, settings.home)
    spool = await run_in_threadpool(_Spool, folder)
    try:
        try:
            async for chunk in request.stream():
                await spool.add(chunk)
                if spool.size > limit:  # BodyLimit cuts it first; this route keeps its own
                    raise _too_large(limit)
        except ClientDisconnect:
            # The client left, or BodyLimit answered 413 and told us so: nobody reads this.
            return Response(status_code=400)
        sha256 = await run_in_threadpool(spool.finish)
        shown = _shown(name or "")
        if not shown:
            mapping = await run_in_threadpool(load_mapping, source, settings.mappings_dir)
            shown = f"{source}.{mapping.format}"
        try:
            done = await run_in_threadpool(
                ingest_once,
                services.store,
                services.vault,
                source,
                spool.path,
                name=shown,
                sha256=sha256,
                mappings_dir=settings.mappings_dir,
            )
        except FeedError as e:
            await _trail(services, caller, "rejected", f"file:{sha256}")
            raise invalid(["body"], text("web.feed_unusable", reason=e.reason)) from None
        except StoreError as e:
            wait = retry_after(math.ceil(settings.lock_timeout_s))
            raise HTTPException(503, str(e), {"Retry-After": wait}) from None
    finally:
        spool.remove()  # on the loop: one unlink, done even if the request is cancelled
    try:
        outcome = "replayed" if done.replayed else "ok"
        await _trail(services, caller, outcome, f"ingestion:{done.ingestion_id}")
    except TrailError:
        raise HTTPException(503, text("web.feed_trail_failed")) from None
    return _answer(done, sha256)
