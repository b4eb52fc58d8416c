"""A process that holds the SQLite store open keeps its locks on it, whatever else it does.

SQLite's locks are POSIX advisory locks: closing ANY descriptor of the file in a process drops
all of that process's locks on it. Another process that then opens and closes the store thinks
it is alone, checkpoints and deletes the write-ahead log, and the first process goes on writing
into a deleted file (docs/architecture.md, "One SQLite library per process").
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from fpcredit.config import Settings
from fpcredit.service import initialise
from fpcredit.store.arrow import read_arrow
from fpcredit.store.db import open_store

_OPEN_AND_CLOSE = (
    "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
    "c.execute('SELECT count(*) FROM users').fetchall(); c.close()"
)


def _deleted(database: Path) -> list[str]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(database)) and target.endswith("(deleted)"):
            found.append(target)
    return found


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(home=tmp_path / "home")
    initialise(settings)
    return settings


def _another_process_comes_and_goes(database: Path) -> None:
    subprocess.run([sys.executable, "-c", _OPEN_AND_CLOSE, str(database)], check=True)


def test_opening_the_store_again_keeps_the_open_connections_locks(settings: Settings) -> None:
    database = settings.home / "fpcredit.db"
    store = open_store(settings)
    try:
        with store.engine.connect() as conn:
            conn.exec_driver_sql("SELECT count(*) FROM users").all()
            open_store(settings).engine.dispose()  # it must not open and close the file
            _another_process_comes_and_goes(database)
            assert not _deleted(database)
            assert (settings.home / "fpcredit.db-wal").exists()
    finally:
        store.engine.dispose()


def test_a_bulk_read_keeps_the_open_connections_locks(settings: Settings) -> None:
    database = settings.home / "fpcredit.db"
    store = open_store(settings)
    try:
        with store.engine.connect() as conn:
            conn.exec_driver_sql("SELECT count(*) FROM users").all()
            table = read_arrow(
                store.engine.url, "SELECT count(*) FROM persons", pa.schema([("n", pa.int64())])
            )
            assert table.column(0).to_pylist() == [0]
            _another_process_comes_and_goes(database)
            assert not _deleted(database)
    finally:
        store.engine.dispose()


def test_a_bulk_read_loads_no_second_sqlite_library(settings: Settings) -> None:
    """In a process of its own (a test worker may have loaded the driver for other tests)."""
    code = (
        "import sys, pyarrow as pa; from fpcredit.config import Settings; "
        "from fpcredit.store.arrow import read_arrow; from fpcredit.store.db import open_store; "
        "store = open_store(Settings(home=sys.argv[1])); "
        "read_arrow(store.engine.url, 'SELECT 1', pa.schema([('n', pa.int64())])); "
        "print('adbc_driver_sqlite' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(settings.home)], capture_output=True, text=True
    )
    assert done.stdout.strip() == "False", done.stderr


def test_a_failed_bulk_read_says_why(settings: Settings) -> None:
    from fpcredit.errors import StoreError

    store = open_store(settings)
    try:
        with pytest.raises(StoreError, match="no_such_table"):
            read_arrow(
                store.engine.url, "SELECT x FROM no_such_table", pa.schema([("x", pa.int64())])
            )
    finally:
        store.engine.dispose()


def test_a_column_of_nulls_reads_as_the_type_asked_for(settings: Settings) -> None:
    store = open_store(settings)
    try:
        schema = pa.schema([("blob", pa.binary()), ("n", pa.int64())])
        table = read_arrow(store.engine.url, "SELECT NULL, 1 UNION ALL SELECT NULL, 2", schema)
    finally:
        store.engine.dispose()
    assert table.schema == schema
    assert table.column("blob").to_pylist() == [None, None]
