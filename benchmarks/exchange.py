"""Cross-province exchange latency: from province B's commit of a birth to province A's commit
of the fact, over NATS JetStream, for N messages (docs/exchange.md).

    .venv/bin/python benchmarks/exchange.py --messages 10000 --per-file 100 --pace 0.1

Two homes in a temporary folder (SQLite; `--postgres` puts A on PostgreSQL), each its own
province (B 浙江 33, A 安徽 34). A knows the N mothers (its own earlier records, linked); B
ingests N births of theirs in files of `--per-file` rows, one file every `--pace` seconds (0: all
at once), while B's `fpcredit exchange run` relays (a separate process) and A's consumer takes
them in this process, timing each batch's commit. The stream names of the two provinces are
deleted on the NATS server first (`--nats`, default the local one). Prints one JSON object:
latency p50/p95/p99/max in seconds, the offered and achieved rates, and that A ended with
exactly N facts of the right persons.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import nats
import sqlalchemy as sa

from fpcredit.collect.ingest import ingest_file
from fpcredit.config import Settings
from fpcredit.exchange.identity import add_partner, create_identity
from fpcredit.exchange.receive import Delivery
from fpcredit.exchange.stream import Exchange, stream_name
from fpcredit.guard.keys.crypto import create_keys, load_vault
from fpcredit.link.config import load_config
from fpcredit.link.index import link
from fpcredit.standard.idcard import check_digit
from fpcredit.store import schema as s
from fpcredit.store.db import open_store

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
COLUMNS = [
    "登记证编号", "母亲姓名", "母亲身份证号", "父亲姓名", "父亲身份证号", "新生儿姓名",
    "新生儿性别", "出生日期", "孩次", "孕次", "户籍地区划", "登记地区划", "联系电话", "登记时间",
]  # fmt: skip
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "秀英桂兰玉梅丽静敏燕霞芳娟红艳"


def mother_id(n: int) -> str:
    born = dt.date(1985, 1, 1) + dt.timedelta(days=n % 5000)
    first17 = f"340111{born:%Y%m%d}{n % 1000:03d}"
    return first17 + check_digit(first17)


def row(n: int, key: str, region: str, born: str, recorded: str) -> dict[str, str]:
    return {
        "登记证编号": key,
        "母亲姓名": SURNAMES[n % 20] + GIVEN[(n // 20) % 15] + GIVEN[(n // 300) % 15],
        "母亲身份证号": mother_id(n),
        "父亲姓名": "张伟",
        "父亲身份证号": "",
        "新生儿姓名": "",
        "新生儿性别": "男" if n % 2 else "女",
        "出生日期": born,
        "孩次": "1",
        "孕次": "1",
        "户籍地区划": "340111",
        "登记地区划": region,
        "联系电话": "",
        "登记时间": recorded,
    }


def write(path: Path, rows: list[dict[str, str]]) -> Path:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(buf.getvalue().encode("gb18030"))
    return path


def province(root: Path, code: str, url: str | None) -> tuple[Settings, Any, Any, Any]:
    settings = Settings(home=root / code, database_url=url)
    store = open_store(settings)
    store.upgrade()
    create_keys(settings.keys_dir, settings.crypto)
    return settings, store, load_vault(settings.keys_dir), create_identity(settings.keys_dir, code)


async def fresh_streams(url: str) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    for code in ("33", "34"):
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_stream(stream_name(code))
    await nc.close()


async def bare_baseline(url: str, n: int, per_file: int, pace: float, size: int) -> list[float]:
    """The same flow with nothing but NATS: messages of the same size published in the same
    bursts at the same pace to a scratch stream and pulled by a durable consumer, latency from
    publication to receipt. The exchange's figure is read against this one."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    name = "FPCREDIT_BENCH_BARE"
    with contextlib.suppress(nats.js.errors.NotFoundError):
        await js.delete_stream(name)
    await js.add_stream(name=name, subjects=["fpcredit.bench.bare"])
    sub = await js.pull_subscribe("fpcredit.bench.bare", durable="bare", stream=name)
    payload = b"x" * size
    latencies: list[float] = []

    async def consume() -> None:
        while len(latencies) < n:
            try:
                msgs = await sub.fetch(256, timeout=0.5)
            except TimeoutError:
                continue
            now = time.time()
            for m in msgs:
                latencies.append(now - float(m.headers["sent"]))  # type: ignore[index]
                await m.ack()

    reader = asyncio.create_task(consume())
    for start in range(0, n, per_file):
        sent = str(time.time())
        count = min(per_file, n - start)
        await asyncio.gather(
            *(
                js.publish("fpcredit.bench.bare", payload, headers={"sent": sent})
                for _ in range(count)
            )
        )
        if pace:
            await asyncio.sleep(pace)
    await asyncio.wait_for(reader, 120)
    await js.delete_stream(name)
    await nc.close()
    return latencies


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--per-file", type=int, default=100)
    ap.add_argument("--pace", type=float, default=0.1, help="seconds between files (0: burst)")
    ap.add_argument("--nats", default=os.environ.get("FPCREDIT_NATS_URL", "nats://127.0.0.1:4222"))
    ap.add_argument("--postgres", action="store_true", help="province A on PostgreSQL")
    args = ap.parse_args()
    n = args.messages
    asyncio.run(fresh_streams(args.nats))
    bare = asyncio.run(bare_baseline(args.nats, n, args.per_file, args.pace, 800))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        url_a = None
        if args.postgres:
            name = f"fpcredit_bench_{uuid.uuid4().hex[:8]}"
            admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f"CREATE DATABASE {name}"))
            url_a = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
        sa_, store_a, vault_a, me_a = province(root, "34", url_a)
        sb, store_b, vault_b, me_b = province(root, "33", None)
        add_partner(store_a, sa_.keys_dir, me_b.card(), "bench", "34")
        add_partner(store_b, sb.keys_dir, me_a.card(), "bench", "33")
        started = time.perf_counter()
        known = [
            row(i, f"34{i:010d}", "340111", "2019-03-01", "2019-03-05 09:00:00") for i in range(n)
        ]
        ingest_file(store_a, vault_a, "health", write(root / "known.csv", known))
        link(store_a, vault_a, load_config())
        setup_s = time.perf_counter() - started

        latencies: list[float] = []

        def committed(batch: list[Delivery], at: float) -> None:
            for d in batch:
                sent = dt.datetime.fromisoformat(json.loads(d.data)["sent_at"])
                latencies.append(at - sent.replace(tzinfo=dt.UTC).timestamp())

        consumer = Exchange(store_a, vault_a, me_a, args.nats, batch=256, idle_s=0.01)
        consumer.on_committed = committed
        stop = asyncio.Event()
        loop = asyncio.new_event_loop()

        def consume() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(consumer.run(stop, resolve_every_s=3600))

        env = {**os.environ, "FPCREDIT_HOME": str(sb.home), "FPCREDIT_NATS_URL": args.nats}
        relay = subprocess.Popen(
            [sys.executable, "-m", "fpcredit", "exchange", "run"],
            env=env,
            stdout=subprocess.DEVNULL,  # its closing report: this script prints one JSON object
        )
        thread = threading.Thread(target=consume, daemon=True)
        thread.start()
        t0 = time.perf_counter()
        files = 0
        for start in range(0, n, args.per_file):
            births = [
                row(i, f"33{i:010d}", "330106", "2026-05-03", "2026-05-20 10:00:00")
                for i in range(start, min(n, start + args.per_file))
            ]
            ingest_file(store_b, vault_b, "health", write(root / f"b{files}.csv", births))
            files += 1
            if args.pace:
                time.sleep(args.pace)
        offered_s = time.perf_counter() - t0
        deadline = time.monotonic() + 600
        while len(latencies) < n and time.monotonic() < deadline:
            time.sleep(0.2)
        done_s = time.perf_counter() - t0
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        relay.terminate()
        relay.wait(30)
        f, lk, p, m = s.facts, s.links, s.persons, s.mentions
        with store_a.engine.connect() as conn:
            facts = conn.scalar(
                sa.select(sa.func.count()).select_from(f).where(f.c.source == "exchange")
            )
            wrong = conn.scalar(
                sa.select(sa.func.count())
                .select_from(
                    f.join(lk, lk.c.mention_id == f.c.subject_mention_id)
                    .join(m, m.c.id == f.c.subject_mention_id)
                    .join(p, p.c.id == lk.c.person_id)
                )
                .where(f.c.source == "exchange", p.c.id_number_bidx != m.c.id_number_bidx)
            )
        store_a.engine.dispose()
        if url_a is not None:
            with admin.connect() as conn:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        print(
            json.dumps(
                {
                    "messages": n,
                    "files": files,
                    "per_file": args.per_file,
                    "pace_s": args.pace,
                    "a_backend": "postgresql" if args.postgres else "sqlite",
                    "setup_s": round(setup_s, 1),
                    "offered_rate_per_s": round(n / offered_s, 1),
                    "achieved_rate_per_s": round(len(latencies) / done_s, 1),
                    "taken": len(latencies),
                    "facts_in_a": facts,
                    "facts_of_another_person": wrong,
                    "bare_nats_latency_s": {
                        "p50": quantile(bare, 0.50),
                        "p99": quantile(bare, 0.99),
                    },
                    "p99_ratio_to_bare": round(quantile(latencies, 0.99) / quantile(bare, 0.99), 1),
                    "latency_s": {
                        "p50": quantile(latencies, 0.50),
                        "p95": quantile(latencies, 0.95),
                        "p99": quantile(latencies, 0.99),
                        "max": round(max(latencies), 3),
                    },
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
