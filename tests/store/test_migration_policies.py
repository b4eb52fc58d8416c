"""Migration 0010 adds the append-only `policies` table and takes it away again, on each backend."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from fpcredit.config import Settings
from fpcredit.evaluate.active import activate, active_policy
from fpcredit.evaluate.policy import default_policy_path, load_policy
from fpcredit.guard.keys.crypto import Vault
from fpcredit.store.db import Store
from fpcredit.store.schema import metadata


def _tables(store: Store) -> set[str]:
    with store.engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names())


def test_policies_come_with_0010_and_go_with_its_downgrade(
    store: Store, settings: Settings, vault: Vault
) -> None:
    text = default_policy_path().read_bytes().replace(b"version: 1.1.0", b"version: 2.0.0", 1)
    activate(store, text, actor="os:root", reason="test", keys_dir=settings.keys_dir)
    assert active_policy(store).policy.version == "2.0.0"
    try:
        store.downgrade("0009")
        assert store.revision() == "0009" and "policies" not in _tables(store)
    finally:
        store.upgrade()  # PostgreSQL's test database is shared: back to head whatever happens
    assert store.revision() is not None and "policies" in _tables(store)
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    # A store whose activations were dropped is back on the packaged default.
    assert active_policy(store).sha256 == load_policy().sha256
