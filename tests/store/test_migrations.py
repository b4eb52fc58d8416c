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
from fpcredit.guard.trail import tlog
from fpcredit.guard.trail.log import Trail, leaf_data
from fpcredit.guard.trail.verify import seal, verify
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
    trail = Trail(st, settings)
    subject = "4242"
    hashed = trail.subject_hash(subject)
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
    assert [p.entry.idx for p in Trail(st, settings).for_subject(subject).entries] == [0, 2, 3]
    assert seal(st, settings) == 4  # 0008: entries written before MACs get theirs (`init`)
    trail.checkpoint()
    assert verify(st, settings)["ok"]
    st.engine.dispose()


def test_links_move_to_their_own_table_on_upgrade(tmp_path: Path) -> None:
    """0007 moves each mention's link off the mention row into `links`: the person, the pass
    and the probability stay; the run is found by the time the run stamped on its links; a
    clerk's move, stamped with the decision's time, has no run. Downgrading puts them back."""
    st = open_store(Settings(home=tmp_path))
    with st.engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0006")
    run_at, clerk_at = dt.datetime(2026, 5, 1, 9, 0), dt.datetime(2026, 5, 2, 10, 30)
    with st.engine.begin() as conn:  # rows as 0006's code wrote them
        sql = [
            "INSERT INTO ingestions (id, source, path, file_sha256, standard_version, rows,"
            " accepted, duplicates, quarantined, flagged, dropped_fields, started_at,"
            " finished_at) VALUES (1, 'health', 'x.csv', 'ab', '1', 1, 1, 0, 0, 0, '[]',"
            " '2026-05-01 08:00:00', '2026-05-01 08:00:00')",
            "INSERT INTO records (id, source, record_key, row_hash, kind, event_date,"
            " recorded_at, ingestion_id, row_number)"
            " VALUES (1, 'health', 'k1', 'h', 'birth', '2026-01-01', '2026-05-01 08:00:00', 1, 1)",
            "INSERT INTO persons (id, created_at, mentions) VALUES (7, '2026-05-01 09:00:00', 2),"
            " (8, '2026-05-01 09:00:00', 1)",
            "INSERT INTO link_runs (id, mode, model_version, started_at, finished_at, report)"
            " VALUES (3, 'full', 'm-1', :run, :run, '{}')",
            "INSERT INTO mentions (id, record_id, role, id_status, person_id, link_pass,"
            " link_probability, link_model, linked_at) VALUES"
            " (1, 1, 'self', 'valid', 7, 'id', 1.0, 'm-1', :run),"
            " (2, 1, 'mother', 'missing', 7, 'splink', 0.97, 'm-1', :run),"
            " (3, 1, 'father', 'missing', 8, 'clerk', 1.0, NULL, :clerk),"
            " (4, 1, 'child', 'missing', NULL, NULL, NULL, NULL, NULL)",
        ]
        for statement in sql:
            conn.execute(sa.text(statement), {"run": run_at, "clerk": clerk_at})
    st.upgrade()
    lk = s.links
    with st.engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                lk.c.mention_id, lk.c.person_id, lk.c["pass"], lk.c.probability, lk.c.run_id
            ).order_by(lk.c.mention_id)
        ).all()
        columns = {c["name"] for c in sa.inspect(conn).get_columns("mentions")}
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        keys_on = conn.exec_driver_sql("PRAGMA foreign_keys").scalar()
    assert [tuple(r) for r in rows] == [
        (1, 7, "id", 1.0, 3),
        (2, 7, "splink", 0.97, 3),
        (3, 8, "clerk", 1.0, None),
    ]
    assert not columns & {"person_id", "link_pass", "link_probability", "link_model", "linked_at"}
    assert diff == []
    assert keys_on == 1
    st.downgrade("0006")
    with st.engine.connect() as conn:
        back = conn.execute(
            sa.text(
                "SELECT id, person_id, link_pass, link_probability, link_model FROM mentions"
                " ORDER BY id"
            )
        ).all()
    assert [tuple(r) for r in back] == [
        (1, 7, "id", 1.0, "m-1"),
        (2, 7, "splink", 0.97, "m-1"),
        (3, 8, "clerk", 1.0, None),
        (4, None, None, None, None),
    ]
    st.engine.dispose()


def test_an_upgrade_that_would_leave_dangling_keys_is_rolled_back(tmp_path: Path) -> None:
    """Foreign keys are not enforced during a migration on SQLite; the one check that stands in
    for them refuses to commit rows that point nowhere, and the store stays as it was."""
    st = open_store(Settings(home=tmp_path))
    with st.engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0006")
    with st.engine.connect() as conn:  # a link to a person that was never there
        raw = conn.connection.driver_connection
        raw.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        with conn.begin():
            conn.exec_driver_sql(
                "INSERT INTO mentions (id, record_id, role, id_status, person_id, link_pass)"
                " VALUES (1, 1, 'self', 'valid', 99, 'id')"
            )
        raw.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
    with pytest.raises(StoreError, match=r"升级已撤销|rolled back"):
        st.upgrade()
    assert st.revision() == "0006"
    with st.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert "links" not in sa.inspect(conn).get_table_names()
    st.engine.dispose()


def test_the_sqlite_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    st = open_store(settings)
    st.upgrade()
    Trail(st, settings).append("svc:test", "read")  # a write: the -wal file exists now
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
