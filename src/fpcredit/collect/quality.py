"""Listing data-quality issues: quarantined rows and flagged fields, with readable reasons."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from fpcredit.messages import Language, rule_message
from fpcredit.standard.elements import load_standard
from fpcredit.store import schema as s
from fpcredit.store.db import Store

__all__ = ["field_label", "list_issues"]


ROLES = {
    "self": ("本人", "person"),
    "mother": ("母亲", "mother"),
    "father": ("父亲", "father"),
    "child": ("子女", "child"),
    "husband": ("男方", "husband"),
    "wife": ("女方", "wife"),
}


def field_label(field: str, lang: Language) -> str:
    """Human label of a target path: `mother.id_number` → 母亲·公民身份号码."""
    owner, _, element = field.partition(".")
    el = load_standard().elements.get(element)
    if el is None:
        return {
            "row": ("整行", "row"),
            "record_key": ("记录编号", "record key"),
            "kind": ("业务类型", "record type"),
        }.get(field, (field, field))[lang == "en"]
    name = el.zh if lang == "zh" else el.en
    if owner == "fact":
        return name
    role = ROLES.get(owner, (owner, owner))[lang == "en"]
    return f"{role}·{name}"


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
