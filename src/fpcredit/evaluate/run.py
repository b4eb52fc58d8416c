"""Batch evaluation as a service: dates, frames, engine, the per-person Parquet file, summary.

`evaluate` is what `fpcredit evaluate --as-of D` runs. It computes the monthly score and the
quarterly grade (docs/policy.md §1.8), writes one row per person to
`FPCREDIT_HOME/evaluations/`, records the run in the `evaluations` table and returns counts, the
grade distribution and each group's A-rate against the best group (four-fifths rule).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from fpcredit.errors import FpcreditError
from fpcredit.evaluate.compile import STATUS
from fpcredit.evaluate.cuts import cut_dates, month_end, not_in_future
from fpcredit.evaluate.engine import evaluate_wide
from fpcredit.evaluate.frame import Frame
from fpcredit.evaluate.load import load_frame
from fpcredit.evaluate.policy import LoadedPolicy
from fpcredit.files import private_dir, private_output
from fpcredit.guard.keys.crypto import refuse_during_move
from fpcredit.guard.trail.covered import vouched
from fpcredit.guard.trail.log import record_rows
from fpcredit.incentives.announce import enqueue_new_eligibility
from fpcredit.incentives.points_earnings import post_earnings
from fpcredit.messages import text
from fpcredit.notify.grades import enqueue_grade_changes, grade_changes
from fpcredit.store import schema as s
from fpcredit.store.db import Store, utc_now

__all__ = [
    "EvaluationError",
    "Run",
    "adopt_results",
    "cut_dates",
    "evaluate",
    "file_sha256",
    "latest",
    "month_end",
    "results_refused",
    "wide",
]
log = logging.getLogger(__name__)

FOUR_FIFTHS = 0.8


class EvaluationError(FpcreditError):
    """No evaluation matches, or its result file is missing."""


@dataclass(frozen=True)
class Run:
    """A stored evaluation: its row in `evaluations` and the absolute path of its results."""

    id: int
    kind: str
    as_of: dt.date
    score_date: dt.date
    grade_date: dt.date
    known_at: dt.datetime
    policy_sha256: str
    path: Path
    summary: dict[str, Any]


def _outcome(
    store: Store, policy: LoadedPolicy, cut: dt.date, known: dt.datetime | None
) -> tuple[Frame, pa.Table]:
    frame = load_frame(store, cut, policy.policy.attributes(), known=known)
    return frame, evaluate_wide(policy.policy, frame, cut)


def wide(
    policy: LoadedPolicy,
    score: tuple[Frame, pa.Table],
    grade: tuple[Frame, pa.Table],
    dates: tuple[dt.date, dt.date],
) -> pa.Table:
    """One row per person: totals, grade, points, provenance, then dimensions and indicators."""
    con = duckdb.connect(":memory:")
    try:
        frame, scored = score
        con.register("persons", frame.persons)
        con.register("w", scored)
        con.register("g", grade[1].select(["person_id", "total_centi", "grade"]))
        p = policy.policy
        dims = "".join(f', w."dim_{d.id}" * 0.01 AS "dim_{d.id}"' for d in p.dimensions)
        inds = "".join(
            f', w."p_{i.id}" AS "{i.id}_score"'
            f', CASE WHEN w."st_{i.id}" = 0 THEN CAST(w."num_{i.id}" AS DOUBLE) / w."den_{i.id}"'
            f' END AS "{i.id}_value"'
            f', {STATUS.format(col=f"w.{chr(34)}st_{i.id}{chr(34)}")} AS "{i.id}_status"'
            for i in p.indicators
        )
        sql = f"""
        SELECT w.person_id, w.total_centi * 0.01 AS total, g.grade, w.points,
               '{p.version}' AS policy_version, '{p.id}' AS policy_id,
               '{policy.sha256}' AS policy_sha256, DATE '{dates[0]}' AS score_date,
               DATE '{dates[1]}' AS grade_date, g.total_centi * 0.01 AS graded_total,
               w.grade AS score_grade, pe."group", pe.occupation{dims}{inds}
        FROM w JOIN persons pe USING (person_id) LEFT JOIN g USING (person_id)
        ORDER BY w.person_id
        """
        return con.sql(sql).to_arrow_table()
    finally:
        con.close()


def summarise(table: pa.Table, grades: list[str]) -> dict[str, Any]:
    """Counts, grade distribution, and A-rates by group and occupation vs the best group."""
    con = duckdb.connect(":memory:")
    try:
        con.register("t", table)
        best = grades[0]
        dist = dict(con.sql("SELECT grade, count(*) FROM t GROUP BY grade").fetchall())
        summary: dict[str, Any] = {
            "persons": table.num_rows,
            "grades": {g: int(dist.get(g, 0)) for g in grades},
            "ungraded": int(dist.get(None, 0)),
        }
        for by in ("group", "occupation"):
            rows = con.sql(
                f"SELECT coalesce(\"{by}\", 'unknown') AS k, count(*) AS n,"
                f" avg(CASE WHEN grade = '{best}' THEN 1 ELSE 0 END) AS rate"
                f" FROM t GROUP BY k ORDER BY k"
            ).fetchall()
            top = max((r[2] for r in rows), default=0.0)
            summary[f"by_{by}"] = [
                {
                    by: k,
                    "persons": n,
                    f"{best}_rate": round(rate, 6),
                    "ratio_to_best": round(rate / top, 6) if top else None,
                    "four_fifths": bool(top == 0 or rate / top >= FOUR_FIFTHS),
                }
                for k, n, rate in rows
            ]
        return summary
    finally:
        con.close()


def evaluate(
    store: Store,
    home: Path,
    policy: LoadedPolicy,
    as_of: dt.date,
    restate: bool = False,
) -> Run:
    """Evaluate everyone as of `as_of`; `restate` sees facts recorded since (late facts)."""
    not_in_future(as_of)
    refuse_during_move(home / "keys")  # name consistency compares blind indexes
    score_date, grade_date = cut_dates(policy, as_of)
    known = utc_now().replace(tzinfo=None) if restate else None
    score = _outcome(store, policy, score_date, known)
    grade = score if grade_date == score_date else _outcome(store, policy, grade_date, known)
    table = wide(policy, score, grade, (score_date, grade_date))
    summary = summarise(table, policy.policy.grade_order)
    known_at = known or dt.datetime.combine(score_date + dt.timedelta(days=1), dt.time())
    kind = "restatement" if restate else "official"
    dates = (score_date, grade_date)
    return _store(store, home, policy, kind, as_of, dates, known_at, table, summary)


def _store(
    store: Store,
    home: Path,
    policy: LoadedPolicy,
    kind: str,
    as_of: dt.date,
    dates: tuple[dt.date, dt.date],
    known_at: dt.datetime,
    table: pa.Table,
    summary: dict[str, Any],
) -> Run:
    folder = private_dir(home / "evaluations")
    stamp = utc_now().strftime("%Y%m%dT%H%M%S%f")
    name = f"{as_of}_{policy.policy.id}-{policy.policy.version}_{policy.sha256[:8]}_{stamp}.parquet"
    with private_output(folder / name) as tmp:  # every person's grade: 0600, whole or not at all
        pq.write_table(table, tmp, compression="zstd")
    row = {
        "results_sha256": file_sha256(folder / name),
        "kind": kind,
        "as_of": as_of,
        "score_date": dates[0],
        "grade_date": dates[1],
        "known_at": known_at,
        "policy_id": policy.policy.id,
        "policy_version": policy.policy.version,
        "policy_sha256": policy.sha256,
        "persons": table.num_rows,
        "path": f"evaluations/{name}",
        "summary": json.dumps(summary, ensure_ascii=False),
        "created_at": utc_now(),
    }
    with store.engine.begin() as conn:
        key = conn.execute(sa.insert(s.evaluations).values(**row)).inserted_primary_key
        assert key is not None
        new_id = key[0]
        # The row, and through it the file's SHA-256, on the trail in the same transaction.
        record_rows(conn, "evaluations", new_id, new_id, "evaluate", kind, keys_dir=store.keys_dir)
        if kind == "official":  # in this transaction: who is told (R24), what is earned (R21)
            changes = grade_changes(conn, home, int(new_id))
            enqueue_grade_changes(conn, home, int(new_id), changes)
            enqueue_new_eligibility(conn, store, policy, changes, as_of, int(new_id))
            post_earnings(conn, new_id, table, keys_dir=store.keys_dir)
    return Run(
        int(new_id), kind, as_of, dates[0], dates[1], known_at, policy.sha256, home / row["path"],
        summary,
    )  # fmt: skip


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, hex."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def results_refused(conn: sa.Connection, row: Any, path: Path) -> str | None:
    """Why an evaluation's results must not be used, or None: its file no longer has the
    SHA-256 its row records, or the row no longer matches its entry on the trail."""
    if row["results_sha256"] is None or file_sha256(path) != row["results_sha256"]:
        log.critical("evaluation %s: its results file was changed; refused", row["id"])
        return text("evaluation.file_altered", id=row["id"])
    if not vouched(conn, "evaluations", int(row["id"])):
        log.critical("evaluation %s: its row was changed; refused", row["id"])
        return text("evaluation.row_altered", id=row["id"])
    return None


def adopt_results(store: Store, home: Path) -> int:
    """For a store from before results files were checked: record each evaluation's file
    SHA-256 and put the evaluations on the trail — once (not when any evaluation already is).
    Returns how many were adopted."""
    e, entries = s.evaluations, s.ledger_entries
    with store.engine.begin() as conn:
        covered = conn.scalar(
            sa.select(entries.c.idx).where(entries.c.table_name == "evaluations").limit(1)
        )
        rows = conn.execute(sa.select(e.c.id, e.c.path).order_by(e.c.id)).all()
        if covered is not None or not rows:
            return 0
        for row_id, relative in rows:
            path = home / relative
            digest = file_sha256(path) if path.exists() else None
            conn.execute(e.update().where(e.c.id == row_id).values(results_sha256=digest))
        first, last = int(rows[0][0]), int(rows[-1][0])
        record_rows(conn, "evaluations", first, last, "fpcredit", "adopt", keys_dir=store.keys_dir)
    return len(rows)


def latest(
    store: Store,
    home: Path,
    as_of: dt.date,
    policy: LoadedPolicy | None = None,
    kinds: tuple[str, ...] = ("official",),
    before: int | None = None,
) -> Run:
    """The most recent stored evaluation for `as_of` (of this policy text, when given)."""
    e = s.evaluations
    query = sa.select(e).where(e.c.as_of == as_of, e.c.kind.in_(kinds))
    if policy is not None:
        query = query.where(e.c.policy_sha256 == policy.sha256)
    if before is not None:
        query = query.where(e.c.id < before)
    with store.engine.connect() as conn:
        row = conn.execute(query.order_by(e.c.id.desc()).limit(1)).mappings().first()
    if row is None:
        raise EvaluationError(text("evaluation.missing", as_of=as_of.isoformat()))
    path = home / row["path"]
    if not path.exists():
        raise EvaluationError(text("evaluation.file_missing", path=row["path"]))
    with store.engine.connect() as conn:
        refused = results_refused(conn, row, path)
    if refused:
        raise EvaluationError(refused)
    return Run(
        int(row["id"]), row["kind"], row["as_of"], row["score_date"], row["grade_date"],
        row["known_at"], row["policy_sha256"], path, json.loads(row["summary"]),
    )  # fmt: skip
