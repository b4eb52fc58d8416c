"""Shared fixtures: a migrated `store` on every backend (SQLite, PostgreSQL) and a vault."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.guard.keys.crypto import Vault, create_keys, load_vault
from fpcredit.guard.redact import JsonFormatter, RedactingFilter
from fpcredit.messages import language
from fpcredit.store.db import Store, open_store
from fpcredit.store.schema import metadata
from tests.leaks import leaks

PG_ADMIN_URL = os.environ.get(
    "FPCREDIT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


def _pg_available() -> bool:
    try:
        with sa.create_engine(PG_ADMIN_URL).connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return True
    except sa.exc.OperationalError:
        return False


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}")
        pytest.skip("PostgreSQL not reachable (set FPCREDIT_TEST_PG_URL)")
    name = f"fpcredit_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings with a fresh home; on PostgreSQL an emptied, migrated database."""
    url = None
    if request.param == "postgres":
        url = request.getfixturevalue("pg_database")
    return Settings(home=tmp_path / "home", database_url=url)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    """A migrated, empty store on the backend of `settings`."""
    st = open_store(settings)
    st.upgrade()
    if st.dialect == "postgresql":
        names = ", ".join(t.name for t in metadata.sorted_tables)
        with st.engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    yield st
    st.engine.dispose()


@pytest.fixture
def vault(settings: Settings) -> Vault:
    create_keys(settings.keys_dir, settings.crypto)
    return load_vault(settings.keys_dir)


@pytest.fixture(autouse=True)
def _language_is_the_default() -> None:
    """Each test starts in the default language: a CLI run or a request that chose another
    kept it to itself (a test that leaked one would fail the next one here)."""
    assert language() == "zh"


class _Written(logging.Handler):
    """Keeps every log line as it would be written: through the redacting filter, as JSON."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self.addFilter(RedactingFilter())
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(scope="session", autouse=True)
def _no_identifier_in_any_log_line() -> Iterator[None]:
    """The leak scan over the logs: no line written during the whole run holds an identifier."""
    written = _Written()
    root, ours = logging.getLogger(), logging.getLogger("fpcredit")
    root.addHandler(written)
    level = ours.level
    ours.setLevel(logging.INFO)
    yield
    ours.setLevel(level)
    root.removeHandler(written)
    bad = [(line[:80], found) for line in written.lines if (found := leaks(line))]
    assert not bad, f"{len(bad)} log lines hold identifiers, e.g. {bad[:3]}"
