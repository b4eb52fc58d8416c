"""The relational schema (SQLAlchemy Core), shared by SQLite and PostgreSQL.

Identifier columns end in ``_enc`` (AES-GCM ciphertext) or ``_bidx`` (HMAC blind index); no
column ever holds an identifier in plaintext.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
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
    "case_steps",
    "cases",
    "citizen_codes",
    "clients",
    "evaluations",
    "facts",
    "ingestions",
    "ledger_checkpoints",
    "ledger_entries",
    "ledger_nodes",
    "link_decisions",
    "link_models",
    "link_reviews",
    "link_runs",
    "links",
    "mentions",
    "metadata",
    "notifications",
    "outbox",
    "password_history",
    "persons",
    "policies",
    "quality_issues",
    "quarantine",
    "records",
    "sessions",
    "users",
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

# Person fields stored in plain text (identifiers are `*_enc` + `*_bidx` columns instead).
PLAIN_PERSON_FIELDS = (
    "sex",
    "birth_date",
    "hukou_region",
    "residence_region",
    "urban_rural",
    "occupation",
)
# The fields a person carries a "best" value for, each with the department that supplied it.
PERSON_FIELDS = ("name", "id_number", *PLAIN_PERSON_FIELDS)

persons = Table(
    "persons",
    metadata,
    Column("id", Id, primary_key=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime),
    # A person merged into another keeps its row so that an old id still resolves.
    Column("merged_into", ForeignKey("persons.id")),
    Column("mentions", Integer, nullable=False, server_default="0"),
    Column("name_enc", LargeBinary),
    Column("name_bidx", LargeBinary(16)),
    Column("id_number_enc", LargeBinary),
    Column("id_number_bidx", LargeBinary(16), index=True),
    Column("sex", SmallInteger),
    Column("birth_date", Date),
    Column("hukou_region", String(6)),
    Column("residence_region", String(6)),
    Column("urban_rural", String(8)),
    Column("occupation", String(16)),
    *[Column(f"{f}_source", String(32)) for f in PERSON_FIELDS],
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

link_models = Table(
    "link_models",
    metadata,
    Column("version", String(40), primary_key=True),
    Column("created_at", DateTime, nullable=False),
    Column("config_sha256", String(64), nullable=False),
    Column("link_threshold", Float, nullable=False),
    Column("review_threshold", Float, nullable=False),
    Column("trained_on", Integer, nullable=False),  # mentions in the training sample
    Column("settings", Text, nullable=False),  # Splink's trained settings, as JSON
)

link_runs = Table(
    "link_runs",
    metadata,
    Column("id", Id, primary_key=True),
    Column("mode", String(12), nullable=False),  # incremental | full
    Column("model_version", String(40)),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime, nullable=False),
    Column("report", Text, nullable=False),  # JSON: counts by pass, persons created, ...
)

# The person index: the person each linked mention belongs to, with the provenance of the link:
# the pass that made it, how sure it was, and the run (hence the model and the time). Kept
# apart from the wide mention rows so that linking a province writes a few bytes a mention
# instead of rewriting every mention. A clerk's move has no run; link_decisions says who,
# when and why.
links = Table(
    "links",
    metadata,
    Column("mention_id", Id, ForeignKey("mentions.id"), primary_key=True, autoincrement=False),
    Column("person_id", ForeignKey("persons.id"), nullable=False, index=True),
    Column("pass", String(16), nullable=False),
    Column("probability", Float),
    Column("run_id", ForeignKey("link_runs.id")),
)

link_reviews = Table(
    "link_reviews",
    metadata,
    Column("id", Id, primary_key=True),
    Column("mention_id", ForeignKey("mentions.id"), nullable=False, index=True),
    Column("candidate_person_id", ForeignKey("persons.id"), nullable=False),
    Column("probability", Float, nullable=False),
    Column("model_version", String(40), nullable=False),
    Column("comparison", Text, nullable=False),  # JSON: the comparison level of each field
    Column("status", String(12), nullable=False),  # pending | accepted | rejected | stale
    Column("created_at", DateTime, nullable=False),
    Column("decided_by", String(64)),
    Column("decided_at", DateTime),
    Column("reason", Text),
    Index(None, "status"),
)

# A clerk's decision that two groups of mentions are (or are not) the same person. Every
# relink replays them in order, so a decision outlives the clusters it was made on.
link_decisions = Table(
    "link_decisions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("action", String(12), nullable=False),  # accept | reject | merge | unmerge
    Column("same", Boolean, nullable=False),
    Column("left_mentions", Text, nullable=False),  # JSON list of mention ids
    Column("right_mentions", Text, nullable=False),
    Column("person_id", ForeignKey("persons.id")),
    Column("other_person_id", ForeignKey("persons.id")),
    Column("review_id", ForeignKey("link_reviews.id")),
    Column("decided_by", String(64), nullable=False),
    Column("decided_at", DateTime, nullable=False),
    Column("reason", Text, nullable=False),
)

# A batch evaluation: the policy (id, version, content hash), the dates it was computed for and
# what was known. `official` runs see only what was known at the end of each cut date;
# `restatement` runs see everything known when they ran (late facts included). Per-person results
# are a Parquet file under FPCREDIT_HOME (`path`, relative), one row per person.
evaluations = Table(
    "evaluations",
    metadata,
    Column("id", Id, primary_key=True),
    Column("kind", String(12), nullable=False),  # official | restatement
    Column("as_of", Date, nullable=False),
    Column("score_date", Date, nullable=False),
    Column("grade_date", Date, nullable=False),
    Column("known_at", DateTime, nullable=False),
    Column("policy_id", String(64), nullable=False),
    Column("policy_version", String(32), nullable=False),
    Column("policy_sha256", String(64), nullable=False),
    Column("persons", Integer, nullable=False),
    Column("path", Text, nullable=False),
    Column("summary", Text, nullable=False),  # JSON: grade distribution, fairness
    Column("created_at", DateTime, nullable=False),
    # SHA-256 of the results file: checked before it is served or exported.
    Column("results_sha256", String(64)),
    Index(None, "as_of", "policy_id"),
)

# Policy activations (evaluate/active.py), append-only: the newest row is the active policy.
# Each row is covered by a change entry of the trail, written in the same transaction.
policies = Table(
    "policies",
    metadata,
    Column("id", Id, primary_key=True),
    Column("policy_id", String(64), nullable=False),
    Column("version", String(32), nullable=False),
    Column("sha256", String(64), nullable=False),  # of `text` as UTF-8, the bytes validated
    Column("text", Text, nullable=False),  # the policy YAML, exactly as activated
    Column("activated_by", String(64), nullable=False),  # the trail's actor code
    Column("activated_at", DateTime, nullable=False),
    Column("reason", Text, nullable=False),
)

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

# Notifications (R24, notify/): written in the transaction of the change they announce,
# delivered by the worker. `params` fill the message's placeholders in the receiver's language
# at delivery: codes, ids and dates, never a name, an ID number or a phone.
notifications = Table(
    "notifications",
    metadata,
    Column("id", Id, primary_key=True),
    Column("message_id", String(36), nullable=False, unique=True),  # receivers de-duplicate on it
    Column("kind", String(32), nullable=False),
    Column("person_id", ForeignKey("persons.id"), index=True),  # whom it is about
    Column("audience", String(64), nullable=False),  # "person", or a department's source
    Column("params", Text, nullable=False),  # JSON object
    Column("created_at", DateTime, nullable=False),
    Column("state", String(16), nullable=False),  # pending | delivered | dead
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("lease_until", DateTime),  # a worker's claim on the row while it delivers
    Column("delivered_at", DateTime),
    Column("last_error", String(200)),
    Index("ix_notifications_due", "state", "next_attempt_at"),
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

# Cases (cases/, docs/services.md): objections, repair applications, correction and review
# requests. The columns but `state` never change and are covered by the trail; `state` (open |
# closed) is derived from the steps, kept here for the queues. One open case of a kind per fact.
cases = Table(
    "cases",
    metadata,
    Column("id", Id, primary_key=True),
    Column("kind", String(16), nullable=False),  # objection | repair | correction | review
    Column("person_id", ForeignKey("persons.id"), nullable=False, index=True),
    Column("fact_id", ForeignKey("facts.id"), index=True),  # none for a review
    Column("source", String(32)),  # the providing department (the fact's source)
    Column("region", String(6)),  # the person's hukou region when opened: the queues' scope
    Column("opened_at", DateTime, nullable=False),
    Column("due_on", Date, nullable=False),  # the last working day of the deadline
    Column("detail", Text, nullable=False),  # JSON: the person's reason, evidence, snapshot
    Column("state", String(16), nullable=False),
    Index(
        "uq_cases_open_fact",
        "kind",
        "fact_id",
        unique=True,
        sqlite_where=sa.text("state = 'open' AND fact_id IS NOT NULL"),
        postgresql_where=sa.text("state = 'open' AND fact_id IS NOT NULL"),
    ),
)

# A case's steps, append-only and covered by the trail: opened, evidence, decided (outcome and
# reason), overdue (the alert, once), closed, restated (the person's total and grade after).
case_steps = Table(
    "case_steps",
    metadata,
    Column("id", Id, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False, index=True),
    Column("step", String(16), nullable=False),
    Column("outcome", String(16)),
    Column("actor", String(64), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("note", Text),  # JSON: the reason, the evidence, a restatement's numbers
    Index(
        "uq_case_steps_once",
        "case_id",
        "step",
        unique=True,
        sqlite_where=sa.text("step IN ('decided', 'overdue', 'closed')"),
        postgresql_where=sa.text("step IN ('decided', 'overdue', 'closed')"),
    ),
)
