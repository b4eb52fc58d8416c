"""Listing data-quality issues: quarantined rows and flagged fields, with readable reasons."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from fpcredit.messages import Language, label, rule_message
from fpcredit.standard.elements import load_standard
from fpcredit.store import schema as s
from fpcredit.store.db import Store

__all__ = ["field_label", "list_issues"]


def field_label(field: str, lang: Language) -> str:
    """Human label of a target path: `mother.id_number` → 母亲·公民身份号码."""
    owner, _, element = field.partition(".")
    el = load_standard().elements.get(element)
    if el is None:
        return label(f"field.{field}", lang)
    name = el.zh if lang == "zh" else el.en
    return name if owner == "fact" else f"{label(f'role.{owner}', lang)}·{name}"


def list_issues(
    store: Store, source: str | None = None, limit: int | None = None, lang: Language = "zh"
) -> list[dict[str, Any]]:
    """Every issue, oldest first: source, record_key, row_number, field, rule, action, message."""
    q = s.quality_issues
    query = sa.select(
        q.c.source,
        q.c.record_key,
        q.c.row_number,
        q.c.field,
        q.c.rule,
        q.c.action,
        q.c.ingestion_id,
    ).order_by(q.c.id)
    if source:
        query = query.where(q.c.source == source)
    if limit:
        query = query.limit(limit)
    with store.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [
        {
            **row,
            "message": rule_message(
                row["rule"], field_label(row["field"], lang), row["field"], lang
            ),
        }
        for row in rows
    ]
