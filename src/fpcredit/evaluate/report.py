"""What `policy check` and `export scores` produce: the AHP derivation and the scores file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from fpcredit.evaluate import ahp
from fpcredit.evaluate.policy import LoadedPolicy
from fpcredit.evaluate.policy_checks import derive
from fpcredit.evaluate.policy_model import Comparisons
from fpcredit.evaluate.run import Run
from fpcredit.files import private_output

__all__ = ["derivation", "export_scores"]

# Columns the SPEC names first, then provenance; dimensions and indicator scores follow.
LEADING = (
    "person_id",
    "total",
    "grade",
    "points",
    "policy_version",
    "policy_id",
    "policy_sha256",
    "score_date",
    "grade_date",
    "graded_total",
)


def _consistency(c: ahp.Consistency) -> dict[str, Any]:
    return {"n": c.n, "lambda_max": c.lambda_max, "ci": c.ci, "ri": c.ri, "cr": c.cr}


def _block(
    name: str, members: list[str], stored: list[float], comparisons: Comparisons | None
) -> dict[str, Any]:
    block: dict[str, Any] = {"block": name, "members": members, "stored": stored}
    if comparisons is None:
        block["derived"] = None
        return block
    weights, expert, public = derive(comparisons)
    block.update(
        expert=_consistency(expert),
        public=_consistency(public),
        expert_share=float(comparisons.expert_share),
        derived=[round(w, 6) for w in weights],
    )
    return block


def derivation(loaded: LoadedPolicy) -> dict[str, Any]:
    """The policy's identity and how each weight block follows from its AHP matrices."""
    p = loaded.policy
    blocks = [
        _block(
            "dimensions", [d.id for d in p.dimensions], [float(d.weight) for d in p.dimensions],
            p.ahp,
        )
    ]  # fmt: skip
    for d in p.dimensions:
        members = p.indicators_of(d.id)
        blocks.append(
            _block(d.id, [i.id for i in members], [float(i.weight) for i in members], d.ahp)
        )
    return {
        "ok": True,
        "path": loaded.path,
        "id": p.id,
        "version": p.version,
        "effective": p.effective.isoformat(),
        "sha256": loaded.sha256,
        "dimensions": len(p.dimensions),
        "indicators": len(p.indicators),
        "incentives": len(p.incentives),
        "grades": p.grade_order,
        "ahp": blocks,
    }


def export_scores(run: Run, path: Path) -> int:
    """Write a stored evaluation as CSV, or Parquet when the name ends in .parquet."""
    con = duckdb.connect(":memory:")
    try:
        names = con.read_parquet(str(run.path)).columns
        rest = [c for c in names if c not in LEADING and not c.endswith(("_value", "_status"))]
        rest = [c for c in rest if c not in ("group", "occupation", "score_grade")]
        cols = ", ".join(f'"{c}"' for c in (*LEADING, *rest))
        fmt = "PARQUET" if path.suffix.lower() == ".parquet" else "CSV, HEADER"
        with private_output(path) as tmp:  # every person's grade: 0600, whole or not at all
            con.execute(
                f"COPY (SELECT {cols} FROM read_parquet(?) ORDER BY person_id)"
                f" TO '{_sql_path(tmp)}' (FORMAT {fmt})",
                [str(run.path)],
            )
        row = con.execute("SELECT count(*) FROM read_parquet(?)", [str(run.path)]).fetchone()
        return int(row[0]) if row else 0
    finally:
        con.close()


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
