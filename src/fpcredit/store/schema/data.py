"""The tables of the data: ingested records, facts, the person index, evaluations, policies."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from fpcredit.store.schema.base import Id, metadata

__all__ = [
    "PERSON_FIELDS",
    "PLAIN_PERSON_FIELDS",
    "evaluations",
    "facts",
    "ingestions",
    "link_decisions",
    "link_models",
    "link_reviews",
    "link_runs",
    "links",
    "mentions",
    "persons",
    "policies",
    "quality_issues",
    "quarantine",
    "records",
]

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
