"""Late facts: re-evaluate a past date with everything known now and say who changed and why.

The official evaluation as of D only sees what was known at the end of D, so it never changes.
Facts about D that arrive later (a vaccination keyed in weeks after, a correction) would change
it; `evaluate --as-of D --changes-since-last` stores a *restatement* with them and lists, per
person whose total or grade moved, the late facts behind it — records naming the person,
and their children's facts, recorded after the previous evaluation of D was known.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import sqlalchemy as sa

from fpcredit.evaluate.policy import LoadedPolicy
from fpcredit.evaluate.run import Run, evaluate, latest
from fpcredit.store.db import Store

__all__ = ["changes_since_last"]

_LATE = """
SELECT DISTINCT coalesce(k.parent, ml.person_id) AS person_id, f.source, f.record_key, f.kind,
       f.event_date, f.recorded_at, f.id
FROM facts f JOIN mentions m ON m.record_id = f.record_id
LEFT JOIN links ml ON ml.mention_id = m.id
LEFT JOIN (
  SELECT DISTINCT cl.person_id AS child, pl.person_id AS parent
  FROM facts b
  JOIN mentions p ON p.record_id = b.record_id AND p.role IN ('mother', 'father')
  JOIN links pl ON pl.mention_id = p.id
  JOIN mentions c ON c.record_id = b.record_id AND c.role = 'child'
  JOIN links cl ON cl.mention_id = c.id
  WHERE b.kind = 'birth_registration' AND pl.person_id IN ({ids})
) k ON k.child = ml.person_id
WHERE f.event_date <= :cut AND f.recorded_at >= :since AND f.recorded_at < :until
  AND (ml.person_id IN ({ids}) OR k.parent IS NOT NULL)
ORDER BY 1, 6, 7
"""


def _diff(before: Run, after: Run) -> list[tuple[Any, ...]]:
    con = duckdb.connect(":memory:")
    try:
        return con.execute(
            """
            SELECT coalesce(a.person_id, b.person_id), b.total, b.grade, a.total, a.grade
            FROM read_parquet(?) b FULL JOIN read_parquet(?) a USING (person_id)
            WHERE b.total IS DISTINCT FROM a.total OR b.grade IS DISTINCT FROM a.grade
            ORDER BY 1
            """,
            [str(before.path), str(after.path)],
        ).fetchall()
    finally:
        con.close()


def _late_facts(
    store: Store, ids: list[int], cut: dt.date, since: dt.datetime, until: dt.datetime
) -> dict[int, list[dict[str, str]]]:
    found: dict[int, list[dict[str, str]]] = {i: [] for i in ids}
    for start in range(0, len(ids), 500):
        chunk = ", ".join(str(int(i)) for i in ids[start : start + 500])
        with store.engine.connect() as conn:
            rows = conn.execute(
                sa.text(_LATE.format(ids=chunk)), {"cut": cut, "since": since, "until": until}
            ).all()
        for pid, source, key, kind, event, recorded, _fact in rows:
            found.setdefault(int(pid), []).append(
                {
                    "source": source,
                    "record_key": key,
                    "kind": kind,
                    "event_date": str(event)[:10],
                    "recorded_at": str(recorded)[:19],
                }
            )
    return found


def changes_since_last(
    store: Store, home: Path, policy: LoadedPolicy, as_of: dt.date
) -> dict[str, Any]:
    """Restate `as_of` with late facts; who changed against the last evaluation, and why."""
    before = latest(store, home, as_of, policy, kinds=("official", "restatement"))
    after = evaluate(store, home, policy, as_of, restate=True)
    diff = _diff(before, after)
    late = _late_facts(
        store, [int(r[0]) for r in diff], after.score_date, before.known_at, after.known_at
    )
    return {
        "as_of": as_of.isoformat(),
        "previous": before.id,
        "previous_known_at": before.known_at.isoformat(sep=" ", timespec="seconds"),
        "evaluation": after.id,
        "known_at": after.known_at.isoformat(sep=" ", timespec="seconds"),
        "changes": [
            {
                "person_id": int(pid),
                "before": {"total": _num(bt), "grade": bg},
                "after": {"total": _num(at), "grade": ag},
                "late_facts": late.get(int(pid), []),
            }
            for pid, bt, bg, at, ag in diff
        ],
    }


def _num(value: Any) -> str | None:
    return None if value is None else f"{value:.2f}"
