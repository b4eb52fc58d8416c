"""Migration 0009: sessions hold what their caller may do; accounts keep a password history."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from fpcredit.store import schema as s
from fpcredit.store.db import Store, _alembic_config
from fpcredit.store.schema import metadata

AT = dt.datetime(2026, 12, 1, 9, 0)


def _before(store: Store) -> str:
    with store.engine.connect() as conn:
        script = ScriptDirectory.from_config(_alembic_config(conn))
    down = script.get_revision("0009").down_revision
    assert isinstance(down, str)
    return down


def test_upgrade_closes_old_sessions_and_starts_each_history_and_downgrade_undoes_it(
    store: Store,
) -> None:
    store.downgrade(_before(store))
    with store.engine.begin() as conn:  # rows as the code before 0009 wrote them
        conn.execute(
            sa.text(
                "INSERT INTO users (id, username, role, region, password_hash, must_change,"
                " totp_secret_enc, failed_logins, created_at, last_used_at,"
                " password_changed_at) VALUES (1, 'wangfang', 'county', '330106', '$argon2id$x',"
                " false, :blob, 0, :at, :at, :at)"
            ),
            {"blob": b"x", "at": AT},
        )
        conn.execute(
            sa.text(
                "INSERT INTO sessions (id, role, subject, created_at, last_seen_at, closed_at,"
                " closed_reason) VALUES ('open', 'county', 'wangfang', :at, :at, NULL, NULL),"
                " ('done', 'county', 'wangfang', :at, :at, :at, 'logout')"
            ),
            {"at": AT},
        )
    store.upgrade()
    with store.engine.connect() as conn:
        sessions = conn.execute(
            sa.text("SELECT id, closed_reason, region FROM sessions ORDER BY id")
        ).all()
        h = s.password_history
        history = conn.execute(sa.select(h.c.user_id, h.c.password_hash, h.c.created_at)).all()
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    # A session opened before 0009 has no role, region or purposes of its own: it is closed.
    assert [tuple(r) for r in sessions] == [("done", "logout", None), ("open", "upgrade", None)]
    assert [tuple(r) for r in history] == [(1, "$argon2id$x", AT)]
    assert diff == []
    store.downgrade(_before(store))
    with store.engine.connect() as conn:
        inspector = sa.inspect(conn)
        tables = inspector.get_table_names()
        columns = {c["name"] for c in inspector.get_columns("sessions")}
    assert "password_history" not in tables
    assert not columns & {"region", "purposes", "source"}
    store.upgrade()
