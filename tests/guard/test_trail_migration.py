"""Migration 0008 on every backend: entries written before it stay format 1 without a MAC,
`fpcredit init` seals them once they verify, and the downgrade drops the new columns."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from fpcredit.config import Settings
from fpcredit.guard.trail import tlog
from fpcredit.guard.trail.log import Event, Trail, leaf_data
from fpcredit.guard.trail.verify import verify
from fpcredit.service import _note_adoption, initialise
from fpcredit.store.db import _alembic_config, open_store
from fpcredit.store.schema import metadata
from tests.conftest import BACKENDS, PG_ADMIN_URL

AT = dt.datetime(2026, 3, 1, 8, 0, 0)


@pytest.fixture(params=BACKENDS)
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings on a database of its own that no migration has touched."""
    if request.param == "sqlite":
        yield Settings(home=tmp_path / "home")
        return
    request.getfixturevalue("pg_database")  # skips when PostgreSQL is not reachable
    name = f"fpcredit_mig_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield Settings(
            home=tmp_path / "home", database_url=f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
        )
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def _columns(settings: Settings) -> set[str]:
    store = open_store(settings)
    try:
        return {c["name"] for c in sa.inspect(store.engine).get_columns("ledger_entries")}
    finally:
        store.engine.dispose()


# ledger_entries as 0007 left it (no v, address or mac yet).
OLD = sa.table(
    "ledger_entries",
    *(sa.column(n) for n in ("idx", "actor", "action", "outcome", "purpose", "leaf_hash")),
    sa.column("at", sa.DateTime()),
)


def test_0008_keeps_old_entries_verifiable_and_downgrades(fresh: Settings) -> None:
    store = open_store(fresh)
    with store.engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0007")
    with store.engine.begin() as conn:  # entries as 0007's code wrote them
        for idx in range(3):
            codes = ("clerk:1", "read", "ok", None, "credit_evaluation")
            leaf = tlog.leaf_hash(leaf_data(idx, AT, *codes, *(None,) * 6))
            values = dict(zip(("actor", "action", "outcome"), codes, strict=False))
            conn.execute(
                OLD.insert().values(idx=idx, at=AT, purpose=codes[4], leaf_hash=leaf, **values)
            )
    _note_adoption(fresh, "0007")  # what `fpcredit init` notes before it migrates a 0007 store
    store.upgrade()
    with store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT v, address, mac FROM ledger_entries")).all()
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    assert [tuple(r) for r in rows] == [(1, None, None)] * 3
    assert not verify(store, fresh)["ok"]  # not sealed yet
    initialise(fresh)  # `fpcredit init`: verified, then sealed
    trail = Trail(store, fresh)
    trail.append_many([Event("clerk:2", "read", address="10.0.0.1")])
    trail.checkpoint()
    assert verify(store, fresh)["ok"]
    with store.engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0007")
    store.engine.dispose()
    assert not {"v", "address", "mac"} & _columns(fresh)
    again = open_store(fresh)
    again.upgrade()
    again.engine.dispose()
    assert {"v", "address", "mac"} <= _columns(fresh)
