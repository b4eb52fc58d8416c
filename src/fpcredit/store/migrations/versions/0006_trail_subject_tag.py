"""trail: find a subject's entries through an integer tag instead of indexing the hex hash

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_BATCH = 10_000


def upgrade() -> None:
    op.add_column("ledger_entries", sa.Column("subject_tag", sa.BigInteger(), nullable=True))
    conn = op.get_bind()
    entries = sa.table(
        "ledger_entries",
        sa.column("idx", sa.BigInteger()),
        sa.column("subject_hash", sa.String()),
        sa.column("subject_tag", sa.BigInteger()),
    )
    # The tag is the first 15 hex digits of the hash (fpcredit.guard.trail.log.subject_tag); parsed
    # here in Python because SQLite has no hex-to-integer function.
    after = -1
    while True:
        rows = conn.execute(
            sa.select(entries.c.idx, entries.c.subject_hash)
            .where(entries.c.idx > after, entries.c.subject_hash.is_not(None))
            .order_by(entries.c.idx)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        conn.execute(
            entries.update()
            .where(entries.c.idx == sa.bindparam("i"))
            .values(subject_tag=sa.bindparam("t")),
            [{"i": idx, "t": int(h[:15], 16)} for idx, h in rows],
        )
        after = rows[-1][0]
    op.create_index(op.f("ix_ledger_entries_subject_tag"), "ledger_entries", ["subject_tag"])
    op.drop_index(op.f("ix_ledger_entries_subject_hash"), table_name="ledger_entries")


def downgrade() -> None:
    op.create_index(op.f("ix_ledger_entries_subject_hash"), "ledger_entries", ["subject_hash"])
    op.drop_index(op.f("ix_ledger_entries_subject_tag"), table_name="ledger_entries")
    with op.batch_alter_table("ledger_entries") as batch:
        batch.drop_column("subject_tag")
