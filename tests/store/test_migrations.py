"""Migrations build exactly the schema the code declares, on every backend."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from fpcredit.config import Settings
from fpcredit.errors import StoreError
from fpcredit.guard import tlog
from fpcredit.guard.ledger import Ledger, leaf_data, verify
from fpcredit.store import schema as s
from fpcredit.store.db import Store, _alembic_config, open_store
from fpcredit.store.schema import metadata


def test_migrated_schema_matches_metadata(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_upgrade_is_idempotent(store: Store) -> None:
    before = store.revision()
    store.upgrade()
    assert store.revision() == before is not None


def test_unmigrated_store_is_refused(tmp_path: object) -> None:
    st = open_store(Settings(home=tmp_path))  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="fpcredit init"):
        st.require_current()


def test_trail_entries_get_their_subject_tag_on_upgrade(tmp_path: Path) -> None:
    """0006 fills subject_tag for entries written before it; the log still verifies and a
    subject's entries are still found (SQLite: PostgreSQL's shared test database stays at head)."""
    settings = Settings(home=tmp_path)
    st = open_store(settings)
    with st.engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0005")
    ledger = Ledger(st, settings)
    subject = "4242"
    hashed = ledger.subject_hash(subject)
    at = dt.datetime(2026, 3, 1, 8, 0)
    values = [("clerk:1", "read", "allowed", hashed, "credit_evaluation")] * 3
    values.insert(1, ("clerk:1", "read", "allowed", None, None))
    with st.engine.begin() as conn:  # rows as 0005's code wrote them: no tag column yet
        for idx, row in enumerate(values):
            leaf = tlog.leaf_hash(leaf_data(idx, at, *row, *(None,) * 6))
            conn.execute(
                sa.text(
                    "INSERT INTO ledger_entries (idx, at, actor, action, outcome, subject_hash,"
                    " purpose, leaf_hash) VALUES (:i, :at, :a, :b, :c, :d, :e, :h)"
                ),
                {"i": idx, "at": at, "h": leaf, **dict(zip("abcde", row, strict=True))},
            )
    st.upgrade()
    with st.engine.connect() as conn:
        tags = conn.scalars(sa.select(s.ledger_entries.c.subject_tag).order_by("idx")).all()
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    tag = int(hashed[:15], 16)
    assert tags == [tag, None, tag, tag]
    assert diff == []
    assert [p.entry.idx for p in Ledger(st, settings).for_subject(subject).entries] == [0, 2, 3]
    ledger.checkpoint()
    assert verify(st, settings)["ok"]
    st.engine.dispose()


def test_the_sqlite_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    st = open_store(settings)
    st.upgrade()
    Ledger(st, settings).append("svc:test", "read")  # a write: the -wal file exists now
    files = [p for p in settings.home.glob("fpcredit.db*")]
    assert {p.name for p in files} >= {"fpcredit.db", "fpcredit.db-wal"}
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in files), [
        (p.name, oct(p.stat().st_mode)) for p in files
    ]
    st.engine.dispose()
    # A file left readable by others (an older version, a copy) is tightened when opened.
    (settings.home / "fpcredit.db").chmod(0o644)
    open_store(settings).engine.dispose()
    assert (settings.home / "fpcredit.db").stat().st_mode & 0o777 == 0o600
