"""The witness over HTTP (`fpcredit witness serve`): C2SP tlog-witness add-checkpoint, and one
read route of our own for auditors (the latest cosigned checkpoint of a log)."""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from fpcredit.guard.trail.witness import MAX_BODY, Witness
from fpcredit.web.limits import BodyLimit

__all__ = ["create_witness_app"]


def create_witness_app(witness: Witness) -> FastAPI:
    """The witness's app: POST /add-checkpoint and GET /latest-checkpoint?origin=…"""
    app = FastAPI(
        title="fpcredit witness", version="1", docs_url=None, redoc_url=None, openapi_url=None
    )

    @app.post("/add-checkpoint")
    async def add_checkpoint(request: Request) -> Response:
        """Cosign a checkpoint that extends the last one cosigned for its log."""
        body = await request.body()
        # In a thread: the state is fsynced before the answer.
        answer = await run_in_threadpool(witness.add_checkpoint, body)
        # The content type exactly as given: the spec's text/x.tlog.size has no charset.
        headers = {"content-type": answer.content_type}
        return Response(answer.body, status_code=answer.status, headers=headers)

    @app.get("/latest-checkpoint")
    def latest_checkpoint(
        origin: Annotated[str, Query(min_length=1, max_length=256)],
    ) -> Response:
        """The latest checkpoint this witness cosigned for `origin` (a signed note with the
        log's signature and our cosignature), or 404."""
        note = witness.latest(origin)
        if note is None:
            return Response("\n", status_code=404, media_type="text/plain; charset=utf-8")
        return Response(note, media_type="text/plain; charset=utf-8")

    app.add_middleware(BodyLimit, max_bytes=MAX_BODY)
    return app
