"""cases and case_steps: objections, repair, correction and review requests (R15, R23, R39)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 05:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("person_id", _ID, nullable=False),
        sa.Column("fact_id", _ID, nullable=True),
        sa.Column("source", sa.String(length=32), nullable=True),
        sa.Column("region", sa.String(length=6), nullable=True),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name="fk_cases_person_id_persons"),
        sa.ForeignKeyConstraint(["fact_id"], ["facts.id"], name="fk_cases_fact_id_facts"),
        sa.PrimaryKeyConstraint("id", name="pk_cases"),
    )
    op.create_index("ix_cases_person_id", "cases", ["person_id"])
    op.create_index("ix_cases_fact_id", "cases", ["fact_id"])
    op.create_index(
        "uq_cases_open_fact",
        "cases",
        ["kind", "fact_id"],
        unique=True,
        sqlite_where=sa.text("state = 'open' AND fact_id IS NOT NULL"),
        postgresql_where=sa.text("state = 'open' AND fact_id IS NOT NULL"),
    )
    op.create_table(
        "case_steps",
        sa.Column("id", _ID, nullable=False),
        sa.Column("case_id", _ID, nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_case_steps_case_id_cases"),
        sa.PrimaryKeyConstraint("id", name="pk_case_steps"),
    )
    op.create_index("ix_case_steps_case_id", "case_steps", ["case_id"])
    op.create_index(
        "uq_case_steps_once",
        "case_steps",
        ["case_id", "step"],
        unique=True,
        sqlite_where=sa.text("step IN ('decided', 'overdue', 'closed')"),
        postgresql_where=sa.text("step IN ('decided', 'overdue', 'closed')"),
    )


def downgrade() -> None:
    op.drop_index("uq_case_steps_once", table_name="case_steps")
    op.drop_index("ix_case_steps_case_id", table_name="case_steps")
    op.drop_table("case_steps")
    op.drop_index("uq_cases_open_fact", table_name="cases")
    op.drop_index("ix_cases_fact_id", table_name="cases")
    op.drop_index("ix_cases_person_id", table_name="cases")
    op.drop_table("cases")
