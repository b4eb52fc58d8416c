"""trail: entries carry a MAC under a key outside the database, a format version and an address

Existing entries stay format 1 without a MAC; `fpcredit init` gives them their MACs once they
verify (guard/trail/verify.py `seal`, docs/trail.md).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The server default fills the existing rows with 1 without rewriting them.
    op.add_column(
        "ledger_entries",
        sa.Column("v", sa.SmallInteger(), server_default="1", nullable=False),
    )
    op.add_column("ledger_entries", sa.Column("address", sa.String(length=64), nullable=True))
    op.add_column("ledger_entries", sa.Column("mac", sa.LargeBinary(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ledger_entries") as batch:
        batch.drop_column("mac")
        batch.drop_column("address")
        batch.drop_column("v")
