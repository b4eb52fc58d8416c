"""exchange: partners, outbox, sent and inbox of the cross-province exchange (R8)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 23:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "exchange_partners",
        sa.Column("id", _ID, nullable=False),
        sa.Column("province", sa.String(length=2), nullable=False),
        sa.Column("verify_key", sa.String(length=64), nullable=False),
        sa.Column("seal_key", sa.String(length=64), nullable=False),
        sa.Column("added_by", sa.String(length=64), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_exchange_partners"),
    )
    op.create_index("ix_exchange_partners_province", "exchange_partners", ["province"])
    op.create_table(
        "exchange_outbox",
        sa.Column("id", _ID, nullable=False),
        sa.Column("message_id", sa.String(length=32), nullable=False),
        sa.Column("to_province", sa.String(length=2), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("record_id", _ID, nullable=False),
        sa.Column("envelope", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name="fk_exchange_outbox_record_id_records"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_exchange_outbox"),
        sa.UniqueConstraint("message_id", name="uq_exchange_outbox_message_id"),
    )
    op.create_table(
        "exchange_sent",
        sa.Column("id", _ID, nullable=False),
        sa.Column("message_id", sa.String(length=32), nullable=False),
        sa.Column("stream_seq", sa.BigInteger(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_exchange_sent"),
        sa.UniqueConstraint("message_id", name="uq_exchange_sent_message_id"),
    )
    op.create_table(
        "exchange_inbox",
        sa.Column("id", _ID, nullable=False),
        sa.Column("sender", sa.String(length=2), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("stream_seq", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=48), nullable=True),
        sa.Column("record_id", _ID, nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("body_enc", sa.LargeBinary(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name="fk_exchange_inbox_record_id_records"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_exchange_inbox"),
        sa.UniqueConstraint(
            "sender", "message_id", "outcome", name="uq_exchange_inbox_sender_message_id_outcome"
        ),
    )
    op.create_index("ix_exchange_inbox_outcome", "exchange_inbox", ["outcome"])


def downgrade() -> None:
    op.drop_index("ix_exchange_inbox_outcome", table_name="exchange_inbox")
    op.drop_table("exchange_inbox")
    op.drop_table("exchange_sent")
    op.drop_table("exchange_outbox")
    op.drop_index("ix_exchange_partners_province", table_name="exchange_partners")
    op.drop_table("exchange_partners")
