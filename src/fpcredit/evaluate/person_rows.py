"""What an explanation and its search for a better grade both read: one person's rows of an
outcome, scores in hundredths as text, facts matched to kinds and a filter, and children in
order of birth month."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from fpcredit.evaluate.compile.dates import birth_month_end
from fpcredit.evaluate.policy_model import Text
from fpcredit.messages import language

__all__ = ["birth_order", "centi", "matches", "person_rows", "said"]


def person_rows(table: pa.Table, person_id: int) -> list[dict[str, Any]]:
    """The rows of `table` about `person_id`."""
    return [r for r in table.to_pylist() if r["person_id"] == person_id]


def centi(value: int | None) -> str | None:
    """A score in hundredths as text with two decimals."""
    return None if value is None else f"{value / 100:.2f}"


def matches(fact: Mapping[str, Any], kinds: list[str], where: Mapping[str, list[str]]) -> bool:
    """The fact is of one of `kinds` and each attribute of `where` has one of its values."""
    return fact["kind"] in kinds and all(fact.get(a) in v for a, v in where.items())


def birth_order(kid: Mapping[str, Any]) -> tuple[dt.date, int]:
    """Children in order of birth month, then id: the day of a birth chooses nothing here."""
    return birth_month_end(kid["birth_date"]), kid["child_id"]


def said(words: Text) -> str:
    """A policy text (an indicator's or dimension's name, a rationale) in the reader's language."""
    return words.zh if language() == "zh" else words.en
