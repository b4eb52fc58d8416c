"""Two provinces on a private NATS server: the exchange's fixtures."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from fpcredit.collect.ingest import ingest_file
from fpcredit.config import Settings
from fpcredit.exchange.identity import Identity, add_partner, create_identity
from fpcredit.exchange.stream import Exchange
from fpcredit.guard.keys.crypto import Vault, create_keys, load_vault
from fpcredit.guard.trail.verify import verify
from fpcredit.link.config import load_config
from fpcredit.link.index import link
from fpcredit.store import schema as s
from fpcredit.store.db import Store, open_store
from fpcredit.store.schema import metadata
from tests.collect.feeds import health_row, make_id, write_csv
from tests.conftest import BACKENDS

NATS_SERVER = "/usr/sbin/nats-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class NatsServer:
    """A private nats-server with JetStream, stopped and started again at will (same port,
    same store folder: what it had persisted survives a restart)."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.folder)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("nats-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    if not Path(NATS_SERVER).exists():
        pytest.fail("nats-server is not installed (Debian package nats-server)")
    server = NatsServer(tmp_path / "nats")
    server.start()
    yield server
    server.stop()


@dataclass
class Province:
    """One province's platform: a home, its store, vault and exchange identity."""

    settings: Settings
    store: Store
    vault: Vault
    me: Identity
    folder: Path

    def ingest_health(self, name: str, rows: list[dict[str, str]]) -> Any:
        path = write_csv(self.folder / f"{name}.csv", rows)
        return ingest_file(self.store, self.vault, "health", path)

    def link(self) -> None:
        link(self.store, self.vault, load_config())

    def exchange(self, url: str, batch: int = 64) -> Exchange:
        return Exchange(self.store, self.vault, self.me, url, batch=batch)

    def count(self, table: sa.Table, *where: Any) -> int:
        with self.store.engine.connect() as conn:
            return int(conn.scalar(sa.select(sa.func.count()).select_from(table).where(*where)))

    def exchange_facts(self) -> list[Any]:
        """The facts the exchange wrote, with the person each one's mention is linked to."""
        f, lk = s.facts, s.links
        with self.store.engine.connect() as conn:
            return list(
                conn.execute(
                    sa.select(f.c.record_key, f.c.kind, f.c.attrs, lk.c.person_id)
                    .join(lk, lk.c.mention_id == f.c.subject_mention_id, isouter=True)
                    .where(f.c.source == "exchange")
                    .order_by(f.c.id)
                ).all()
            )

    def person_of(self, id_number: str) -> int | None:
        bidx = self.vault.blind_index(id_number, "id_number")
        p = s.persons
        with self.store.engine.connect() as conn:
            return conn.scalar(
                sa.select(p.c.id).where(p.c.id_number_bidx == bidx, p.c.merged_into.is_(None))
            )

    def verified(self) -> bool:
        return bool(verify(self.store, self.settings)["ok"])


def _province(root: Path, code: str, url: str | None) -> Province:
    folder = root / f"province-{code}"
    folder.mkdir()
    settings = Settings(home=folder / "home", database_url=url)
    store = open_store(settings)
    store.upgrade()
    if store.dialect == "postgresql":
        names = ", ".join(t.name for t in metadata.sorted_tables)
        with store.engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    create_keys(settings.keys_dir, settings.crypto)
    return Province(
        settings,
        store,
        load_vault(settings.keys_dir),
        create_identity(settings.keys_dir, code),
        folder,
    )


@pytest.fixture(params=BACKENDS)
def provinces(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Province, Province]]:
    """Province A (安徽, 34: the hukou province) and B (浙江, 33: where the migrant lives),
    each with the other's card, each its own home and database: A's on SQLite or on
    PostgreSQL, B's on SQLite."""
    url = request.getfixturevalue("pg_database") if request.param == "postgres" else None
    a, b = _province(tmp_path, "34", url), _province(tmp_path, "33", None)
    add_partner(a.store, a.settings.keys_dir, b.me.card(), "test", "34")
    add_partner(b.store, b.settings.keys_dir, a.me.card(), "test", "33")
    yield a, b
    for p in (a, b):
        p.store.engine.dispose()


def migrant(n: int) -> str:
    """The ID number of migrant n, born in 安徽 (合肥市包河区)."""
    return make_id("340111", f"199{n % 10}0{1 + n % 9}1{n % 10}", f"{n % 1000:03d}")


def birth_in_b(n: int, mother: str, hukou: str = "340111", **over: str) -> dict[str, str]:
    """A birth registered in B (杭州) to a mother whose hukou is `hukou`."""
    return health_row(
        f"{330000000000 + n}",
        母亲身份证号=mother,
        母亲姓名=f"李{'秀英桂兰玉梅'[n % 6]}",
        户籍地区划=hukou,
        登记地区划="330106",
        **over,
    )


def known_in_a(n: int, mother: str) -> dict[str, str]:
    """A's own earlier record of the same mother (an earlier birth at home): A knows her."""
    return health_row(
        f"{340000000000 + n}",
        母亲身份证号=mother,
        母亲姓名=f"李{'秀英桂兰玉梅'[n % 6]}",
        户籍地区划="340111",
        登记地区划="340111",
        出生日期="2018-02-01",
        登记时间="2018-02-10 09:00:00",
    )


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def pump(*exchanges: Exchange, rounds: int = 50) -> None:
    """Relay and receive in turn until nothing moves (then close the connections)."""
    try:
        for _ in range(rounds):
            moved = 0
            for ex in exchanges:
                moved += await ex.relay_once()
                moved += (await ex.receive_once(wait_s=0.3)).received
            if not moved:
                break
    finally:
        for ex in exchanges:
            await ex.close()
