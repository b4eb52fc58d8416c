"""Codes as words on a page: data sets, departments, code tables, regions, roles, purposes."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from fpcredit.messages import known, language, text
from fpcredit.standard.elements import Standard, load_standard
from fpcredit.standard.regions import lookup

__all__ = ["WORDS"]


@functools.cache
def _standard() -> Standard:
    return load_standard()


def dataset(kind: str | None) -> str:
    found = _standard().datasets.get(kind or "")
    if found is None:
        return kind or "—"
    return found.zh if language() == "zh" else found.en


def department(code: str | None) -> str:
    found = _standard().departments.get(code or "")
    if found is None:
        return code or "—"
    return found.zh if language() == "zh" else found.en


def code(element: str, value: str | None) -> str:
    return _standard().label(element, value, language()) or "—"


def region(value: str | None) -> str:
    found = lookup(value) if value else None
    return f"{found.name} ({value})" if found else (value or "—")


def role(value: str | None) -> str:
    return text(f"page.role_{value}") if known(f"page.role_{value}") else (value or "—")


def purpose(value: str | None) -> str:
    return text(f"page.purpose_{value}") if known(f"page.purpose_{value}") else (value or "—")


def action(value: str | None) -> str:
    return text(f"page.action_{value}") if known(f"page.action_{value}") else (value or "—")


def actor(value: str | None) -> str:
    """`county:wangfang` as 县级工作人员 wangfang; the platform itself as the platform."""
    kind, _, who = (value or "").partition(":")
    if kind == "os":
        return text("page.actor_operator", who=who)
    return f"{role(kind)} {who}".strip() if who and who != "-" else role(kind)


def value_of(field: str, value: Any) -> str:
    """A person field's value as words: a sex or occupation code by meaning, a region by name."""
    if value is None or value == "":
        return "—"
    if field in ("hukou_region", "residence_region"):
        return region(str(value))
    element = _standard().elements.get(field)
    if element is not None and element.code_table:
        return code(field, str(value))
    return str(value)


def days_left(today: str, due: str) -> int:
    """Calendar days from `today` to a due date (both ISO dates, as the API writes them)."""
    return (dt.date.fromisoformat(str(due)) - dt.date.fromisoformat(str(today))).days


WORDS: dict[str, Any] = {
    "days_left": days_left,
    "value_of": value_of,
    "dataset": dataset,
    "department": department,
    "code": code,
    "region": region,
    "role": role,
    "purpose": purpose,
    "action": action,
    "actor": actor,
}
