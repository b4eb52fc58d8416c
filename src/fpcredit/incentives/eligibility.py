"""Who qualifies for an incentive (R19): the official grade plus the catalogue's conditions.

The grade is the newest official evaluation's (evaluate/results.py), except for a person with
a disputed fact (`facts.disputed`, set by an objection): that person is evaluated live, as the
explanation is, without the disputed fact (evaluate/load.py leaves disputed facts out), so a
verification between the objection and the next evaluation ignores the fact. The conditions
are read from the person file: region type and occupation from `persons`, children from birth
registrations that are current and not disputed, their ages from the child's birth date.

`profiles` reads many persons at once and `qualifying` judges them in order, so a subsidy roll
or a batch verification costs a few queries, not one per person.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

import sqlalchemy as sa

from fpcredit.evaluate.cuts import cut_dates
from fpcredit.evaluate.engine import evaluate_frame
from fpcredit.evaluate.load import load_frame
from fpcredit.evaluate.person_rows import person_rows
from fpcredit.evaluate.policy import LoadedPolicy
from fpcredit.evaluate.policy_incentives import Condition, Incentive
from fpcredit.messages import enumerate_words, label, language, text
from fpcredit.standard.elements import load_standard
from fpcredit.store.db import Store

__all__ = [
    "Failure",
    "Profile",
    "Verdict",
    "age_on",
    "disputed_persons",
    "judge",
    "live_grade",
    "profiles",
    "qualifying",
]

_CHUNK: Final = 2_000  # persons per query: well inside both stores' statement limits


@dataclass(frozen=True)
class Profile:
    """What eligibility reads of one person: the grade and the conditions' inputs."""

    person_id: int
    grade: str | None
    group: str = "unknown"  # urban | rural | migrant | unknown, as the evaluation's `group`
    occupation: str | None = None
    children: tuple[dt.date, ...] = ()  # the children's birth dates
    live: bool = False  # the grade is a live evaluation without disputed facts


FailureKind = Literal["window", "not_graded", "grade", "child_age", "region", "occupation"]


@dataclass(frozen=True)
class Failure:
    """One thing that keeps the person from qualifying, in words (the request's language)."""

    kind: FailureKind
    reason: str


@dataclass(frozen=True)
class Verdict:
    """Whether one person qualifies for one incentive, and if not, why."""

    person_id: int
    eligible: bool
    failures: tuple[Failure, ...] = ()


def age_on(birth: dt.date, day: dt.date) -> int:
    """Age in whole years on `day` (negative before the birth)."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _condition_fails(cond: Condition, profile: Profile, on: dt.date) -> Failure | None:
    if cond.kind == "child_age":
        low = cond.min_years if cond.min_years is not None else 0
        high = cond.max_years if cond.max_years is not None else 30
        if any(low <= age_on(b, on) <= high for b in profile.children if b <= on):
            return None
        return Failure("child_age", text("incentive.fails_child_age", low=low, high=high))
    if cond.kind == "region":
        groups = cond.groups or []
        if profile.group in groups:
            return None
        return Failure(
            "region",
            text(
                "incentive.fails_region",
                group=label(f"evaluation.group_{profile.group}"),
                needed=enumerate_words(label(f"evaluation.group_{g}") for g in groups),
            ),
        )
    occupations = cond.occupations or []
    if profile.occupation in occupations:
        return None
    std, lang = load_standard(), language()
    needed = enumerate_words(std.label("occupation", o, lang) or o for o in occupations)
    return Failure("occupation", text("incentive.fails_occupation", needed=needed))


def judge(incentive: Incentive, profile: Profile, on: dt.date) -> Verdict:
    """Whether `profile` qualifies for `incentive` on `on`: every failing rule is listed."""
    failures: list[Failure] = []
    if not incentive.valid_on(on):
        failures.append(
            Failure(
                "window",
                text("incentive.fails_window", start=incentive.valid_from, end=incentive.valid_to),
            )
        )
    needed = ", ".join(incentive.grades)
    if profile.grade is None:
        failures.append(Failure("not_graded", text("incentive.fails_not_graded", needed=needed)))
    elif profile.grade not in incentive.grades:
        failures.append(
            Failure("grade", text("incentive.fails_grade", grade=profile.grade, needed=needed))
        )
    for cond in incentive.conditions:
        failed = _condition_fails(cond, profile, on)
        if failed is not None:
            failures.append(failed)
    return Verdict(profile.person_id, not failures, tuple(failures))


def qualifying(incentive: Incentive, profiles: Iterable[Profile], on: dt.date) -> list[Verdict]:
    """The verdict of each profile, in the order given (nothing dropped)."""
    return [judge(incentive, p, on) for p in profiles]


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    for at in range(0, len(ids), _CHUNK):
        yield [int(i) for i in ids[at : at + _CHUNK]]


def disputed_persons(store: Store, ids: Sequence[int]) -> set[int]:
    """Those of `ids` with a current fact flagged disputed (an open objection)."""
    found: set[int] = set()
    sql = (
        "SELECT DISTINCT l.person_id FROM facts f JOIN links l ON l.mention_id ="
        " f.subject_mention_id WHERE f.disputed = true AND f.superseded_at IS NULL"
        " AND l.person_id IN ({ids})"
    )
    with store.engine.connect() as conn:
        for chunk in _chunks(sorted(set(ids))):
            listed = ", ".join(str(i) for i in chunk)
            found |= {int(r[0]) for r in conn.execute(sa.text(sql.format(ids=listed)))}
    return found


def _children_of(store: Store, ids: Sequence[int]) -> dict[int, list[int]]:
    sql = (
        "SELECT DISTINCT pl.person_id, cl.person_id FROM facts f"
        " JOIN mentions p ON p.record_id = f.record_id AND p.role IN ('mother', 'father')"
        " JOIN links pl ON pl.mention_id = p.id"
        " JOIN mentions c ON c.record_id = f.record_id AND c.role = 'child'"
        " JOIN links cl ON cl.mention_id = c.id"
        " WHERE f.kind = 'birth_registration' AND f.superseded_at IS NULL"
        " AND f.disputed = false AND pl.person_id IN ({ids})"
    )
    found: dict[int, list[int]] = {}
    with store.engine.connect() as conn:
        for chunk in _chunks(sorted(set(ids))):
            listed = ", ".join(str(i) for i in chunk)
            for parent, child in conn.execute(sa.text(sql.format(ids=listed))):
                if parent != child:
                    found.setdefault(int(parent), []).append(int(child))
    return found


def _person_file(store: Store, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    sql = (
        "SELECT id, birth_date, hukou_region, residence_region, urban_rural, occupation"
        " FROM persons WHERE id IN ({ids})"
    )
    found: dict[int, dict[str, Any]] = {}
    with store.engine.connect() as conn:
        for chunk in _chunks(sorted(set(ids))):
            listed = ", ".join(str(i) for i in chunk)
            for row in conn.execute(sa.text(sql.format(ids=listed))).mappings():
                found[int(row["id"])] = dict(row)
    return found


def _group(row: Mapping[str, Any]) -> str:
    """The region type as the evaluation derives it (evaluate/load.py)."""
    hukou, residence = row.get("hukou_region"), row.get("residence_region")
    if hukou is not None and residence is not None and hukou != residence:
        return "migrant"
    kind = row.get("urban_rural")
    return str(kind) if kind in ("urban", "rural") else "unknown"


def _date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def live_grade(store: Store, policy: LoadedPolicy, person_id: int, on: dt.date) -> str | None:
    """The grade of `person_id` evaluated now at the grade date of `on`, as the explanation
    evaluates it: disputed facts left out. None when the person is not evaluated."""
    _, grade_date = cut_dates(policy, on)
    family = [person_id, *_children_of(store, [person_id]).get(person_id, [])]
    frame = load_frame(store, grade_date, policy.policy.attributes(), persons=family)
    rows = person_rows(evaluate_frame(policy.policy, frame, grade_date).results, person_id)
    return str(rows[0]["grade"]) if rows and rows[0]["grade"] is not None else None


def profiles(
    store: Store,
    policy: LoadedPolicy,
    rows: Mapping[int, Mapping[str, Any] | None],
    on: dt.date,
    *,
    conditions: bool = True,
) -> list[Profile]:
    """The profiles of the persons `rows` names (person id → its official evaluation row, or
    None when it has none), in that order. A person with a disputed fact gets a live grade.
    `conditions=False` skips the person-file reads (for incentives without conditions)."""
    ids = list(rows)
    disputed = disputed_persons(store, ids)
    files = _person_file(store, ids) if conditions else {}
    kids = _children_of(store, ids) if conditions else {}
    births: dict[int, dt.date | None] = {}
    if kids:
        every = sorted({c for cs in kids.values() for c in cs})
        births = {i: _date(r["birth_date"]) for i, r in _person_file(store, every).items()}
    out: list[Profile] = []
    for pid in ids:
        row = rows[pid]
        grade = None if row is None or row.get("grade") is None else str(row["grade"])
        info = files.get(pid, {})
        children = tuple(sorted(b for c in kids.get(pid, []) if (b := births.get(c)) is not None))
        profile = Profile(
            pid,
            grade,
            _group(info) if info else "unknown",
            info.get("occupation"),
            children,
        )
        if pid in disputed:
            profile = replace(profile, grade=live_grade(store, policy, pid, on), live=True)
        out.append(profile)
    return out


def needs_conditions(incentives: Iterable[Incentive]) -> bool:
    """Whether any of these incentives has a condition (and so needs the person file)."""
    return any(inc.conditions for inc in incentives)
