"""The baseline of `api_rate.py`: a bare FastAPI app with one async endpoint, nothing else.

Served by uvicorn with the same loop and HTTP parser as `fpcredit serve` (uvloop, httptools),
so the ratio measures what fpcredit's gate, trail and lookup cost on top of the framework.
"""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/ping")
async def ping() -> dict[str, bool]:
    return {"pong": True}
