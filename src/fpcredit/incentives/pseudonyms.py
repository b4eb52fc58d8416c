"""Per-department pseudonyms of persons (可用不可见): stable within a department, unlinkable across.

A department's `person_token` is `pt_` and the first 32 hex digits (128 bits) of
HMAC-SHA256(person id) under the department's own key, `keys/department-<name>.key` (32 random
bytes, created on first use like the trail's keys, never in the database). Without the key a
token says nothing, and two departments' tokens of one person cannot be matched. The store
keeps each issued token with its person (`person_tokens`), so a token given back resolves —
for the department it was issued to only: the lookup is by (department, token).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from fpcredit.guard.trail.keys import secret_key
from fpcredit.store import schema as s
from fpcredit.store.db import utc_now

__all__ = ["TOKEN_PATTERN", "Pseudonyms"]

TOKEN_PATTERN: Final = r"^pt_[0-9a-f]{32}$"
_DEPARTMENT: Final = re.compile(r"^[a-z][a-z_]{1,31}$")
_CHUNK: Final = 2_000


class Pseudonyms:
    """The departments' token keys under `keys_dir`, read once each."""

    def __init__(self, keys_dir: Path) -> None:
        self._dir = keys_dir
        self._keys: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # keys must never reach a log through repr()
        return f"Pseudonyms({self._dir})"

    def _key(self, department: str) -> bytes:
        if not _DEPARTMENT.match(department):
            raise ValueError(department)  # a department name is a code: never a path
        with self._lock:
            if department not in self._keys:
                self._keys[department] = secret_key(self._dir / f"department-{department}.key")
            return self._keys[department]

    def token(self, department: str, person_id: int) -> str:
        """The department's pseudonym of the person."""
        mac = hmac.new(self._key(department), str(int(person_id)).encode(), hashlib.sha256)
        return "pt_" + mac.hexdigest()[:32]

    def tokens(self, department: str, person_ids: Iterable[int]) -> list[str]:
        key = self._key(department)
        return [
            "pt_" + hmac.new(key, str(int(p)).encode(), hashlib.sha256).hexdigest()[:32]
            for p in person_ids
        ]

    def remember(
        self, conn: sa.Connection, department: str, pairs: Sequence[tuple[str, int]]
    ) -> None:
        """Keep (token, person) pairs so the tokens resolve later; a pair kept already is left."""
        if not pairs:
            return
        now = utc_now()
        rows = [
            {"department": department, "token": t, "person_id": p, "created_at": now}
            for t, p in dict(pairs).items()
        ]
        insert = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert
        statement = insert(s.person_tokens).on_conflict_do_nothing(
            index_elements=["department", "token"]
        )
        for at in range(0, len(rows), _CHUNK):
            conn.execute(statement, rows[at : at + _CHUNK])

    @staticmethod
    def resolve(conn: sa.Connection, department: str, tokens: Sequence[str]) -> dict[str, int]:
        """The persons of those `tokens` issued to `department` (others are absent)."""
        pt = s.person_tokens
        found: dict[str, int] = {}
        unique = sorted(set(tokens))
        for at in range(0, len(unique), _CHUNK):
            query = sa.select(pt.c.token, pt.c.person_id).where(
                pt.c.department == department, pt.c.token.in_(unique[at : at + _CHUNK])
            )
            found.update({str(t): int(p) for t, p in conn.execute(query)})
        return found
