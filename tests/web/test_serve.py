"""`fpcredit serve` as an operator runs it: loopback HTTP, TLS, refusing plain HTTP elsewhere."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fpcredit.config import Settings
from fpcredit.service import initialise

pytestmark = pytest.mark.slow
FPCREDIT = str(Path(sys.executable).parent / "fpcredit")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _home(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    initialise(Settings(home=home))
    return {**os.environ, "FPCREDIT_HOME": str(home)}


def _wait(url: str, verify: bool | ssl.SSLContext = True) -> httpx.Response:
    for _ in range(150):
        try:
            return httpx.get(url, verify=verify, timeout=1)
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_serves_on_loopback_with_json_logs_free_of_identifiers(tmp_path: Path) -> None:
    port = _port()
    proc = subprocess.Popen(
        [FPCREDIT, "serve", "--port", str(port)],
        env=_home(tmp_path),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _wait(f"http://127.0.0.1:{port}/healthz").json()["status"] == "ok"
        # An ID number in a request must not reach the log: it goes in the body, and the
        # log names the route template only.
        r = httpx.post(
            f"http://127.0.0.1:{port}/v1/auth/citizen-code",
            json={"id_number": "11010519491231002X"},
        )
        assert r.status_code == 202
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json").status_code == 200
    finally:
        proc.terminate()
        _out, logs = proc.communicate(timeout=20)
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    routes = {line.get("route") for line in lines}
    assert {"/healthz", "/v1/auth/citizen-code"} <= routes
    assert "11010519491231002X" not in logs


def test_serves_https_with_a_certificate(tmp_path: Path) -> None:
    port = _port()
    cert, key = _certificate(tmp_path)
    proc = subprocess.Popen(
        [FPCREDIT, "serve", "--host", "127.0.0.1", "--port", str(port),
         "--tls-cert", str(cert), "--tls-key", str(key)],
        env=_home(tmp_path),
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert (
            _wait(
                f"https://127.0.0.1:{port}/healthz",
                verify=ssl.create_default_context(cafile=str(cert)),
            ).status_code
            == 200
        )
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).raise_for_status()
    finally:
        proc.terminate()
        proc.wait(20)


def test_refuses_plain_http_beyond_loopback(tmp_path: Path) -> None:
    result = subprocess.run(
        [FPCREDIT, "serve", "--host", "0.0.0.0", "--port", str(_port())],
        env={**_home(tmp_path), "FPCREDIT_LANGUAGE": "en"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "plain HTTP" in result.stderr and "Traceback" not in result.stderr
    half = subprocess.run(
        [FPCREDIT, "serve", "--tls-cert", "x.pem"],
        env={**_home(tmp_path / "b"), "FPCREDIT_LANGUAGE": "en"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert half.returncode == 1 and "--tls-key" in half.stderr


def _statuses_behind(tmp_path: Path, env: dict[str, str], forwarded: list[str]) -> list[int]:
    """Start `fpcredit serve` with a tight address limit and ask /v1/ping once per value of
    X-Forwarded-For (the health check before counts one)."""
    port = _port()
    limits = {"FPCREDIT_RATE_LIMIT_PER_S": "0.01", "FPCREDIT_RATE_LIMIT_BURST": "5"}
    proc = subprocess.Popen(
        [FPCREDIT, "serve", "--port", str(port)],
        env={**_home(tmp_path), **limits, **env},
        stderr=subprocess.DEVNULL,
    )
    try:
        first = _wait(f"http://127.0.0.1:{port}/healthz")
        assert first.headers["cache-control"] == "no-store"  # the real server adds them too
        assert first.headers["x-content-type-options"] == "nosniff"
        url = f"http://127.0.0.1:{port}/v1/ping"
        return [httpx.get(url, headers={"X-Forwarded-For": f}).status_code for f in forwarded]
    finally:
        proc.terminate()
        proc.wait(20)


def test_a_forged_forwarded_for_does_not_dodge_the_address_limit(tmp_path: Path) -> None:
    """The probe of issue 21: uvicorn believed X-Forwarded-For from loopback, so a caller
    there picked a new address for each request and was never limited. uvicorn's own
    FORWARDED_ALLOW_IPS is ignored too: only FPCREDIT_TRUSTED_PROXIES counts."""
    rotating = [f"203.0.113.{n}" for n in range(1, 9)]
    statuses = _statuses_behind(tmp_path / "a", {"FORWARDED_ALLOW_IPS": "*"}, rotating)
    assert statuses[:4] == [200] * 4 and set(statuses[4:]) == {429}


def test_a_configured_proxy_is_believed(tmp_path: Path) -> None:
    trusted = {"FPCREDIT_TRUSTED_PROXIES": "127.0.0.1,10.0.0.0/8"}
    rotating = [f"203.0.113.{n}" for n in range(1, 9)]
    assert _statuses_behind(tmp_path / "a", trusted, rotating) == [200] * 8
    same = ["203.0.113.7"] * 7
    assert _statuses_behind(tmp_path / "b", trusted, same) == [200] * 5 + [429] * 2
