"""Grade changes: a `grade_changed` notification for exactly the persons whose grade moved."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.notify.grades import enqueue_grade_changes
from fpcredit.store import schema as s
from fpcredit.store.db import Store, utc_now


def _evaluation(conn: sa.Connection, home: Path, as_of: str, grades: dict[int, str | None]) -> int:
    path = f"evaluations/{as_of}.parquet"
    (home / "evaluations").mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {"person_id": list(grades), "grade": list(grades.values())},
        schema=pa.schema([("person_id", pa.int64()), ("grade", pa.string())]),
    )
    pq.write_table(table, home / path)
    digest = hashlib.sha256((home / path).read_bytes()).hexdigest()
    day = dt.date.fromisoformat(as_of)
    key = conn.execute(
        s.evaluations.insert().values(
            kind="official",
            as_of=day,
            score_date=day,
            grade_date=day,
            known_at=utc_now(),
            policy_id="p",
            policy_version="1",
            policy_sha256="0" * 64,
            persons=len(grades),
            path=path,
            summary="{}",
            results_sha256=digest,
            created_at=utc_now(),
        )
    ).inserted_primary_key
    assert key is not None
    return int(key[0])


def test_grade_changed_for_exactly_the_persons_whose_grade_moved(
    settings: Settings, store: Store
) -> None:
    home = settings.home
    now = utc_now()
    with store.engine.begin() as conn:
        conn.execute(s.persons.insert(), [{"id": i, "created_at": now} for i in range(1, 2001)])
        first: dict[int, str | None] = {i: "ABCD"[i % 4] for i in range(1, 1901)}
        first_id = _evaluation(conn, home, "2026-03-31", first)
        assert enqueue_grade_changes(conn, home, first_id) == 0  # nobody had a grade before
    second = dict(first)
    moved: dict[int, str | None] = {i: ("A" if first[i] != "A" else "B") for i in range(3, 1900, 7)}
    second.update(moved)
    second.update({i: "C" for i in range(1901, 1911)})  # new since: their first grade
    second[1900] = None  # not graded this time: nothing to tell
    with store.engine.begin() as conn:
        second_id = _evaluation(conn, home, "2026-06-30", second)
        told = enqueue_grade_changes(conn, home, second_id)
    expected = set(moved) | set(range(1901, 1911))
    assert told == len(expected)
    n = s.notifications
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(n.c.person_id, n.c.kind, n.c.params, n.c.state)).all()
    assert {r.person_id for r in rows} == expected
    assert len(rows) == len(expected)
    assert {r.kind for r in rows} == {"grade_changed"} and {r.state for r in rows} == {"pending"}
    params = {r.person_id: json.loads(r.params) for r in rows}
    assert params[3] == {
        "as_of": "2026-06-30",
        "evaluation_id": second_id,
        "old_grade": first[3],
        "new_grade": moved[3],
    }
    assert params[1905]["old_grade"] is None


def test_a_rolled_back_evaluation_tells_nobody(settings: Settings, store: Store) -> None:
    home = settings.home
    with store.engine.begin() as conn:
        conn.execute(s.persons.insert(), [{"id": i, "created_at": utc_now()} for i in (1, 2)])
        first: dict[int, str | None] = {1: "A", 2: "B"}
        enqueue_grade_changes(conn, home, _evaluation(conn, home, "2026-03-31", first))
    try:
        with store.engine.begin() as conn:
            second = _evaluation(conn, home, "2026-06-30", {**first, 1: "B"})
            assert enqueue_grade_changes(conn, home, second) == 1
            raise RuntimeError("the evaluation failed after")
    except RuntimeError:
        pass
    with store.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(s.notifications)) == 0


def test_an_altered_previous_file_tells_nobody(settings: Settings, store: Store) -> None:
    home = settings.home
    with store.engine.begin() as conn:
        conn.execute(s.persons.insert(), [{"id": i, "created_at": utc_now()} for i in (1, 2)])
        first: dict[int, str | None] = {1: "A", 2: "B"}
        _evaluation(conn, home, "2026-03-31", first)
    altered: dict[int, str | None] = {1: "B", 2: "A"}
    pq.write_table(
        pa.table({"person_id": [1, 2], "grade": ["B", "A"]}),
        home / "evaluations/2026-03-31.parquet",
    )
    with store.engine.begin() as conn:
        second = _evaluation(conn, home, "2026-06-30", altered)
        assert enqueue_grade_changes(conn, home, second) == 0
