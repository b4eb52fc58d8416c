"""feedback and subsidy_rolls: citizens' satisfaction and complaints (R18), subsidy rolls (R25)

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-07 05:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", _ID, nullable=False),
        sa.Column("person_id", _ID, nullable=False),
        sa.Column("about", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("satisfaction", sa.SmallInteger(), nullable=False),
        sa.Column("complaint_enc", sa.LargeBinary(), nullable=True),
        sa.Column("region_type", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name="fk_feedback_person_id_persons"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_feedback"),
    )
    op.create_index("ix_feedback_person_id", "feedback", ["person_id"])
    op.create_index("ix_feedback_about_ref", "feedback", ["about", "ref"])
    op.create_table(
        "subsidy_rolls",
        sa.Column("id", _ID, nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("incentive_id", sa.String(length=64), nullable=False),
        sa.Column("evaluation_id", _ID, nullable=False),
        sa.Column("policy_sha256", sa.String(length=64), nullable=False),
        sa.Column("budget_fen", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("held_fen", sa.BigInteger(), nullable=False),
        sa.Column("paid", sa.Integer(), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
        sa.Column("unfunded", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["evaluation_id"], ["evaluations.id"], name="fk_subsidy_rolls_evaluation_id_evaluations"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_subsidy_rolls"),
    )


def downgrade() -> None:
    op.drop_table("subsidy_rolls")
    op.drop_index("ix_feedback_about_ref", table_name="feedback")
    op.drop_index("ix_feedback_person_id", table_name="feedback")
    op.drop_table("feedback")
