"""The tables of the application services: notifications, points, verifications, cases."""

from __future__ import annotations

import sqlalchemy as sa
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
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from fpcredit.store.schema.base import Id, metadata

__all__ = [
    "case_steps",
    "cases",
    "client_incentives",
    "feedback",
    "notifications",
    "notify_webhooks",
    "person_tokens",
    "points_accounts",
    "points_entries",
    "points_postings",
    "points_redemptions",
    "subsidy_rolls",
    "verifications",
]

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

# Department systems that receive notifications (notify/webhooks.py): one URL per source, and
# the secret its posts are signed with, encrypted by the vault.
notify_webhooks = Table(
    "notify_webhooks",
    metadata,
    Column("source", String(32), primary_key=True),
    Column("url", Text, nullable=False),
    Column("secret_enc", LargeBinary, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

# The points ledger (R21, incentives/points.py): double entry, append-only, on the trail. An
# account is a person's, the earnings source's, the redemptions sink's or a providing
# department's; a posting is one transaction of ≥ 2 entries (legs) whose amounts sum to zero.
# Balances are sums of entries: there is no balance column to drift.
points_accounts = Table(
    "points_accounts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("kind", String(16), nullable=False),  # person | earnings | redemptions | provider
    Column("person_id", ForeignKey("persons.id"), unique=True),  # a person's account
    Column("department", String(32), unique=True),  # a provider account's department
    Column("created_at", DateTime, nullable=False),
)

# A redemption as requested: who, which redeemable, its price then, and the idempotency key
# that binds the request (its body's SHA-256) to the first answer.
points_redemptions = Table(
    "points_redemptions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("person_id", ForeignKey("persons.id"), nullable=False),
    Column("redeemable_id", String(40), nullable=False),
    Column("department", String(32), nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("idempotency_key", String(64), nullable=False),
    Column("request_sha256", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("person_id", "idempotency_key"),
)

points_postings = Table(
    "points_postings",
    metadata,
    Column("id", Id, primary_key=True),
    Column("txn_id", String(36), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),  # earning | redemption | reversal
    Column("evaluation_id", ForeignKey("evaluations.id"), unique=True),  # an earning's source
    Column("redemption_id", ForeignKey("points_redemptions.id")),
    Column("actor", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    # One redemption posting and at most one reversal per redemption.
    UniqueConstraint("kind", "redemption_id"),
)

points_entries = Table(
    "points_entries",
    metadata,
    Column("id", Id, primary_key=True),
    Column("posting_id", ForeignKey("points_postings.id"), nullable=False, index=True),
    Column("account_id", ForeignKey("points_accounts.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),  # signed: credit > 0, debit < 0
    Index("ix_points_entries_account_id_id", "account_id", "id"),
)

# Feedback (R18 intake, seed §3.4): a citizen's satisfaction (1–5) with an incentive or a case,
# and an optional complaint, sealed like every other free text. Reports count it, never show it.
feedback = Table(
    "feedback",
    metadata,
    Column("id", Id, primary_key=True),
    Column("person_id", ForeignKey("persons.id"), nullable=False, index=True),
    Column("about", String(16), nullable=False),  # incentive | case
    Column("ref", String(64), nullable=False),  # the incentive id or the case id
    Column("satisfaction", SmallInteger, nullable=False),  # 1–5
    Column("complaint_enc", LargeBinary),
    Column("region_type", String(16)),  # the person's urban_rural when the feedback came in
    Column("created_at", DateTime, nullable=False),
    Index(None, "about", "ref"),
)

# Subsidy rolls (R25, incentives/subsidy.py), append-only and covered by the trail: which
# evaluation and policy a roll was drawn from, its money in fen, and the SHA-256 of its file.
subsidy_rolls = Table(
    "subsidy_rolls",
    metadata,
    Column("id", Id, primary_key=True),
    Column("period", Date, nullable=False),  # the official evaluation's as-of date
    Column("incentive_id", String(64), nullable=False),
    Column("evaluation_id", ForeignKey("evaluations.id"), nullable=False),
    Column("policy_sha256", String(64), nullable=False),
    Column("budget_fen", BigInteger, nullable=False),
    Column("amount_fen", BigInteger, nullable=False),  # per person paid
    Column("total_fen", BigInteger, nullable=False),  # paid in all, never above the budget
    Column("held_fen", BigInteger, nullable=False),  # set aside for persons with an open objection
    Column("paid", Integer, nullable=False),
    Column("held", Integer, nullable=False),
    Column("unfunded", Integer, nullable=False),  # qualified, but the budget ran out
    Column("file_name", Text, nullable=False),
    Column("file_sha256", String(64), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
)

# Incentives and department verification (R19, R20; incentives/, docs/services.md).
# The incentives a department client was registered to verify: one row per (client, incentive),
# written with the client and never changed (a new registration is a new client).
client_incentives = Table(
    "client_incentives",
    metadata,
    Column("id", Id, primary_key=True),
    Column("client_id", String(48), nullable=False, index=True),
    Column("incentive", String(40), nullable=False),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("client_id", "incentive"),
)

# A department's pseudonym of a person (可用不可见): HMAC-SHA256 of the person id under the
# department's own key (keys/department-<name>.key). Kept so that a token given back resolves to
# its person, and only for the department it was issued to.
person_tokens = Table(
    "person_tokens",
    metadata,
    Column("id", Id, primary_key=True),
    Column("department", String(32), nullable=False),
    Column("token", String(64), nullable=False),
    Column("person_id", ForeignKey("persons.id"), nullable=False),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("department", "token"),
)

# One row per department verification (append-only, on the trail: guard/trail/covered.py).
verifications = Table(
    "verifications",
    metadata,
    Column("id", Id, primary_key=True),
    Column("verification_id", String(32), nullable=False, unique=True),  # the department's handle
    Column("client_id", String(48), nullable=False),
    Column("department", String(32), nullable=False),
    Column("incentive", String(40), nullable=False),
    Column("person_id", ForeignKey("persons.id"), nullable=False, index=True),
    Column("eligible", Boolean, nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
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
