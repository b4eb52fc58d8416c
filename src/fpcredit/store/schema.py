"""The relational schema (SQLAlchemy Core), shared by SQLite and PostgreSQL.

Identifier columns end in ``_enc`` (AES-GCM ciphertext) or ``_bidx`` (HMAC blind index); no
column ever holds an identifier in plaintext.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "facts",
    "ingestions",
    "mentions",
    "metadata",
    "persons",
    "quality_issues",
    "quarantine",
    "records",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
# SQLite only aliases rowid for INTEGER PRIMARY KEY, so BigInteger ids are INTEGER there.
Id = BigInteger().with_variant(Integer(), "sqlite")

ingestions = Table(
    "ingestions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("source", String(32), nullable=False),
    Column("path", Text, nullable=False),
    Column("file_sha256", String(64), nullable=False),
    Column("standard_version", String(32), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("accepted", Integer, nullable=False),
    Column("duplicates", Integer, nullable=False),
    Column("quarantined", Integer, nullable=False),
    Column("flagged", Integer, nullable=False),
    Column("dropped_fields", Text, nullable=False),  # JSON list of column names
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime, nullable=False),
)

persons = Table(
    "persons",
    metadata,
    Column("id", Id, primary_key=True),
    Column("created_at", DateTime, nullable=False),
)

records = Table(
    "records",
    metadata,
    Column("id", Id, primary_key=True),
    Column("source", String(32), nullable=False),
    Column("record_key", String(64), nullable=False),
    Column("row_hash", String(64), nullable=False),
    Column("kind", String(48), nullable=False),
    Column("event_date", Date, nullable=False),
    Column("recorded_at", DateTime, nullable=False),
    Column("ingestion_id", ForeignKey("ingestions.id"), nullable=False),
    Column("row_number", Integer, nullable=False),
    # Its leading columns also serve lookups by (source, record_key).
    UniqueConstraint("source", "record_key", "row_hash"),
)

mentions = Table(
    "mentions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("record_id", ForeignKey("records.id"), nullable=False, index=True),
    Column("role", String(16), nullable=False),
    Column("id_number_enc", LargeBinary),
    Column("id_number_bidx", LargeBinary(16), index=True),
    Column("id_status", String(12), nullable=False),  # valid | missing | invalid
    Column("id_reason", String(32)),
    Column("name_enc", LargeBinary),
    Column("name_bidx", LargeBinary(16), index=True),
    Column("sex", SmallInteger),
    Column("birth_date", Date, index=True),
    Column("hukou_region", String(6)),
    Column("residence_region", String(6)),
    Column("urban_rural", String(8)),
    Column("occupation", String(16)),
    Column("phone_enc", LargeBinary),
    Column("address_enc", LargeBinary),
    Column("person_id", ForeignKey("persons.id"), index=True),
)

facts = Table(
    "facts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("record_id", ForeignKey("records.id"), nullable=False, index=True),
    Column("subject_mention_id", ForeignKey("mentions.id"), nullable=False, index=True),
    Column("kind", String(48), nullable=False),
    Column("source", String(32), nullable=False),
    Column("record_key", String(64), nullable=False),
    Column("row_hash", String(64), nullable=False),
    Column("event_date", Date, nullable=False),
    Column("recorded_at", DateTime, nullable=False),
    # When a correction of the same source record arrived; NULL while this version is current.
    Column("superseded_at", DateTime),
    Column("attrs", Text, nullable=False),  # JSON of the non-identifying standard fields
    Column("disputed", Boolean, nullable=False, default=False),
    # Corrections close older versions by (source, record_key). Evaluation scans facts in
    # DuckDB, so no (kind, event_date) index is kept: it would only slow ingestion.
    Index(None, "source", "record_key"),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Id, primary_key=True),
    Column("ingestion_id", ForeignKey("ingestions.id"), nullable=False),
    Column("source", String(32), nullable=False),
    Column("record_key", String(64)),
    Column("row_number", Integer, nullable=False),
    Column("row_hash", String(64), nullable=False),
    Column("rule", String(48), nullable=False),
    Column("field", String(64), nullable=False),
    # The row's standard columns as JSON, encrypted: kept for repair, unreadable at rest.
    Column("row_enc", LargeBinary, nullable=False),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("source", "row_hash"),
)

quality_issues = Table(
    "quality_issues",
    metadata,
    Column("id", Id, primary_key=True),
    Column("ingestion_id", ForeignKey("ingestions.id"), nullable=False, index=True),
    Column("source", String(32), nullable=False),
    Column("record_key", String(64)),
    Column("row_number", Integer, nullable=False),
    Column("row_hash", String(64), nullable=False),
    Column("field", String(64), nullable=False),
    Column("rule", String(48), nullable=False),
    Column("action", String(12), nullable=False),  # quarantined | flagged
    Column("record_id", ForeignKey("records.id")),
    Index(None, "source", "rule"),
)
