"""policies: the activated credit policies, append-only (the newest is the active one)

Until now the packaged default policy was always used. A security administrator activates a
policy (`fpcredit policy activate`, `POST /v1/admin/policies`): its text, id, version, SHA-256,
who activated it, when and why are kept, each row covered by a change entry of the trail. A
store with no row uses the packaged default, as before.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "policies",
        sa.Column("id", _ID, nullable=False),
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("activated_by", sa.String(length=64), nullable=False),
        sa.Column("activated_at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policies")),
    )


def downgrade() -> None:
    op.drop_table("policies")
