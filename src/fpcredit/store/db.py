"""Opening, migrating and counting the store (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from fpcredit.config import Settings
from fpcredit.errors import StoreError
from fpcredit.files import FILE_MODE, private_dir, tighten
from fpcredit.messages import text
from fpcredit.store import schema as s

__all__ = ["Store", "atomic", "open_store", "utc_now"]
log = logging.getLogger(__name__)


def _sqlite_pragmas(dbapi_conn: Any, wait_ms: int) -> None:
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={wait_ms}")
    # WAL lets readers run during ingestion; NORMAL is durable at each checkpoint in WAL mode.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    # A larger page cache keeps index B-trees in memory during bulk ingestion (default 2 MB).
    cur.execute("PRAGMA cache_size=-131072")
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.close()


def _no_wait_pragmas(dbapi_conn: Any, _record: Any) -> None:
    _sqlite_pragmas(dbapi_conn, 0)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA wal_autocheckpoint=0")
    cur.close()


def _alembic_config(conn: sa.Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("fpcredit.store") / "migrations"))
    cfg.attributes["connection"] = conn
    return cfg


@dataclass
class Store:
    """A connection pool to one database plus its migration state."""

    engine: Engine
    # The keys folder of the home it was opened for: writers of covered tables seal with the
    # keys there (guard/trail/sealing.py). None for an engine opened without settings.
    keys_dir: Path | None = field(default=None, compare=False)
    _no_wait: Engine | None = field(default=None, repr=False, compare=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def upgrade(self) -> None:
        """Create or migrate the schema to the newest revision."""
        with self._migrating() as conn:
            command.upgrade(_alembic_config(conn), "head")

    def downgrade(self, revision: str) -> None:
        """Migrate the schema back to `revision` (to run an older release on this store)."""
        with self._migrating() as conn:
            command.downgrade(_alembic_config(conn), revision)

    @contextmanager
    def _migrating(self) -> Iterator[sa.Connection]:
        """One transaction for a migration.

        On SQLite a migration may rebuild a table that others refer to (SQLite cannot drop a
        column in place), and a DROP TABLE under foreign-key enforcement would delete its rows
        first. So enforcement is off for the migration, as SQLite's own procedure for schema
        changes says, and one check of every foreign key stands in for it before the commit."""
        with self.engine.connect() as conn, atomic(conn, check_keys=False):
            yield conn
            if (
                self.dialect == "sqlite"
                and conn.exec_driver_sql("PRAGMA foreign_key_check").first()
            ):
                raise StoreError(text("store.migration_broke_keys"))

    def revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def no_wait_engine(self) -> Engine:
        """An engine on the same SQLite file whose connections fail at once, instead of waiting,
        when another writer holds the lock (made once; the engine itself on PostgreSQL, where
        a transaction sets its own lock_timeout).

        Its commits never checkpoint the write-ahead log: they are the service's, made on its
        event loop, and a checkpoint (copying pages into the database and an fsync) cost a
        third of them. `checkpoint_wal` does it from a thread instead; the store's other
        connections still checkpoint as SQLite does by default."""
        if self.dialect != "sqlite":
            return self.engine
        if self._no_wait is None:
            engine = sa.create_engine(self.engine.url)
            sa.event.listen(engine, "connect", _no_wait_pragmas)
            self._no_wait = engine
        return self._no_wait

    def checkpoint_wal(self) -> None:
        """Copy what the write-ahead log holds into the database, as far as readers allow
        (SQLite's PASSIVE checkpoint; nothing on PostgreSQL)."""
        if self.dialect == "sqlite":
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").all()

    def require_current(self) -> None:
        """Raise StoreError unless the database answers and its schema is the newest."""
        try:
            with self.engine.connect() as conn:
                head = ScriptDirectory.from_config(_alembic_config(conn)).get_current_head()
                current = MigrationContext.configure(conn).get_current_revision()
        except sa.exc.OperationalError as e:
            url = self.engine.url.render_as_string(hide_password=True)
            raise StoreError(text("store.unreachable", url=url)) from e
        if current != head:
            raise StoreError(text("store.not_ready"))

    def status(self) -> dict[str, Any]:
        """Counts of persons, records, facts and quarantined rows, overall and by source."""
        with self.engine.connect() as conn:
            out: dict[str, Any] = {
                # Merged or emptied persons keep their row (old ids resolve) but do not count.
                "persons": conn.scalar(
                    sa.select(sa.func.count())
                    .select_from(s.persons)
                    .where(s.persons.c.merged_into.is_(None), s.persons.c.mentions > 0)
                ),
            }
            by_source: dict[str, dict[str, int]] = {}
            for name, table in (
                ("records", s.records),
                ("facts", s.facts),
                ("quarantined", s.quarantine),
            ):
                rows = conn.execute(
                    sa.select(table.c.source, sa.func.count()).group_by(table.c.source)
                ).all()
                out[name] = sum(n for _, n in rows)
                for source, n in rows:
                    by_source.setdefault(source, {"records": 0, "facts": 0, "quarantined": 0})
                    by_source[source][name] = n
        out["by_source"] = dict(sorted(by_source.items()))
        return out


def _private(database: str | None) -> None:
    """Make the SQLite file readable by its owner only (created so if missing). SQLite gives its
    -wal and -shm files the database file's mode, so they follow. The identifiers in it are
    encrypted, but names of columns, counts and codes are not everyone's to read.

    An existing file is never opened here: closing any descriptor of the file drops every
    POSIX lock this process holds on it, including those of SQLite connections already open
    (a second `open_store` in a process would otherwise let another process delete the
    write-ahead log under them). Only a file that does not exist yet is created, exclusively."""
    if not database or database == ":memory:":
        return
    path = Path(database)
    if not path.exists():
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass  # another process created it meanwhile: tightened below like any other
        except OSError as e:
            raise StoreError(text("store.unreachable", url=str(path))) from e
    tighten(path, FILE_MODE)


@contextmanager
def atomic(conn: sa.Connection, *, check_keys: bool = True) -> Iterator[sa.Connection]:
    """One transaction on `conn` that schema changes belong to as well.

    Python's sqlite3 module, as SQLAlchemy drives it, sends BEGIN only before the first
    INSERT, UPDATE or DELETE: a CREATE or DROP that comes first commits on its own and
    survives a rollback. On SQLite the transaction is therefore opened explicitly.

    With `check_keys` false, SQLite does not check foreign keys row by row in this
    transaction (the pragma only takes effect outside one); the caller checks them itself
    before the transaction ends. PostgreSQL needs neither."""
    sqlite = conn.dialect.name == "sqlite"
    raw: Any = conn.connection.driver_connection
    unchecked = sqlite and not check_keys
    if unchecked:
        raw.execute("PRAGMA foreign_keys=OFF")
    try:
        with conn.begin():
            if sqlite and not raw.in_transaction:
                raw.execute("BEGIN")
            yield conn
    finally:
        if unchecked:
            raw.execute("PRAGMA foreign_keys=ON")


def utc_now() -> dt.datetime:
    """The store's timestamps: naive UTC (SQLite has no time zones; PostgreSQL columns match)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


CST: Final = dt.timedelta(hours=8)  # China Standard Time: the days of calendars and policy


def local_day(moment: dt.datetime | None = None) -> dt.date:
    """The China Standard Time date of a naive UTC moment (default: now)."""
    return ((moment or utc_now()) + CST).date()


def open_store(settings: Settings | None = None) -> Store:
    """Engine for the configured URL; SQLite files live under FPCREDIT_HOME."""
    settings = settings or Settings()
    url = settings.url
    try:
        # The home holds the keys, the results and the exports: its owner's only (0700),
        # created so or tightened at every open.
        private_dir(settings.home)
        if url.startswith("sqlite"):
            _private(sa.engine.make_url(url).database)
            engine = sa.create_engine(url)
            wait_ms = int(settings.lock_timeout_s * 1000)
            sa.event.listen(engine, "connect", lambda c, _r: _sqlite_pragmas(c, wait_ms))
        else:
            engine = sa.create_engine(url, pool_pre_ping=True)
    except (sa.exc.ArgumentError, ImportError) as e:
        raise StoreError(text("store.bad_database_url")) from e
    return Store(engine, settings.keys_dir)
