"""The frame one person at a time, for the reference evaluator: each evaluated person with
their facts and children as of the cut (§1.1, §1.2), which indicators apply to them (§1.4),
their exemptions (§1.3) and their credit events still disclosed (§1.7)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fpcredit.evaluate.frame import Frame
from fpcredit.evaluate.policy_model import Applies, Indicator, Policy
from fpcredit.evaluate.reference.dates import add_months, age, birth_month_end, months_between

__all__ = [
    "Child",
    "Person",
    "Row",
    "active_events",
    "applies",
    "evaluated",
    "exempt",
    "frame_persons",
    "matches",
]

Row = dict[str, Any]


@dataclass(frozen=True)
class Child:
    child_id: int
    birth_date: dt.date
    registered_at: dt.datetime | None


@dataclass
class Person:
    """One evaluated person with what the semantics read about them (facts ≤ C only)."""

    row: Row
    facts: list[Row]
    children: list[Child]  # distinct children with birth_date ≤ C
    facts_of_child: dict[int, list[Row]] = field(default_factory=dict)

    @property
    def child_facts(self) -> list[Row]:
        """The children's facts, each once even if reachable twice (1.5)."""
        seen: dict[int, Row] = {}
        for child in self.children:
            for fact in self.facts_of_child.get(child.child_id, []):
                seen.setdefault(fact["fact_id"], fact)
        return list(seen.values())

    def facts_of(self, of: str) -> list[Row]:
        return self.child_facts if of == "children" else self.facts


def matches(fact: Row, kinds: Iterable[str], where: Mapping[str, list[str]]) -> bool:
    """1.5: the kind is one of `kinds` and every `where` attribute has one of the listed values."""
    return fact["kind"] in kinds and all(fact.get(a) in values for a, values in where.items())


def frame_persons(frame: Frame, cut: dt.date) -> list[Person]:
    facts: dict[int, list[Row]] = {}
    for fact in frame.facts.to_pylist():
        # 1.1: facts dated after C are ignored.
        if fact["event_date"] is not None and fact["event_date"] <= cut:
            facts.setdefault(fact["person_id"], []).append(fact)
    children: dict[int, dict[int, Child]] = {}
    for row in frame.children.to_pylist():
        # 1.1: every birth date is read as the last day of its month; 1.4/1.5: the person's
        # children are the children rows with (that) birth_date ≤ C.
        if row["birth_date"] is None:
            continue
        born = birth_month_end(row["birth_date"])
        if born <= cut:
            child = Child(row["child_id"], born, row["registered_at"])
            children.setdefault(row["parent_id"], {}).setdefault(child.child_id, child)
    people = []
    for row in frame.persons.to_pylist():
        if row["birth_date"] is not None:
            row["birth_date"] = birth_month_end(row["birth_date"])  # 1.1
        mine = sorted(children.get(row["person_id"], {}).values(), key=lambda c: c.child_id)
        people.append(
            Person(
                row,
                facts.get(row["person_id"], []),
                mine,
                {c.child_id: facts.get(c.child_id, []) for c in mine},
            )
        )
    return people


def evaluated(policy: Policy, person: Person, cut: dt.date) -> bool:
    """1.2: age at C ≥ population.min_age, or the birth date is unknown."""
    birth = person.row["birth_date"]
    return birth is None or age(birth, cut) >= policy.population.min_age


# -- 1.4 applicability ------------------------------------------------------------------------


def applies(cond: Applies, person: Person, cut: dt.date) -> bool:
    """All given conditions must hold."""
    row = person.row
    birth = row["birth_date"]
    checks: list[bool] = []
    if cond.sex is not None:
        checks.append(row["sex"] == cond.sex)
    if cond.min_age is not None:
        checks.append(birth is not None and age(birth, cut) >= cond.min_age)
    if cond.max_age is not None:
        checks.append(birth is not None and age(birth, cut) <= cond.max_age)
    if cond.groups is not None:
        checks.append(row["group"] in cond.groups)
    if cond.occupations is not None:
        checks.append(row["occupation"] in cond.occupations)
    if cond.has_children is not None:
        # Reading: the document defines only `true`; `false` is read as "has no child".
        checks.append(bool(person.children) == cond.has_children)
    if cond.child_under_months is not None:
        m = cond.child_under_months
        checks.append(any(months_between(c.birth_date, cut) < m for c in person.children))
    if cond.has_fact is not None:
        checks.append(any(f["kind"] in cond.has_fact for f in person.facts))
    return all(checks)


# -- 1.7 credit events ------------------------------------------------------------------------


def active_events(policy: Policy, person: Person, cut: dt.date) -> list[Row]:
    """credit_event facts with C < add_months(event_date, max_months of their severity).

    Reading: an event whose severity has no rule in `severities` is never active.
    """
    found = []
    for fact in person.facts:
        rule = policy.severities.get(fact.get("severity"))  # type: ignore[arg-type]
        if fact["kind"] != "credit_event" or rule is None:
            continue
        if cut < add_months(fact["event_date"], rule.max_months):
            found.append(fact)
    return found


# -- 1.3 exemption ----------------------------------------------------------------------------


def exempt(ind: Indicator, person: Person, cut: dt.date) -> bool:
    """A difficulty fact with a listed scope and event_date ≤ C ≤ valid_until."""
    for fact in person.facts:
        if fact["kind"] != "difficulty" or fact.get("difficulty_scope") not in ind.exempt_by:
            continue
        until = _date(fact.get("valid_until"))
        if until is not None and fact["event_date"] <= cut <= until:
            return True
    return False


def _date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None
