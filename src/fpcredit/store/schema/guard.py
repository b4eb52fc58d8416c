"""The tables of the guard: accounts, clients, sessions, codes, the outbox and the trail."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
)

from fpcredit.store.schema.base import Id, metadata

__all__ = [
    "citizen_codes",
    "clients",
    "ledger_checkpoints",
    "ledger_entries",
    "ledger_nodes",
    "outbox",
    "password_history",
    "sessions",
    "users",
]

# Identities (SPEC R26, guard/auth/identity.py). No secret is stored in a form that logs one in:
# passwords and client secrets as Argon2id hashes, TOTP secrets encrypted, one-time codes as
# keyed hashes.
users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True),
    Column("username", String(32), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("region", String(6), nullable=False),
    Column("password_hash", Text, nullable=False),  # Argon2id, PHC string
    Column("must_change", Boolean, nullable=False),  # a one-time password was issued
    Column("totp_secret_enc", LargeBinary, nullable=False),
    Column("totp_last_step", BigInteger),  # the last accepted TOTP step: no code twice
    Column("failed_logins", Integer, nullable=False),  # consecutive
    Column("locked_until", DateTime),
    Column("created_at", DateTime, nullable=False),
    Column("last_used_at", DateTime, nullable=False),  # login, reset or re-enable: dormancy
    Column("last_login_at", DateTime),
    Column("password_changed_at", DateTime, nullable=False),
    Column("disabled_at", DateTime),
    Column("disabled_reason", String(16)),  # admin | dormant
    # HMAC of the row under keys/row-seal.key (guard/trail/seal.py): a row changed outside fpcredit
    # is refused at login. Not part of the row's digest.
    Column("seal", LargeBinary(32)),
)

# Department systems (client-credentials), one per department source.
clients = Table(
    "clients",
    metadata,
    Column("id", Id, primary_key=True),
    Column("client_id", String(48), nullable=False, unique=True),
    Column("source", String(32), nullable=False),
    Column("purposes", Text, nullable=False),  # JSON list, within the department role's
    Column("secret_hash", Text, nullable=False),  # Argon2id, PHC string
    Column("created_at", DateTime, nullable=False),
    Column("last_login_at", DateTime),
    Column("disabled_at", DateTime),
    Column("seal", LargeBinary(32)),  # as users.seal
)

# The server side of access tokens: a token is good only while its session is open and in use.
sessions = Table(
    "sessions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("subject", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),
    Column("closed_at", DateTime),
    Column("closed_reason", String(16)),  # logout | idle | disabled | reset | upgrade | purposes
    # What the caller may do, fixed at login from the account, client or person: the token
    # names the session only, so these (not token claims) decide role, region and purposes.
    Column("region", String(6)),
    Column("purposes", Text),  # JSON list
    Column("source", String(32)),  # a department client's source
    # HMAC of id, role, subject, region, purposes, source and created_at (guard/trail/seal.py): a
    # session whose caller was changed outside fpcredit is refused when used.
    Column("seal", LargeBinary(32)),
    Index(None, "role", "subject"),
)

# The last few password hashes of each staff account (one-time passwords included): a new
# password may not repeat any of them.
password_history = Table(
    "password_history",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("password_hash", Text, nullable=False),  # Argon2id, PHC string
    Column("created_at", DateTime, nullable=False),
)

# Citizens' one-time login codes, as keyed hashes (the code itself is only in the message).
citizen_codes = Table(
    "citizen_codes",
    metadata,
    Column("id", Id, primary_key=True),
    Column("person_id", ForeignKey("persons.id"), nullable=False, index=True),
    Column("salt", LargeBinary(16), nullable=False),
    Column("code_hash", LargeBinary(16), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("attempts", Integer, nullable=False),  # wrong entries so far
    Column("closed_at", DateTime),
    Column("closed_reason", String(16)),  # used | burnt | replaced
)

# Messages waiting for (or, in development, instead of) an SMS gateway; number and text
# encrypted with the vault.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("recipient_enc", LargeBinary, nullable=False),
    Column("message_enc", LargeBinary, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("sent_at", DateTime),
)

# The audit trail (SPEC R30, guard/trail/log.py, docs/trail.md): a Merkle-tree log. Entries hold
# codes and hashes, never personal data: the subject is a keyed hash, covered rows a SHA-256.
ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("idx", Id, primary_key=True, autoincrement=False),  # 0-based, dense: the leaf index
    Column("at", DateTime, nullable=False),  # UTC
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("outcome", String(64), nullable=False),
    Column("subject_hash", String(64)),  # HMAC-SHA256 hex of the subject
    Column("purpose", String(64)),
    # Change entries: a covered table's rows first_id..last_id, their count and SHA-256.
    Column("table_name", String(32)),
    Column("first_id", BigInteger),
    Column("last_id", BigInteger),
    Column("row_count", BigInteger),
    Column("rows_sha256", String(64)),
    Column("state", String(16)),  # a fact's new disputed state: disputed | undisputed
    Column("leaf_hash", LargeBinary(32), nullable=False),
    # The first 60 bits of subject_hash, for finding a subject's entries: an integer index
    # costs about half as much to insert into as one on the 64-character hash. Not hashed
    # into the leaf; `audit verify` checks it against subject_hash.
    Column("subject_tag", BigInteger, index=True),
    # The leaf format version (1: before addresses; 2: with `address`), hashed into the leaf.
    Column("v", SmallInteger, nullable=False, server_default="1"),
    Column("address", String(64)),  # the caller's network address (a code), from format 2 on
    # HMAC-SHA256 of leaf_hash under keys/trail-mac.key (never in the database): an entry cannot
    # be forged or rewritten with database access alone. Not part of the leaf.
    Column("mac", LargeBinary(32)),
    # Change entries by table, newest last: a digested table's last digest is found at once
    # (guard/trail/sealing.py). Partial, so the many access entries cost it nothing.
    Index(
        "ix_ledger_entries_table_idx",
        "table_name",
        "idx",
        sqlite_where=sa.text("table_name IS NOT NULL"),
        postgresql_where=sa.text("table_name IS NOT NULL"),
    ),
)

# Hashes of the tree's complete subtrees above the leaves: (level ≥ 1, idx) covers leaves
# idx·2^level .. (idx+1)·2^level − 1. Level 0 is ledger_entries.leaf_hash.
ledger_nodes = Table(
    "ledger_nodes",
    metadata,
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)

# Signed tree heads: a C2SP checkpoint in a signed note (Ed25519).
ledger_checkpoints = Table(
    "ledger_checkpoints",
    metadata,
    Column("size", Id, primary_key=True, autoincrement=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("at", DateTime, nullable=False),
)
