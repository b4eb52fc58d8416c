"""rows of users, clients and sessions carry a seal; results files their SHA-256; change
entries are found by table

The seals and the digests of users, clients, persons and links are written by `fpcredit init`
after the upgrade (guard/trail/sealing.py `adopt`), once, with the keys it has; a results file's
SHA-256 is taken then too (evaluate/run.py `adopt_results`).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_SEALED = ("users", "clients", "sessions")


def upgrade() -> None:
    for table in _SEALED:
        op.add_column(table, sa.Column("seal", sa.LargeBinary(length=32), nullable=True))
    op.add_column("evaluations", sa.Column("results_sha256", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_ledger_entries_table_idx",
        "ledger_entries",
        ["table_name", "idx"],
        sqlite_where=sa.text("table_name IS NOT NULL"),
        postgresql_where=sa.text("table_name IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_ledger_entries_table_idx", table_name="ledger_entries")
    with op.batch_alter_table("evaluations") as batch:
        batch.drop_column("results_sha256")
    for table in reversed(_SEALED):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("seal")
