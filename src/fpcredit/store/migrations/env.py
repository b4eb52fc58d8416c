"""Alembic environment: runs fpcredit's migrations on the connection handed over by Store."""

from __future__ import annotations

from alembic import context

from fpcredit.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only via Store.upgrade
    raise RuntimeError("fpcredit migrations run through `fpcredit init`, not the alembic CLI")
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
