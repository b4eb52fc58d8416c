"""Serving the API and the witness with uvicorn (`fpcredit serve`, `demo`, `witness serve`): the
TLS and loopback checks, redacting JSON logs, the garbage collector tuned for a long-lived server.

Nothing here prints: the caller is told where the server listens (`listening`, the URL) and says
so itself.
"""

from __future__ import annotations

import gc
import ipaddress
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn

from fpcredit.config import Settings
from fpcredit.errors import ConfigError
from fpcredit.guard.redact import configure_logging
from fpcredit.messages import text

if TYPE_CHECKING:
    from fpcredit.guard.trail.witness import Witness

__all__ = ["serve", "serve_witness"]

Listening = Callable[[str], None]


def serve(
    settings: Settings,
    host: str,
    port: int,
    tls_cert: Path | None,
    tls_key: Path | None,
    plain_http: bool = False,
    listening: Listening | None = None,
) -> None:
    """Run the API until stopped; plain HTTP only on loopback unless `plain_http` (behind a TLS
    proxy). A refused set-up raises ConfigError before anything starts."""
    from fpcredit.web.app import create_app

    if bool(tls_cert) != bool(tls_key):
        raise ConfigError(text("serve.tls_pair"))
    loopback = host == "localhost" or (_is_ip(host) and ipaddress.ip_address(host).is_loopback)
    if not tls_cert and not loopback and not plain_http:
        raise ConfigError(text("serve.plain_refused", host=host))
    # Log lines are redacted, formatted and written by a thread of their own, off the event loop.
    logs = configure_logging(json=True, level=logging.INFO, queued=True)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # not one line per health check
    web = create_app(settings)
    _tune_gc()
    scheme = "https" if tls_cert else "http"
    if listening:
        listening(f"{scheme}://{host}:{port}")
    try:
        _run(web, settings, host, port, tls_cert, tls_key)
    finally:
        logs.close()  # the logging thread writes what is queued


def serve_witness(
    witness: Witness, host: str, port: int, listening: Listening | None = None
) -> None:
    """Run a witness (C2SP tlog-witness) until stopped, logging JSON lines."""
    from fpcredit.web.witness import create_witness_app

    configure_logging(json=True, level=logging.INFO)
    if listening:
        listening(f"http://{host}:{port}")
    uvicorn.run(
        create_witness_app(witness),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        server_header=False,
    )


def _run(
    web: Any, settings: Settings, host: str, port: int, tls_cert: Path | None, tls_key: Path | None
) -> None:
    uvicorn.run(
        web,
        host=host,
        port=port,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        log_config=None,  # our redacting JSON logging, not uvicorn's own
        access_log=False,  # requests are logged by the app, by route template
        server_header=False,
        # The C event loop and HTTP parser: the pure-Python pair served a bare endpoint at
        # 0.58× their rate here (docs/security.md, "Measured").
        loop="uvloop",
        http="httptools",
        # X-Forwarded-For is believed only from the configured proxies (by default from none:
        # uvicorn's own default trusts loopback, so anyone there could pick their address).
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies) or None,
    )


def _tune_gc() -> None:
    """Keep the cyclic garbage collector off the objects that live as long as the server.

    Everything built so far (modules, the app, its models and services) is moved out of the
    collector's reach (`gc.freeze`), and young collections run every 10,000 allocations instead
    of 700. A lookup that waits for its trail entry keeps its request alive across a commit, and
    the older-generation collections this caused scanned the whole heap: 15–20 % of the
    server's CPU per lookup (benchmarks/api_rate.py; docs/security.md, "Measured").
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
