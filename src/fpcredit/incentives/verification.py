"""Department verification (R20, 可用不可见): eligible or not, and nothing else about the person.

A department client names a person (an ID number, or the `person_token` it was given before), an
incentive it was registered to verify and the purpose `incentive_verification`; the answer is
exactly `eligible`, `verification_id`, `expires_at` and the department's `person_token`. Each
answer is a `verifications` row; the rows of one request and their change entry on the trail
commit together (guard/trail/covered.py), so an edited answer fails `fpcredit audit verify`.

The batch form answers every row of a list, in order: a row with a valid ID number is found by
its blind index, one without by name, birth date, sex and region through the linkage model
(link/match.py); a row that names nobody, or more than one person, is answered with an error.
"""

from __future__ import annotations

import csv
import datetime as dt
import secrets
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa

from fpcredit.errors import FpcreditError, InvalidIdNumber, StoreError
from fpcredit.evaluate.policy import LoadedPolicy
from fpcredit.evaluate.policy_incentives import Incentive
from fpcredit.guard.access import Purpose
from fpcredit.guard.keys.crypto import Vault
from fpcredit.guard.trail.entries import lock
from fpcredit.guard.trail.log import record_rows
from fpcredit.guard.trail.sealing import keys_of
from fpcredit.incentives.catalogue import find
from fpcredit.incentives.eligibility import judge, profiles
from fpcredit.incentives.pseudonyms import Pseudonyms
from fpcredit.link.match import match_list
from fpcredit.messages import text
from fpcredit.standard.idcard import normalize
from fpcredit.store import schema as s
from fpcredit.store.db import Store, utc_now

__all__ = [
    "ACTION",
    "MAX_BATCH_ROWS",
    "VALID_FOR",
    "Answer",
    "BatchRow",
    "Department",
    "RowAnswer",
    "VerificationError",
    "Verifier",
]

ACTION: Final = "incentive_verify"
VALID_FOR: Final = dt.timedelta(hours=24)  # how long a department may rely on an answer
MAX_BATCH_ROWS: Final = 100_000
_CHUNK: Final = 2_000


class VerificationError(FpcreditError):
    """A verification refused: `status` is the HTTP answer, `field` the request's part."""

    def __init__(self, status: int, message: str, field: str = "body") -> None:
        super().__init__(message)
        self.status = status
        self.field = field


@dataclass(frozen=True)
class Department:
    """The calling department client: its id, its department, what it may verify."""

    client_id: str
    department: str
    incentives: frozenset[str]
    purposes: frozenset[Purpose]


@dataclass(frozen=True)
class Answer:
    """A verification's answer; `person_id` stays inside the service (for the trail)."""

    eligible: bool
    verification_id: str
    expires_at: dt.datetime
    person_token: str
    person_id: int


@dataclass(frozen=True)
class BatchRow:
    """One row of a batch: an ID number, a token, or the details to match by."""

    id_number: str | None = None
    person_token: str | None = None
    name: str | None = None
    birth_date: str | None = None
    sex: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class RowAnswer:
    """The answer to one batch row (`row` counts from 0): an answer or an error."""

    row: int
    answer: Answer | None = None
    error: str | None = None


class Verifier:
    """Verifications against the store; `grades` is the official evaluation's row by person."""

    def __init__(
        self,
        store: Store,
        vault: Vault,
        pseudonyms: Pseudonyms,
        grades: Callable[[int], Mapping[str, Any] | None],
        policy: Callable[[], LoadedPolicy],
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.store = store
        self.vault = vault
        self.pseudonyms = pseudonyms
        self.grades = grades
        self.policy = policy
        self.clock = clock

    def allowed(self, dept: Department, incentive_id: str, purpose: str) -> Incentive:
        """The incentive, once the purpose, the incentive and the registration are in order."""
        wanted = Purpose.INCENTIVE_VERIFICATION
        if purpose != wanted.value or wanted not in dept.purposes:
            raise VerificationError(403, text("incentive.purpose", purpose=purpose))
        incentive = find(self.policy(), incentive_id)
        if incentive is None:
            raise VerificationError(422, text("incentive.unknown", what=incentive_id))
        if incentive_id not in dept.incentives or incentive.department != dept.department:
            raise VerificationError(403, text("incentive.not_registered", what=incentive_id))
        return incentive

    def verify(
        self,
        dept: Department,
        incentive_id: str,
        purpose: str,
        id_number: str | None = None,
        person_token: str | None = None,
    ) -> Answer:
        """One verification; VerificationError with a 4xx status when refused."""
        incentive = self.allowed(dept, incentive_id, purpose)
        if (id_number is None) == (person_token is None):
            raise VerificationError(422, text("incentive.one_of"))
        if id_number is not None:
            try:
                number = normalize(id_number)
            except InvalidIdNumber:
                raise VerificationError(422, text("incentive.bad_id"), "id_number") from None
            owners = self._by_id_number([number]).get(number, [])
            if len(owners) != 1:
                raise VerificationError(404, text("incentive.no_person"), "id_number")
            person = owners[0]
        else:
            assert person_token is not None
            with self.store.engine.connect() as conn:
                found = Pseudonyms.resolve(conn, dept.department, [person_token])
            if person_token not in found:
                raise VerificationError(404, text("incentive.bad_token"), "person_token")
            person = found[person_token]
        return self._answer(dept, incentive, purpose, [person])[0]

    def verify_batch(
        self, dept: Department, incentive_id: str, purpose: str, rows: Sequence[BatchRow]
    ) -> list[RowAnswer]:
        """Every row answered, in order: an answer, or an error saying why."""
        incentive = self.allowed(dept, incentive_id, purpose)
        if len(rows) > MAX_BATCH_ROWS:
            raise VerificationError(413, text("incentive.batch_too_large", limit=MAX_BATCH_ROWS))
        persons: dict[int, int] = {}
        errors: dict[int, str] = {}
        numbers: dict[int, str] = {}
        tokens: dict[int, str] = {}
        to_match: dict[int, BatchRow] = {}
        for i, row in enumerate(rows):
            if row.person_token:
                tokens[i] = row.person_token
                continue
            if row.id_number:
                try:
                    numbers[i] = normalize(row.id_number)
                    continue
                except InvalidIdNumber:
                    pass  # matched by the other details, as a list row without an ID is
            if row.name and row.birth_date:
                to_match[i] = row
            else:
                errors[i] = text(
                    "incentive.bad_id" if row.id_number else "incentive.row_incomplete"
                )
        owners = self._by_id_number(list(numbers.values()))
        for i, number in numbers.items():
            found = owners.get(number, [])
            if len(found) == 1:
                persons[i] = found[0]
            else:
                errors[i] = text("incentive.no_person" if not found else "incentive.ambiguous")
        if tokens:
            with self.store.engine.connect() as conn:
                known = Pseudonyms.resolve(conn, dept.department, list(tokens.values()))
            for i, token in tokens.items():
                if token in known:
                    persons[i] = known[token]
                else:
                    errors[i] = text("incentive.bad_token")
        matched = self._match(to_match)
        for i, outcome in matched.items():
            if isinstance(outcome, int):
                persons[i] = outcome
            else:
                errors[i] = outcome
        order = sorted(persons)
        answers = dict(
            zip(
                order,
                self._answer(dept, incentive, purpose, [persons[i] for i in order]),
                strict=True,
            )
        )
        return [
            RowAnswer(i, answer=answers[i]) if i in answers else RowAnswer(i, error=errors[i])
            for i in range(len(rows))
        ]

    def _by_id_number(self, numbers: Sequence[str]) -> dict[str, list[int]]:
        """Live persons by normalised ID number (by blind index, every index during a move)."""
        index: dict[bytes, str] = {}
        for number in set(numbers):
            for bidx in self.vault.blind_indexes(number, "id_number"):
                index[bidx] = number
        p = s.persons
        found: dict[str, list[int]] = {}
        keys = list(index)
        with self.store.engine.connect() as conn:
            for at in range(0, len(keys), _CHUNK):
                query = sa.select(p.c.id, p.c.id_number_bidx).where(
                    p.c.merged_into.is_(None), p.c.id_number_bidx.in_(keys[at : at + _CHUNK])
                )
                for pid, bidx in conn.execute(query):
                    found.setdefault(index[bytes(bidx)], []).append(int(pid))
        return found

    def _match(self, rows: Mapping[int, BatchRow]) -> dict[int, int | str]:
        """Rows without a valid ID number, matched by the linkage model: person or reason."""
        if not rows:
            return {}
        order = sorted(rows)
        with tempfile.TemporaryDirectory(prefix="fpcredit-verify-") as folder:
            listed, mapping = Path(folder) / "list.csv", Path(folder) / "map.yaml"
            with listed.open("w", encoding="utf-8", newline="") as handle:
                out = csv.writer(handle)
                out.writerow(["name", "birth_date", "sex", "region"])
                for i in order:
                    r = rows[i]
                    out.writerow([r.name or "", r.birth_date or "", r.sex or "", r.region or ""])
            mapping.write_text(
                "columns: {name: name, birth_date: birth_date, sex: sex, region: region}\n",
                encoding="utf-8",
            )
            try:
                result = match_list(self.store, self.vault, listed, mapping)
            except StoreError:  # no trained linkage model: such rows cannot be matched
                return {i: text("incentive.row_incomplete") for i in order}
        out_rows: dict[int, int | str] = {}
        for i, match in zip(order, result.results, strict=True):
            if match.person_id is not None:
                out_rows[i] = match.person_id
            elif match.status == "rejected":
                out_rows[i] = match.reason or text("incentive.row_incomplete")
            else:
                out_rows[i] = text("incentive.ambiguous")
        return out_rows

    def _answer(
        self, dept: Department, incentive: Incentive, purpose: str, persons: Sequence[int]
    ) -> list[Answer]:
        """Judge the persons, then write their rows and the trail's change entry together."""
        if not persons:
            return []
        now = self.clock()
        policy = self.policy()
        unique = list(dict.fromkeys(persons))
        found = profiles(
            self.store,
            policy,
            {p: self.grades(p) for p in unique},
            now.date(),
            conditions=bool(incentive.conditions),
        )
        eligible = {p.person_id: judge(incentive, p, now.date()).eligible for p in found}
        tokens = dict(zip(unique, self.pseudonyms.tokens(dept.department, unique), strict=True))
        expires = now + VALID_FOR
        handles = [secrets.token_hex(16) for _ in persons]
        v = s.verifications
        with self.store.engine.begin() as conn:
            self.pseudonyms.remember(conn, dept.department, [(tokens[p], p) for p in unique])
            lock(conn)  # ids in one contiguous range: the change entry covers exactly these
            first = (
                int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(v.c.id), 0))).scalar_one())
                + 1
            )
            rows = [
                {
                    "id": first + k,
                    "verification_id": handles[k],
                    "client_id": dept.client_id,
                    "department": dept.department,
                    "incentive": incentive.id,
                    "person_id": p,
                    "eligible": eligible[p],
                    "purpose": purpose,
                    "created_at": now,
                    "expires_at": expires,
                }
                for k, p in enumerate(persons)
            ]
            for at in range(0, len(rows), _CHUNK):
                conn.execute(v.insert(), rows[at : at + _CHUNK])
            actor = f"department:{dept.client_id}"
            last = first + len(rows) - 1
            record_rows(
                conn, "verifications", first, last, actor, ACTION, keys_dir=keys_of(self.store)
            )
        return [
            Answer(eligible[p], handles[k], expires, tokens[p], p) for k, p in enumerate(persons)
        ]
