"""evaluations: batch credit evaluations and where their per-person results are

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 08:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evaluations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("score_date", sa.Date(), nullable=False),
        sa.Column("grade_date", sa.Date(), nullable=False),
        sa.Column("known_at", sa.DateTime(), nullable=False),
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("policy_version", sa.String(length=32), nullable=False),
        sa.Column("policy_sha256", sa.String(length=64), nullable=False),
        sa.Column("persons", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluations")),
    )
    op.create_index(op.f("ix_evaluations_as_of_policy_id"), "evaluations", ["as_of", "policy_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_evaluations_as_of_policy_id"), table_name="evaluations")
    op.drop_table("evaluations")
