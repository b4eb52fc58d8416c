"""points ledger: accounts, redemptions, postings and their entries (R21)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 05:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "points_accounts",
        sa.Column("id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("person_id", _ID, nullable=True),
        sa.Column("department", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name="fk_points_accounts_person_id_persons"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_points_accounts"),
        sa.UniqueConstraint("person_id", name="uq_points_accounts_person_id"),
        sa.UniqueConstraint("department", name="uq_points_accounts_department"),
    )
    op.create_table(
        "points_redemptions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("person_id", _ID, nullable=False),
        sa.Column("redeemable_id", sa.String(length=40), nullable=False),
        sa.Column("department", sa.String(length=32), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("request_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name="fk_points_redemptions_person_id_persons"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_points_redemptions"),
        sa.UniqueConstraint(
            "person_id",
            "idempotency_key",
            name="uq_points_redemptions_person_id_idempotency_key",
        ),
    )
    op.create_table(
        "points_postings",
        sa.Column("id", _ID, nullable=False),
        sa.Column("txn_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("evaluation_id", _ID, nullable=True),
        sa.Column("redemption_id", _ID, nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["evaluation_id"],
            ["evaluations.id"],
            name="fk_points_postings_evaluation_id_evaluations",
        ),
        sa.ForeignKeyConstraint(
            ["redemption_id"],
            ["points_redemptions.id"],
            name="fk_points_postings_redemption_id_points_redemptions",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_points_postings"),
        sa.UniqueConstraint("txn_id", name="uq_points_postings_txn_id"),
        sa.UniqueConstraint("evaluation_id", name="uq_points_postings_evaluation_id"),
        sa.UniqueConstraint("kind", "redemption_id", name="uq_points_postings_kind_redemption_id"),
    )
    op.create_table(
        "points_entries",
        sa.Column("id", _ID, nullable=False),
        sa.Column("posting_id", _ID, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["posting_id"],
            ["points_postings.id"],
            name="fk_points_entries_posting_id_points_postings",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["points_accounts.id"],
            name="fk_points_entries_account_id_points_accounts",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_points_entries"),
    )
    op.create_index("ix_points_entries_posting_id", "points_entries", ["posting_id"])
    op.create_index("ix_points_entries_account_id_id", "points_entries", ["account_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_points_entries_account_id_id", table_name="points_entries")
    op.drop_index("ix_points_entries_posting_id", table_name="points_entries")
    op.drop_table("points_entries")
    op.drop_table("points_postings")
    op.drop_table("points_redemptions")
    op.drop_table("points_accounts")
