"""links: the person index moves off the wide mention rows into a narrow table of its own

Linking a province rewrote every mention row (names, ID numbers, addresses and all) to set five
link columns; the narrow table takes a few bytes a mention instead.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "links",
        sa.Column("mention_id", _Id, autoincrement=False, nullable=False),
        sa.Column("person_id", _Id, nullable=False),
        sa.Column("pass", sa.String(length=16), nullable=False),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.Column("run_id", _Id, nullable=True),
        sa.ForeignKeyConstraint(
            ["mention_id"], ["mentions.id"], name=op.f("fk_links_mention_id_mentions")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_links_person_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["link_runs.id"], name=op.f("fk_links_run_id_link_runs")
        ),
        sa.PrimaryKeyConstraint("mention_id", name=op.f("pk_links")),
    )
    # A run stamped its links with its own start time, which names the run; a clerk's move
    # stamped the time of the decision, which names none (NULL: link_decisions keeps it).
    op.execute(
        """
        INSERT INTO links (mention_id, person_id, pass, probability, run_id)
        SELECT m.id, m.person_id, coalesce(m.link_pass, 'unknown'), m.link_probability,
               (SELECT max(r.id) FROM link_runs r WHERE r.started_at = m.linked_at)
        FROM mentions m WHERE m.person_id IS NOT NULL ORDER BY m.id
        """
    )
    op.create_index(op.f("ix_links_person_id"), "links", ["person_id"], unique=False)
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mentions_person_id"))
        batch_op.drop_constraint(batch_op.f("fk_mentions_person_id_persons"), type_="foreignkey")
        batch_op.drop_column("linked_at")
        batch_op.drop_column("link_model")
        batch_op.drop_column("link_probability")
        batch_op.drop_column("link_pass")
        batch_op.drop_column("person_id")


def downgrade() -> None:
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("person_id", _Id, nullable=True))
        batch_op.add_column(sa.Column("link_pass", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("link_probability", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("link_model", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("linked_at", sa.DateTime(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_mentions_person_id_persons"), "persons", ["person_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_mentions_person_id"), ["person_id"], unique=False)
    op.execute(
        """
        UPDATE mentions SET
          person_id = (SELECT l.person_id FROM links l WHERE l.mention_id = mentions.id),
          link_pass = (SELECT l.pass FROM links l WHERE l.mention_id = mentions.id),
          link_probability = (SELECT l.probability FROM links l WHERE l.mention_id = mentions.id),
          link_model = (SELECT r.model_version FROM links l JOIN link_runs r ON r.id = l.run_id
                        WHERE l.mention_id = mentions.id),
          linked_at = (SELECT r.started_at FROM links l JOIN link_runs r ON r.id = l.run_id
                       WHERE l.mention_id = mentions.id)
        WHERE id IN (SELECT mention_id FROM links)
        """
    )
    op.drop_index(op.f("ix_links_person_id"), table_name="links")
    op.drop_table("links")
