"""What the service benchmarks share: an evaluated province, a running server, logged-in callers.

Used by `api_rate.py` and `soak.py`. The server is `fpcredit serve` in its own process, as an
operator runs it; callers log in through the API as users and department systems do.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyarrow.parquet as pq

from fpcredit.config import Settings
from fpcredit.guard.access import ROLE_PURPOSES, Role
from fpcredit.guard.auth import accounts, clients
from fpcredit.guard.auth.passwords import totp_code
from fpcredit.service import load_province
from fpcredit.store.db import open_store, utc_now
from fpcredit.synth import generate

__all__ = [
    "AS_OF",
    "Server",
    "build_home",
    "department_client",
    "free_port",
    "national_token",
    "person_ids",
    "rss_kib",
    "serve",
    "tree_rss_kib",
]

AS_OF = dt.date(2026, 6, 30)
PASSWORD = "Bench-mark-2026"
FPCREDIT = str(Path(sys.executable).parent / "fpcredit")
# The benchmarks measure the service, not its limits: every limit off or far away.
LIMITS_OFF = {
    "FPCREDIT_RATE_LIMIT_PER_S": "0",
    "FPCREDIT_RATE_LIMIT_SUBJECT_PER_S": "0",
    "FPCREDIT_RATE_LIMIT_LOGIN_PER_MIN": "0",
}


def build_home(home: Path, people: int, seed: int = 5) -> None:
    feeds = home.parent / "feeds"
    generate(people=people, seed=seed, out=feeds, until=AS_OF)
    load_province(Settings(home=home), feeds, AS_OF)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _wait(proc: subprocess.Popen[bytes], url: str) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with status {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start")


def serve(home: Path, env: dict[str, str] | None = None) -> Server:
    """`fpcredit serve` on a free loopback port, limits off, logs discarded."""
    port = free_port()
    environ = {**os.environ, "FPCREDIT_HOME": str(home), **LIMITS_OFF, **(env or {})}
    proc = subprocess.Popen(
        [FPCREDIT, "serve", "--port", str(port)],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait(proc, f"http://127.0.0.1:{port}/healthz")
    return Server(proc, port)


def serve_bare(port: int | None = None) -> Server:
    """The bare FastAPI app of `bare_app.py` under uvicorn with uvloop and httptools."""
    port = port or free_port()
    here = Path(__file__).resolve().parent
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bare_app:app", "--app-dir", str(here),
         "--port", str(port), "--loop", "uvloop", "--http", "httptools",
         "--no-access-log", "--log-level", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _wait(proc, f"http://127.0.0.1:{port}/ping")
    return Server(proc, port)


def national_token(home: Path, base: str) -> str:
    """A national clerk made for the run, logged in with password and TOTP."""
    settings = Settings(home=home)
    store = open_store(settings)
    name = f"bench{int(time.time() * 1000) % 10**9}"
    try:
        made = accounts.add_user(store, "national", "000000", name, PASSWORD, settings=settings)
    finally:
        store.engine.dispose()
    r = httpx.post(
        f"{base}/v1/auth/token",
        json={
            "grant_type": "password",
            "username": name,
            "password": PASSWORD,
            "totp": totp_code(made.totp_secret, utc_now()),
        },
        timeout=30,
    )
    r.raise_for_status()
    return str(r.json()["access_token"])


def department_client(home: Path, source: str = "health") -> tuple[str, str]:
    """A department system's client id and secret (any earlier client of `source` retired)."""
    settings = Settings(home=home)
    store = open_store(settings)
    try:
        for client in clients.list_clients(store):
            if client.source == source and client.disabled_at is None:
                clients.disable_client(store, client.client_id)
        return clients.add_client(store, source, ROLE_PURPOSES[Role.DEPARTMENT], settings=settings)
    finally:
        store.engine.dispose()


def person_ids(home: Path, limit: int = 5000) -> list[int]:
    """Evaluated persons of the newest evaluation."""
    files = sorted((home / "evaluations").glob("*.parquet"))
    ids = pq.read_table(files[-1], columns=["person_id"]).column("person_id").to_pylist()
    return [int(i) for i in ids[:limit]]


def rss_kib(pid: int) -> int:
    """Resident set size of a process (KiB), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise SystemExit(f"no VmRSS for process {pid}")


def descendants(pid: int) -> list[int]:
    """The processes started by `pid`, and theirs (the fork server, the explanation workers)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, pending = [], [pid]
    while pending:
        children = parents.get(pending.pop(), [])
        found.extend(children)
        pending.extend(children)
    return found


def tree_rss_kib(pid: int) -> int:
    """Resident set sizes of `pid` and its descendants, summed (pages shared after a fork are
    counted in each: an upper bound)."""
    total = rss_kib(pid)
    for child in descendants(pid):
        try:
            total += rss_kib(child)
        except (OSError, SystemExit):  # exited meanwhile, or a zombie without VmRSS
            continue
    return total
