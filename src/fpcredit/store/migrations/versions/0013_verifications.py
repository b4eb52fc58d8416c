"""client_incentives, person_tokens, verifications: department verification (R19, R20)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "client_incentives",
        sa.Column("id", _ID, nullable=False),
        sa.Column("client_id", sa.String(length=48), nullable=False),
        sa.Column("incentive", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_client_incentives"),
        sa.UniqueConstraint(
            "client_id", "incentive", name="uq_client_incentives_client_id_incentive"
        ),
    )
    op.create_index("ix_client_incentives_client_id", "client_incentives", ["client_id"])
    op.create_table(
        "person_tokens",
        sa.Column("id", _ID, nullable=False),
        sa.Column("department", sa.String(length=32), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("person_id", _ID, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name="fk_person_tokens_person_id_persons"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_person_tokens"),
        sa.UniqueConstraint("department", "token", name="uq_person_tokens_department_token"),
    )
    op.create_table(
        "verifications",
        sa.Column("id", _ID, nullable=False),
        sa.Column("verification_id", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=48), nullable=False),
        sa.Column("department", sa.String(length=32), nullable=False),
        sa.Column("incentive", sa.String(length=40), nullable=False),
        sa.Column("person_id", _ID, nullable=False),
        sa.Column("eligible", sa.Boolean(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name="fk_verifications_person_id_persons"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_verifications"),
        sa.UniqueConstraint("verification_id", name="uq_verifications_verification_id"),
    )
    op.create_index("ix_verifications_person_id", "verifications", ["person_id"])


def downgrade() -> None:
    op.drop_index("ix_verifications_person_id", table_name="verifications")
    op.drop_table("verifications")
    op.drop_table("person_tokens")
    op.drop_index("ix_client_incentives_client_id", table_name="client_incentives")
    op.drop_table("client_incentives")
