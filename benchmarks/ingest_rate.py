"""Ingestion rate (rows/s) on SQLite and PostgreSQL next to DuckDB merely reading the same file.

    .venv/bin/python benchmarks/ingest_rate.py --rows 1000000 --source mch

Prints one JSON object. The DuckDB read of the same file is the ceiling, measured in the same
process right before, so the ratio is comparable across machines and noisy neighbours.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import duckdb
import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.service import feed_path, ingest_paths, initialise
from fpcredit.synth import generate

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
READERS = {
    "parquet": "read_parquet({})",  # the synthetic Parquet feeds are all-string already
    "jsonl": "read_json({}, all_varchar=true)",
    "csv": "read_csv({}, all_varchar=true)",
}


def _scan(path: Path) -> str:
    return READERS[path.suffix.lstrip(".")].format(f"'{path}'")


def _count(path: Path) -> int:
    return int(duckdb.sql(f"SELECT count(*) FROM {_scan(path)}").fetchall()[0][0])


def make_feed(work: Path, source: str, rows: int, seed: int) -> Path:
    """A synthetic feed of exactly `rows` rows (synthesising enough people first)."""
    people, path = max(rows // 4, 1000), Path()
    while True:
        out = work / f"synth-{people}"
        generate(people=people, seed=seed, out=out)
        path = feed_path(out, source)
        have = _count(path)
        if have >= rows:
            break
        people = math.ceil(people * rows / have * 1.05)
    bench = work / f"{source}-{rows}{path.suffix}"
    fmt = {"parquet": "(FORMAT parquet)", "jsonl": "(FORMAT json)", "csv": "(FORMAT csv)"}
    duckdb.sql(
        f"COPY (SELECT * FROM {_scan(path)} LIMIT {rows}) "
        f"TO '{bench}' {fmt[path.suffix.lstrip('.')]}"
    )
    return bench


def duckdb_read(path: Path) -> float:
    start = time.perf_counter()
    duckdb.sql(f"SELECT * FROM {_scan(path)}").to_arrow_table()
    return time.perf_counter() - start


def sqlite_plain_insert(path: Path, work: Path) -> float:
    """Seconds to insert the file's rows as-is into one unindexed SQLite table (a second ceiling:
    the row store itself, without validation, encryption, indexes or provenance)."""
    table = duckdb.sql(f"SELECT * FROM {_scan(path)}").to_arrow_table()
    conn = sqlite3.connect(work / "plain.db")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    cols = ", ".join(f'"{c}"' for c in table.column_names)
    conn.execute(f"CREATE TABLE plain ({cols})")
    marks = ", ".join("?" for _ in table.column_names)
    start = time.perf_counter()
    with conn:
        rows = zip(*table.to_pydict().values(), strict=True)
        conn.executemany(f"INSERT INTO plain VALUES ({marks})", rows)
    seconds = time.perf_counter() - start
    conn.close()
    return seconds


def ingest(settings: Settings, source: str, path: Path) -> dict[str, Any]:
    initialise(settings)
    start = time.perf_counter()
    (report,) = ingest_paths(settings, source, [path])
    seconds = time.perf_counter() - start
    return {
        "seconds": round(seconds, 2),
        "rows_per_s": round(report.rows / seconds),
        "accepted": report.accepted,
        "quarantined": report.quarantined,
    }


def _pg_settings(home: Path) -> tuple[Settings, str]:
    name = f"fpbench_{uuid.uuid4().hex[:8]}"
    with sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    return Settings(home=home, database_url=PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"), name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--source", default="mch")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        path = make_feed(work, args.source, args.rows, args.seed)
        read_s = duckdb_read(path)
        plain_s = sqlite_plain_insert(path, work)
        result: dict[str, Any] = {
            "rows": args.rows,
            "source": args.source,
            "file": path.name,
            "duckdb_read": {"seconds": round(read_s, 3), "rows_per_s": round(args.rows / read_s)},
            "sqlite_plain_insert": {
                "seconds": round(plain_s, 2),
                "rows_per_s": round(args.rows / plain_s),
            },
        }
        for backend in args.backends.split(","):
            if backend == "postgres":
                settings, name = _pg_settings(work / "pg")
            else:
                settings, name = Settings(home=work / "sqlite"), ""
            figures = ingest(settings, args.source, path)
            figures["ratio_to_duckdb_read"] = round(figures["rows_per_s"] * read_s / args.rows, 4)
            figures["ratio_to_plain_insert"] = round(figures["rows_per_s"] * plain_s / args.rows, 3)
            result[backend] = figures
            if name:
                with sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT").connect() as c:
                    c.execute(sa.text(f"DROP DATABASE {name} WITH (FORCE)"))
        result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
