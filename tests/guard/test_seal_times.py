"""A stored time has one canonical value, whichever SQLite library reads it.

The store's own connection (the system's SQLite) moves a table's digest; `audit verify` reads
the table in bulk through the ADBC driver's bundled SQLite. Both must give each time the same
integer, or a time at .9995 s or later made the trail report a change the platform made itself.
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from pathlib import Path

import pyarrow as pa
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from fpcredit.guard.trail.seal import _expression
from fpcredit.store.arrow import read_arrow

EXPR = _expression("t", "time", "sqlite")
SCHEMA = pa.schema([("v", pa.int64())])


def _stored(when: dt.datetime) -> str:
    """As SQLAlchemy writes a DateTime to SQLite; Python's own adapter drops '.000000'."""
    text = when.strftime("%Y-%m-%d %H:%M:%S.%f")
    return text.removesuffix(".000000") if when.microsecond == 0 and when.second % 2 else text


def _first_canonical(when: dt.datetime) -> int:
    """The value the canonical form held from the start: SQLite 3.40's `strftime('%s')`
    rounds the seconds and their fraction to milliseconds before it drops the fraction."""
    whole = int(when.replace(microsecond=0, tzinfo=dt.UTC).timestamp())
    seconds = when.second
    carry = int((seconds + when.microsecond / 1000000.0) * 1000 + 0.5) // 1000 - seconds
    return (whole + carry) * 1_000_000 + when.microsecond


def _both(path: Path, times: list[dt.datetime]) -> tuple[list[int], list[int]]:
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE IF EXISTS times")
        conn.execute("CREATE TABLE times (id INTEGER PRIMARY KEY, t DATETIME)")
        conn.executemany("INSERT INTO times (t) VALUES (?)", [(_stored(w),) for w in times])
    sql = f"SELECT {EXPR} AS v FROM times ORDER BY id"
    with sqlite3.connect(path) as conn:
        system = [int(v) for (v,) in conn.execute(sql)]
    bundled = read_arrow(sa.make_url(f"sqlite:///{path}"), sql, SCHEMA).column(0).to_pylist()
    return system, bundled


def test_times_near_a_whole_second_read_alike_through_both_libraries(tmp_path: Path) -> None:
    rng = random.Random(7)
    base = dt.datetime(2026, 12, 31, 23, 59, 0)
    times = [
        base.replace(second=second, microsecond=micro)
        for second in (0, 1, 33, 58, 59)
        for micro in [*range(999_000, 1_000_000), 0, 1, 499_999, 500_000]
    ]
    times += [base.replace(second=rng.randrange(60), microsecond=rng.randrange(10**6))
              for _ in range(2000)]  # fmt: skip
    system, bundled = _both(tmp_path / "times.db", times)
    assert system == bundled
    assert system == [_first_canonical(w) for w in times]
    carried = sum(1 for w, v in zip(times, system, strict=True) if v // 10**6 % 60 != w.second)
    assert carried > 0  # the sweep does reach the rounded seconds the old form had


def test_where_the_system_library_still_rounds_the_form_is_its_strftime(tmp_path: Path) -> None:
    """On a SQLite that rounds (3.40, Debian's), the form is what every existing seal used."""
    times = [dt.datetime(2026, 6, 30, 23, 59, 59, micro) for micro in range(999_000, 1_000_000)]
    path = tmp_path / "times.db"
    _both(path, times)
    sql = f"SELECT {EXPR}, CAST(strftime('%s', t) AS INTEGER) * 1000000 + "
    sql += "CAST(COALESCE(NULLIF(substr(t, 21, 6), ''), '0') AS INTEGER) FROM times"
    with sqlite3.connect(path) as conn:
        rows = conn.execute(sql).fetchall()
        rounds = conn.execute("SELECT strftime('%s', '2026-01-01 00:00:00.9999')").fetchone()
    if rounds == ("1767225601",):
        assert all(new == old for new, old in rows)
    else:  # a newer system SQLite truncates: the form keeps the old value regardless
        assert all(new == _first_canonical(w) for w, (new, _old) in zip(times, rows, strict=True))


@settings(max_examples=25, deadline=None)
@given(
    st.datetimes(min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2199, 12, 31)),
    st.integers(min_value=999_000, max_value=999_999),
)
def test_any_time_reads_alike_through_both_libraries(when: dt.datetime, micro: int) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        times = [when, when.replace(microsecond=micro)]
        system, bundled = _both(Path(folder) / "times.db", times)
    assert system == bundled == [_first_canonical(w) for w in times]
