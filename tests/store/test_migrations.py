"""Migrations build exactly the schema the code declares, on every backend."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from fpcredit.config import Settings
from fpcredit.errors import StoreError
from fpcredit.store.db import Store, open_store
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
