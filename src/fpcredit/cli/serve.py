"""`fpcredit serve`: the HTTP API (web/server.py starts it)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fpcredit.cli.common import app, errors, listening, load_settings

HostOpt = Annotated[str, typer.Option(help="Address to listen on.")]
PortOpt = Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)]


@app.command()
def serve(
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
    tls_cert: Annotated[Path | None, typer.Option(help="TLS certificate (PEM).")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="TLS private key (PEM).")] = None,
    plain_http: Annotated[
        bool,
        typer.Option(help="Allow plain HTTP on a non-loopback address (behind a TLS proxy)."),
    ] = False,
) -> None:
    """Run the HTTP API (OpenAPI at /openapi.json, /healthz, /metrics, routes under /v1/)."""
    from fpcredit.web.server import serve as run_server

    settings = load_settings()
    with errors():
        run_server(settings, host, port, tls_cert, tls_key, plain_http, listening=listening)
