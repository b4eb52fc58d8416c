"""The relational schema (SQLAlchemy Core), shared by SQLite and PostgreSQL.

Identifier columns end in ``_enc`` (AES-GCM ciphertext) or ``_bidx`` (HMAC blind index); no
column ever holds an identifier in plaintext. The tables live by room — `data` (records, facts,
the person index, evaluations, policies), `guard` (identities and the trail), `services`
(notifications, incentives, points, cases, feedback, subsidy rolls), `exchange` (the
cross-province exchange) — on one `metadata`.
"""

from __future__ import annotations

from fpcredit.store.schema.base import Id, metadata
from fpcredit.store.schema.data import (
    PERSON_FIELDS,
    PLAIN_PERSON_FIELDS,
    evaluations,
    facts,
    ingestions,
    link_decisions,
    link_models,
    link_reviews,
    link_runs,
    links,
    mentions,
    persons,
    policies,
    quality_issues,
    quarantine,
    records,
)
from fpcredit.store.schema.exchange import (
    exchange_inbox,
    exchange_outbox,
    exchange_partners,
    exchange_sent,
)
from fpcredit.store.schema.guard import (
    citizen_codes,
    clients,
    ledger_checkpoints,
    ledger_entries,
    ledger_nodes,
    outbox,
    password_history,
    sessions,
    users,
)
from fpcredit.store.schema.services import (
    case_steps,
    cases,
    client_incentives,
    feedback,
    notifications,
    notify_webhooks,
    person_tokens,
    points_accounts,
    points_entries,
    points_postings,
    points_redemptions,
    subsidy_rolls,
    verifications,
)

__all__ = [
    "PERSON_FIELDS",
    "PLAIN_PERSON_FIELDS",
    "Id",
    "case_steps",
    "cases",
    "citizen_codes",
    "client_incentives",
    "clients",
    "evaluations",
    "exchange_inbox",
    "exchange_outbox",
    "exchange_partners",
    "exchange_sent",
    "facts",
    "feedback",
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
    "notify_webhooks",
    "outbox",
    "password_history",
    "person_tokens",
    "persons",
    "points_accounts",
    "points_entries",
    "points_postings",
    "points_redemptions",
    "policies",
    "quality_issues",
    "quarantine",
    "records",
    "sessions",
    "subsidy_rolls",
    "users",
    "verifications",
]
