"""One store, many processes: the server under audited reads while CLI commands write beside it.

Each round starts `fpcredit serve`, keeps it busy with audited reads from two threads, runs
the CLI (status, ingest, link, evaluate, explain, users disable) beside it, watches the
server's open files, stops it, and checks that nothing it acknowledged was lost: every read
answered has its trail entry, every command's write is there, a disabled account stays
disabled, the trail verifies and its signed checkpoints never went backwards.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.guard.auth import accounts
from fpcredit.guard.auth.passwords import totp_code
from fpcredit.service import feed_path, load_province
from fpcredit.store import schema as s
from fpcredit.store.db import open_store, utc_now
from fpcredit.synth import generate
from tests.conftest import PG_ADMIN_URL, _pg_available

pytestmark = pytest.mark.slow
FPCREDIT = str(Path(sys.executable).parent / "fpcredit")
ROUNDS = int(os.environ.get("FPCREDIT_LIVE_ROUNDS", "20"))
LOADED = dt.date(2026, 3, 31)  # the province as first loaded; later rows arrive by `ingest`
AS_OF = dt.date(2026, 6, 30)
PASSWORD = "Fp-credit-2026!"
READERS = 2


@dataclass
class Province:
    settings: Settings
    env: dict[str, str]
    later: Path  # feeds recorded up to AS_OF: what the rounds ingest
    persons: list[int]


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def province(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Province]:
    tmp = tmp_path_factory.mktemp("live")
    url, drop = None, None
    if request.param == "postgres":
        url, drop = _fresh_pg_database()
    settings = Settings(home=tmp / "home", database_url=url, rate_limit_per_s=0)
    generate(people=300, seed=41, out=tmp / "first", until=LOADED)
    generate(people=300, seed=41, out=tmp / "later", until=AS_OF)
    load_province(settings, tmp / "first", LOADED)
    # The evaluated persons: every one of them can be explained at a later date too.
    (results,) = (settings.home / "evaluations").glob("*.parquet")
    persons = pq.read_table(results, columns=["person_id"]).column(0).to_pylist()
    env = {
        **os.environ,
        "FPCREDIT_HOME": str(settings.home),
        "FPCREDIT_RATE_LIMIT_PER_S": "0",
        # The readers share one token and read as fast as the server answers: on an idle
        # machine that is over the per-subject rate (a 429 is not what this test is about).
        "FPCREDIT_RATE_LIMIT_SUBJECT_PER_S": "0",
        "FPCREDIT_LANGUAGE": "en",
    }
    if url:
        env["FPCREDIT_DATABASE_URL"] = url
    yield Province(settings, env, tmp / "later", persons)
    if drop:
        drop()


def _fresh_pg_database() -> tuple[str, object]:
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}")
        pytest.skip("PostgreSQL not reachable")
    name = f"fpcredit_live_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))

    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", drop


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    base: str

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


@contextlib.contextmanager
def _serving(p: Province) -> Iterator[Server]:
    port = _port()
    proc = subprocess.Popen(
        [FPCREDIT, "serve", "--port", str(port)], env=p.env, stderr=subprocess.DEVNULL
    )
    server = Server(proc, f"http://127.0.0.1:{port}")
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(server.base + "/healthz", timeout=1).status_code == 200:
                    break
            assert proc.poll() is None, "the server exited at start"
            time.sleep(0.1)
        yield server
    finally:
        server.stop()


def _staff(p: Province, role: str, region: str) -> tuple[str, str]:
    """A staff account (its username) and its TOTP secret."""
    store = open_store(p.settings)
    try:
        name = f"{role[:4]}{uuid.uuid4().hex[:8]}"
        made = accounts.add_user(store, role, region, name, PASSWORD, settings=p.settings)
    finally:
        store.engine.dispose()
    return name, made.totp_secret


def _login(base: str, name: str, secret: str) -> dict[str, str]:
    body = {
        "grant_type": "password",
        "username": name,
        "password": PASSWORD,
        "totp": totp_code(secret, utc_now()),
    }
    response = httpx.post(base + "/v1/auth/token", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@dataclass
class Load:
    """Audited reads from a few threads; what the server acknowledged, by route."""

    base: str
    headers: dict[str, str]
    persons: list[int]
    answered: dict[str, int] = field(default_factory=lambda: {"credit": 0, "explanation": 0})
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=60) as client:
            while not self.stop.is_set():
                kind = "explanation" if rng.random() < 0.2 else "credit"
                pid = rng.choice(self.persons)
                url = (
                    f"/v1/persons/{pid}/credit"
                    if kind == "credit"
                    else f"/v1/persons/{pid}/explanation"
                )
                try:
                    response = client.get(url, params={"purpose": "credit_evaluation"})
                except httpx.HTTPError as e:
                    self.errors.append(f"{url}: {e!r}")
                    continue
                # 404 = not evaluated (yet): the gate still wrote the read's entry first.
                if response.status_code in (200, 404):
                    with self.lock:
                        self.answered[kind] += 1
                else:
                    self.errors.append(f"{url}: {response.status_code} {response.text[:200]}")


@dataclass
class Watch:
    """Samples the server's open files and its signed checkpoints while the round runs."""

    pid: int
    base: str
    store_files: tuple[str, ...]
    unlinked: set[str] = field(default_factory=set)
    sizes: list[int] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        last_checkpoint = 0.0
        while not self.stop.is_set():
            self.sample()
            if time.monotonic() - last_checkpoint > 0.5:
                with contextlib.suppress(httpx.HTTPError):
                    note = httpx.get(self.base + "/v1/audit/checkpoint", timeout=10).text
                    self.sizes.append(int(note.split("\n")[1]))
                last_checkpoint = time.monotonic()
            time.sleep(0.02)

    def sample(self) -> None:
        folder = f"/proc/{self.pid}/fd"
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            for fd in os.listdir(folder):
                with contextlib.suppress(OSError):
                    target = os.readlink(f"{folder}/{fd}")
                    if target.endswith("(deleted)") and target.startswith(self.store_files):
                        self.unlinked.add(target)


def _cli(p: Province, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([FPCREDIT, *args], env=p.env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"fpcredit {' '.join(args)}: {done.stderr[-2000:]}"
    return done


def _commands(p: Province, rng: random.Random, disable: str) -> dict[str, object]:
    """The CLI beside the server; what each acknowledged, to look for after the restart."""
    out: dict[str, object] = {}
    out["status"] = json.loads(_cli(p, "status", "--json").stdout)
    source = rng.choice(["health", "cdc", "mch", "hrss"])
    files = json.loads(_cli(p, "ingest", source, str(feed_path(p.later, source)), "--json").stdout)
    out["ingested"] = files["files"][0]
    _cli(p, "link", "--json")
    out["evaluation"] = json.loads(
        _cli(p, "evaluate", "--as-of", AS_OF.isoformat(), "--json").stdout
    )["evaluation"]
    _cli(p, "explain", str(rng.choice(p.persons)), "--as-of", AS_OF.isoformat(), "--json",
         "--purpose", "credit_evaluation")  # fmt: skip
    _cli(p, "users", "disable", disable)
    return out


def _entries(p: Province, actor: str) -> dict[str, int]:
    store = open_store(p.settings)
    e = s.ledger_entries
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(
                sa.select(e.c.action, sa.func.count())
                .where(e.c.actor == actor, e.c.outcome == "allowed")
                .group_by(e.c.action)
            ).all()
    finally:
        store.engine.dispose()
    return {action: int(n) for action, n in rows}


def _after_restart(p: Province, acknowledged: dict[str, object]) -> None:
    store = open_store(p.settings)
    try:
        with store.engine.connect() as conn:
            evaluation = conn.scalar(
                sa.select(s.evaluations.c.id).where(
                    s.evaluations.c.id == acknowledged["evaluation"]
                )
            )
            ingested = acknowledged["ingested"]
            assert isinstance(ingested, dict)
            digest = conn.scalar(
                sa.select(sa.func.count())
                .select_from(s.ingestions)
                .where(s.ingestions.c.path.like(f"%{Path(ingested['path']).name}"))
            )
    finally:
        store.engine.dispose()
    assert evaluation == acknowledged["evaluation"], "an acknowledged evaluation was lost"
    assert digest, "an acknowledged ingestion was lost"


def _round(p: Province, number: int, floor: int) -> int:
    """One round; returns the largest checkpoint size the server signed."""
    rng = random.Random(number)
    # Fresh accounts each round: a TOTP code is good once, and rounds are shorter than its step.
    reader = _staff(p, "national", "000000")
    victim, victim_secret = _staff(p, "county", _county(p))
    database = p.settings.url.removeprefix("sqlite:///")
    store_files = (database,) if p.settings.database_url is None else ("/nonexistent",)
    with _serving(p) as server:
        load = Load(server.base, _login(server.base, *reader), p.persons)
        victim_headers = _login(server.base, victim, victim_secret)
        watch = Watch(server.proc.pid, server.base, store_files)
        threads = [
            threading.Thread(target=load.run, args=(number * 10 + i,)) for i in range(READERS)
        ]
        threads.append(threading.Thread(target=watch.run))
        for t in threads:
            t.start()
        try:
            acknowledged = _commands(p, rng, victim)
            # The disable reaches the live session within the recheck interval (a second).
            refused = _refused_soon(server.base, victim_headers)
            time.sleep(0.5)  # a last burst of reads after the commands
        finally:
            load.stop.set()
            watch.stop.set()
            for t in threads:
                t.join(120)
        maps = Path(f"/proc/{server.proc.pid}/maps").read_text()
    assert "adbc_driver_sqlite" not in maps, "the server loaded a second SQLite library"
    assert not watch.unlinked, (
        f"round {number}: the server kept deleted files open: {watch.unlinked}"
    )
    assert not load.errors, f"round {number}: {load.errors[:5]}"
    assert refused, f"round {number}: a disabled account's session still answered"
    assert watch.sizes == sorted(watch.sizes), (
        f"round {number}: checkpoints went back: {watch.sizes}"
    )
    assert not watch.sizes or watch.sizes[0] >= floor, f"round {number}: below {floor}"
    # Restarted: nothing the server or the commands acknowledged is gone.
    with _serving(p) as server:
        httpx.get(server.base + "/healthz", timeout=10)
    entries = _entries(p, f"national:{reader[0]}")
    assert entries.get("credit_read", 0) >= load.answered["credit"], (
        number,
        entries,
        load.answered,
    )
    assert entries.get("explanation_read", 0) >= load.answered["explanation"], (number, entries)
    _after_restart(p, acknowledged)
    users = json.loads(_cli(p, "users", "list", "--json").stdout)["users"]
    assert {u["username"]: u["disabled"] for u in users}[victim] == "admin"
    signed = _file_sizes(p)
    assert signed == sorted(signed), f"round {number}: the checkpoint file went back: {signed}"
    assert signed and signed[-1] >= max(watch.sizes, default=0)
    return max(signed[-1], *watch.sizes, floor)


def _file_sizes(p: Province) -> list[int]:
    """The sizes of the checkpoints in FPCREDIT_HOME/trail/checkpoints, in file order."""
    path = p.settings.home / "trail" / "checkpoints"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return [int(line["size"]) for line in lines if line.get("kind", "checkpoint") == "checkpoint"]


def _county(p: Province) -> str:
    store = open_store(p.settings)
    try:
        with store.engine.connect() as conn:
            region = conn.scalar(
                sa.select(s.persons.c.hukou_region)
                .where(s.persons.c.hukou_region.is_not(None))
                .limit(1)
            )
    finally:
        store.engine.dispose()
    return str(region)


def _refused_soon(base: str, headers: dict[str, str]) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        response = httpx.post(base + "/v1/auth/refresh", headers=headers, timeout=10)
        if response.status_code == 401:
            return True
        time.sleep(0.1)
    return False


def test_the_server_and_the_cli_share_one_store_without_losing_a_write(
    province: Province,
) -> None:
    floor = 0
    for number in range(ROUNDS):
        floor = _round(province, number, floor)
    done = subprocess.run(
        [FPCREDIT, "audit", "verify", "--json"], env=province.env, capture_output=True, text=True
    )
    report = json.loads(done.stdout)
    shown = {k: report[k] for k in ("first_bad", "entries", "reason", "checkpoints")}
    assert report["ok"], (shown, _last_entries(province, report["first_bad"]))


def _last_entries(p: Province, first_bad: int | None) -> list[tuple[object, ...]]:
    """The entries from a little before the first bad one: what the trail was doing there."""
    store = open_store(p.settings)
    e = s.ledger_entries
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(
                sa.select(e.c.idx, e.c.at, e.c.actor, e.c.action, e.c.table_name, e.c.row_count)
                .where(e.c.idx >= (first_bad or 0) - 4)
                .order_by(e.c.idx)
                .limit(12)
            ).all()
    finally:
        store.engine.dispose()
    return [tuple(r) for r in rows]
