"""The tables of the cross-province exchange (R8, exchange/): partners, outbox, sent, inbox.

All four are append-only and covered by the trail's change entries: a message's state is the
newest of its rows, never an update. No column holds an identifier in clear: an outbox row's
envelope is sealed for the receiving province, a waiting inbox row's body by the vault.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
)

from fpcredit.store.schema.base import Id, metadata

__all__ = ["exchange_inbox", "exchange_outbox", "exchange_partners", "exchange_sent"]

# The registry of other provinces' public keys: who may send to us, whom we seal for.
exchange_partners = Table(
    "exchange_partners",
    metadata,
    Column("id", Id, primary_key=True),
    Column("province", String(2), nullable=False),
    Column("verify_key", String(64), nullable=False),  # Ed25519, base64 of the raw 32 bytes
    Column("seal_key", String(64), nullable=False),  # X25519, base64 of the raw 32 bytes
    Column("added_by", String(64), nullable=False),
    Column("added_at", DateTime, nullable=False),
    Index(None, "province"),
)

# A message to another province, written in the transaction of the fact it carries.
exchange_outbox = Table(
    "exchange_outbox",
    metadata,
    Column("id", Id, primary_key=True),
    Column("message_id", String(32), nullable=False, unique=True),
    Column("to_province", String(2), nullable=False),
    Column("kind", String(48), nullable=False),
    Column("record_id", ForeignKey("records.id"), nullable=False),
    Column("envelope", LargeBinary, nullable=False),  # signed; the body sealed for the receiver
    Column("created_at", DateTime, nullable=False),
)

# A message the stream acknowledged (the relay's progress).
exchange_sent = Table(
    "exchange_sent",
    metadata,
    Column("id", Id, primary_key=True),
    Column("message_id", String(32), nullable=False, unique=True),
    Column("stream_seq", BigInteger, nullable=False),
    Column("published_at", DateTime, nullable=False),
)

# A message received: accepted (a fact written), waiting (its person not found yet: also in
# quarantine), linked (a waiting one accepted later) or rejected (quarantined with its reason).
exchange_inbox = Table(
    "exchange_inbox",
    metadata,
    Column("id", Id, primary_key=True),
    Column("sender", String(2), nullable=False),
    Column("message_id", String(64), nullable=False),
    Column("stream_seq", BigInteger, nullable=False),
    Column("outcome", String(12), nullable=False),
    Column("reason", String(48)),
    Column("record_id", ForeignKey("records.id")),
    Column("person_id", Integer),
    Column("body_enc", LargeBinary),  # a waiting message's opened body, sealed by the vault
    Column("sent_at", DateTime, nullable=False),  # the sender's commit, from the envelope
    Column("received_at", DateTime, nullable=False),
    UniqueConstraint("sender", "message_id", "outcome"),
    Index(None, "outcome"),
)
