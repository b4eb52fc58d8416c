"""sessions hold role, region, purposes and source; staff accounts keep a password history

Tokens named the caller's role, region and purposes; from now on they name the session only, and
the session row says what its caller may do. Sessions open at the upgrade have no such values:
they are closed (reason `upgrade`), and their holders log in again. Each account's current
password hash opens its history, so the password in use counts among the last five.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("region", sa.String(length=6), nullable=True))
        batch_op.add_column(sa.Column("purposes", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("source", sa.String(length=32), nullable=True))
    op.execute(
        "UPDATE sessions SET closed_at = last_seen_at, closed_reason = 'upgrade'"
        " WHERE closed_at IS NULL"
    )
    op.create_table(
        "password_history",
        sa.Column("id", _ID, nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_password_history_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_history")),
    )
    op.create_index(
        op.f("ix_password_history_user_id"), "password_history", ["user_id"], unique=False
    )
    op.execute(
        "INSERT INTO password_history (user_id, password_hash, created_at)"
        " SELECT id, password_hash, password_changed_at FROM users ORDER BY id"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_password_history_user_id"), table_name="password_history")
    op.drop_table("password_history")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("source")
        batch_op.drop_column("purposes")
        batch_op.drop_column("region")
