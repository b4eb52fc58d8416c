"""Health, metrics and the constant endpoint (the benchmark's baseline)."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Response
from pydantic import BaseModel

from fpcredit.web.deps import PROBLEMS, ServicesDep

router = APIRouter(tags=["system"], responses=PROBLEMS)


class Health(BaseModel):
    status: str
    database: str
    revision: str | None


class Pong(BaseModel):
    pong: bool


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
def healthz(services: ServicesDep, response: Response) -> Health:
    """Whether the service can reach its store (503 when it cannot)."""
    try:
        with services.store.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return Health(status="ok", database="ok", revision=services.revision)
    except sa.exc.SQLAlchemyError:
        response.status_code = 503
        return Health(status="degraded", database="unreachable", revision=None)


@router.get("/metrics", response_class=Response)
def metrics(services: ServicesDep) -> Response:
    """Prometheus text exposition."""
    return Response(services.metrics.exposition(), media_type="text/plain; version=0.0.4")


@router.get("/v1/ping", response_model=Pong)
async def ping() -> Pong:
    """A constant answer: no database, no token (the baseline of `benchmarks/api_rate.py`)."""
    return Pong(pong=True)
