"""Evaluation of a whole province at a cut date, beside two baselines run in the same session.

    .venv/bin/python benchmarks/evaluate_rate.py --persons 1000000 --reference-persons 100000
    .venv/bin/python benchmarks/evaluate_rate.py --persons 20000 --reference-persons 5000  # quick

Prints one JSON object. The frame comes from `frame_gen.make_frame` (persons, ≥ 10 facts each
on average, children), evaluated under the default policy at `--cut` with DuckDB on all cores:

- `bare_aggregate`, the ceiling: ONE DuckDB query over the same facts (group by person, a
  DECIMAL weight per kind summed, joined to persons: one row per person), run right before and
  right after the engine; the faster run is the baseline.
- `engine`: `fpcredit.evaluate.engine.evaluate_wide` (or `evaluate_frame` where that does not
  exist; `function` says which ran), with its peak RSS above the RSS it started from.
- `reference`: the plain per-person evaluator `fpcredit.evaluate.reference.evaluate` on a smaller
  frame from the same generator; the engine runs on that frame too, and their results are
  compared person by person (total, grade, points).

Targets (the issue's acceptance): engine ≤ 5 × the bare aggregate, and ≥ 10 × the reference
evaluator's persons per second. Never asserted: the figures are for reading.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import logging
import os
import platform
import resource
import shlex
import sys
import time
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from frame_gen import make_frame

import fpcredit.evaluate.engine as engine_module
from fpcredit.compute.duckdb import DuckDBEngine
from fpcredit.evaluate import reference
from fpcredit.evaluate.frame import Frame
from fpcredit.evaluate.policy import load_policy
from fpcredit.evaluate.policy_model import Policy

TARGET_VS_BARE = 5.0
TARGET_VS_REFERENCE = 10.0
# The ceiling's weights: one exact decimal per kind the default policy reads (others weigh 0).
KIND_WEIGHTS = {
    "vaccination": "0.25",
    "child_health_check": "0.20",
    "infant_care": "0.20",
    "prenatal_check": "0.10",
    "postnatal_check": "0.05",
    "contraception": "0.20",
    "maternity_insurance_payment": "0.15",
    "credit_event": "-0.30",
    "difficulty": "0.05",
}
MIB = 1024 * 1024


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MIB


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _reset_peak() -> bool:
    """Reset the process's peak RSS (Linux ≥ 4.0), so that the next peak is the engine's own."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def _machine(cores: int) -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next(
                (ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), ""
            )
    except OSError:
        pass
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "cores": cores,
        "cpu": model,
        "ram_gib": round(ram / 1024**3, 1),
        "load_avg_1m_at_start": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pyarrow": pa.__version__,
    }


def bare_sql(cut: dt.date) -> str:
    cases = " ".join(f"WHEN '{k}' THEN {w}" for k, w in KIND_WEIGHTS.items())
    return (
        "SELECT p.person_id, COALESCE(f.score, 0) AS score FROM persons p LEFT JOIN ("
        f" SELECT person_id, SUM(CASE kind {cases} ELSE 0 END) AS score FROM facts"
        f" WHERE event_date <= DATE '{cut.isoformat()}' GROUP BY person_id"
        ") f ON f.person_id = p.person_id"
    )


def indicator_sql(policy: Policy, cut: dt.date) -> str:
    """The notes' ceiling (performance.md, "28 indicators, weighted score, grade"): one pass,
    group by person, one FILTERed count per default indicator (its kind and first filter, no
    windows, schedules, coverage, children or bonus rule), an exact weighted sum, a grade."""
    counts, terms = [], []
    for n, ind in enumerate(policy.indicators):
        m = ind.measure
        kinds = getattr(m, "kinds", None) or [getattr(m, "kind", None) or "credit_event"]
        where = dict(getattr(m, "where", {}) or {})
        cond = " OR ".join(f"kind = '{k}'" for k in kinds)
        for attr, values in list(where.items())[:1]:
            cond = f"({cond}) AND \"{attr}\" = '{values[0]}'"
        counts.append(f"count(*) FILTER (WHERE {cond}) AS c{n}")
        weight = ind.weight * next(d.weight for d in policy.dimensions if d.id == ind.dimension)
        terms.append(f"CAST({float(weight):.4f} AS DECIMAL(9, 4)) * LEAST(c{n}, 1)")
    return (
        f"SELECT p.person_id, CASE WHEN s >= 0.95 THEN 'A' WHEN s >= 0.85 THEN 'B'"
        f" WHEN s >= 0.70 THEN 'C' ELSE 'D' END AS grade, s FROM persons p LEFT JOIN ("
        f" SELECT person_id, {' + '.join(terms)} AS s FROM (SELECT person_id, {', '.join(counts)}"
        f" FROM facts WHERE event_date <= DATE '{cut.isoformat()}' GROUP BY person_id))"
        f" f ON f.person_id = p.person_id"
    )


def indicator_aggregate(
    policy: Policy, frame: Frame, cut: dt.date, cores: int
) -> tuple[float, int]:
    """Seconds and rows of `indicator_sql` on its own connection."""
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"SET threads = {cores}")
        con.execute("SET preserve_insertion_order = false")
        con.register("persons", frame.persons)
        con.register("facts", frame.facts)
        start = time.perf_counter()
        out = con.sql(indicator_sql(policy, cut)).to_arrow_table()
        return time.perf_counter() - start, out.num_rows
    finally:
        con.close()


def bare_aggregate(frame: Frame, cut: dt.date, cores: int) -> tuple[float, int, str]:
    """The ceiling: one pass over the facts in DuckDB, one row per person.

    Returns seconds, rows and the type of the weighted sum (exact: DECIMAL)."""
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"SET threads = {cores}")
        con.execute("SET preserve_insertion_order = false")
        con.register("persons", frame.persons)
        con.register("facts", frame.facts)
        start = time.perf_counter()
        out = con.sql(bare_sql(cut)).to_arrow_table()
        seconds = time.perf_counter() - start
        return seconds, out.num_rows, str(out.schema.field("score").type)
    finally:
        con.close()


class _Steps(logging.Handler):
    """The engine's own timing of each step it runs (`fpcredit.compute.base` logs them at
    DEBUG: name and seconds; `query` is a result read without being stored)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seconds: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.args, tuple) and len(record.args) == 3:
            _, name, seconds = record.args
            if isinstance(seconds, float):
                self.seconds[str(name)] = round(seconds, 3)


def run_engine(
    policy: Policy, frame: Frame, cut: dt.date, cores: int
) -> tuple[float, pa.Table, dict[str, float]]:
    """The full engine; returns seconds, one row per evaluated person, and each step's seconds."""
    eng = DuckDBEngine(threads=cores)
    steps, logger = _Steps(), logging.getLogger("fpcredit.compute.base")
    level = logger.level
    logger.addHandler(steps)
    logger.setLevel(logging.DEBUG)
    try:
        start = time.perf_counter()
        if hasattr(engine_module, "evaluate_wide"):
            out = engine_module.evaluate_wide(policy, frame, cut, engine=eng)
        else:
            out = engine_module.evaluate_frame(policy, frame, cut, engine=eng)
        seconds = time.perf_counter() - start
    finally:
        logger.removeHandler(steps)
        logger.setLevel(level)
        eng.close()
    return seconds, out if isinstance(out, pa.Table) else out.results, steps.seconds


def expected_ids(policy: Policy, frame: Frame, cut: dt.date) -> pa.Array:
    """Who §1.2 evaluates: age at C ≥ population.min_age, or an unknown birth date."""
    b, c = "birth_date", f"DATE '{cut.isoformat()}'"
    months = (
        f"(12 * (year({c}) - year({b})) + month({c}) - month({b})"
        f" - CASE WHEN day({c}) < day({b}) THEN 1 ELSE 0 END)"
    )
    sql = (
        f"SELECT person_id FROM persons WHERE {b} IS NULL"
        f" OR {months} // 12 >= {policy.population.min_age}"
    )
    con = duckdb.connect(":memory:")
    try:
        con.register("persons", frame.persons)
        return con.sql(sql).to_arrow_table().column("person_id").combine_chunks()
    finally:
        con.close()


def inspect_output(policy: Policy, out: pa.Table, expected: pa.Array) -> dict[str, Any]:
    """What the engine returned, and whatever looks wrong in it."""
    ids = out.column("person_id")
    total = out.column("total_centi")
    summary: dict[str, Any] = {
        "rows": out.num_rows,
        "distinct_persons": pc.count_distinct(ids).as_py(),
        "expected_persons": len(expected),
        "missing_persons": pc.sum(pc.invert(pc.is_in(expected, ids))).as_py() or 0,
        "unexpected_persons": pc.sum(pc.invert(pc.is_in(ids, expected))).as_py() or 0,
        "grades": {
            str(r["values"]): r["counts"]
            for r in sorted(pc.value_counts(out.column("grade")).to_pylist(), key=str)
        },
        "total_null": total.null_count,
    }
    if total.null_count < len(total):
        q = pc.quantile(total, q=[0.0, 0.1, 0.5, 0.9, 1.0]).to_pylist()
        summary["total_centi_min_p10_p50_p90_max"] = [round(x) for x in q]
    pts = out.column("points")
    summary["points_min_mean_max"] = [
        pc.min(pts).as_py(),
        round(pc.mean(pts).as_py() or 0, 1),
        pc.max(pts).as_py(),
    ]
    scored, impossible = {}, {}
    for ind in policy.indicators:
        name = f"st_{ind.id}"
        if name in out.column_names:
            col = out.column(name)
            is_scored = pc.equal(col, "scored" if pa.types.is_string(col.type) else 0)
            scored[ind.id] = round(pc.mean(pc.cast(is_scored, pa.int8())).as_py(), 4)
            # A scored value num/den with den ≤ 0 or num < 0 cannot come out of §1.5.
            bad = pc.and_(
                is_scored,
                pc.or_(pc.less_equal(out[f"den_{ind.id}"], 0), pc.less(out[f"num_{ind.id}"], 0)),
            )
            if n_bad := pc.sum(pc.cast(bad, pa.int64())).as_py():
                impossible[ind.id] = n_bad
    if scored:
        summary["scored_share_by_indicator"] = scored
        summary["indicators_never_scored"] = [k for k, v in scored.items() if v == 0]
        summary["scored_with_den_le_0_or_num_lt_0"] = impossible
    return summary


def agreement(engine_out: pa.Table, ref_results: pa.Table) -> dict[str, Any]:
    """Person by person: does the engine give the reference evaluator's total, grade, points?"""
    keys = ["person_id", "total_centi", "grade", "points"]
    e = engine_out.select(keys).rename_columns(["person_id", "e_total", "e_grade", "e_points"])
    r = ref_results.select(keys)
    joined = r.join(e, "person_id", join_type="full outer")
    out: dict[str, Any] = {"reference_rows": r.num_rows, "engine_rows": e.num_rows}
    in_both = pc.and_(
        pc.is_in(joined["person_id"], r["person_id"]), pc.is_in(joined["person_id"], e["person_id"])
    )
    out["only_in_reference"] = r.num_rows - pc.sum(pc.cast(in_both, pa.int64())).as_py()
    out["only_in_engine"] = e.num_rows - pc.sum(pc.cast(in_both, pa.int64())).as_py()
    both = joined.filter(in_both)
    bad_any = pa.array([False] * both.num_rows)
    for col, ecol in (("total_centi", "e_total"), ("grade", "e_grade"), ("points", "e_points")):
        same = pc.or_kleene(
            pc.equal(both[col], both[ecol]),
            pc.and_(pc.is_null(both[col]), pc.is_null(both[ecol])),
        )
        differ = pc.invert(pc.fill_null(same, False))
        out[f"{col}_differ"] = pc.sum(pc.cast(differ, pa.int64())).as_py() or 0
        bad_any = pc.or_(bad_any, differ)
    examples = both.filter(bad_any).sort_by("person_id").slice(0, 5).to_pylist()
    out["persons_differ"] = pc.sum(pc.cast(bad_any, pa.int64())).as_py() or 0
    out["examples"] = examples
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--reference-persons", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cut", type=dt.date.fromisoformat, default=dt.date(2026, 6, 30))
    parser.add_argument("--repeat", type=int, default=1, help="engine runs (the best counts)")
    args = parser.parse_args()

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    exe, script = (os.path.relpath(p) for p in (sys.executable, sys.argv[0]))
    result: dict[str, Any] = {
        "command": shlex.join([exe, script, *sys.argv[1:]]),
        "machine": _machine(cores),
    }
    loaded = load_policy()
    policy, cut = loaded.policy, args.cut
    attributes = policy.attributes()
    result.update(policy=loaded.label, cut=cut.isoformat(), seed=args.seed)

    # -- the province frame ---------------------------------------------------------------
    start = time.perf_counter()
    frame = make_frame(args.persons, args.seed, cut, attributes)
    gen_seconds = time.perf_counter() - start
    children = frame.children
    result["frame"] = {
        "persons": frame.persons.num_rows,
        "facts": frame.facts.num_rows,
        "facts_per_person": round(frame.facts.num_rows / max(1, frame.persons.num_rows), 2),
        "children_rows": children.num_rows,
        "children": pc.count_distinct(children.column("child_id")).as_py(),
        "parents": pc.count_distinct(children.column("parent_id")).as_py(),
        "arrow_mib": round((frame.persons.nbytes + frame.facts.nbytes + children.nbytes) / MIB, 1),
        "generate_seconds": round(gen_seconds, 2),
    }

    # -- ceiling, engine, ceiling ---------------------------------------------------------
    bare_before, bare_rows, bare_type = bare_aggregate(frame, cut, cores)
    ind_before, _ = indicator_aggregate(policy, frame, cut, cores)
    gc.collect()
    runs, out, step_seconds = [], None, {}
    rss_before = _rss_mib()
    reset = _reset_peak()
    for _ in range(args.repeat):
        out = None
        gc.collect()
        seconds, out, steps = run_engine(policy, frame, cut, cores)
        if not runs or seconds < min(runs):
            step_seconds = steps
        runs.append(seconds)
    peak = _peak_mib()
    assert out is not None
    bare_after, _, _ = bare_aggregate(frame, cut, cores)
    ind_after, _ = indicator_aggregate(policy, frame, cut, cores)
    ind_bare = min(ind_before, ind_after)
    bare = min(bare_before, bare_after)
    best = min(runs)
    persons = frame.persons.num_rows
    function = "evaluate_wide" if hasattr(engine_module, "evaluate_wide") else "evaluate_frame"
    result["bare_aggregate"] = {
        "before_seconds": round(bare_before, 3),
        "after_seconds": round(bare_after, 3),
        "baseline_seconds": round(bare, 3),
        "rows": bare_rows,
        "score_type": bare_type,
        "sql": bare_sql(cut),
    }
    result["bare_indicator_aggregate"] = {
        "before_seconds": round(ind_before, 3),
        "after_seconds": round(ind_after, 3),
        "baseline_seconds": round(ind_bare, 3),
        "sql": indicator_sql(policy, cut),
    }
    result["engine"] = {
        "function": f"fpcredit.evaluate.engine.{function}",
        "seconds": round(best, 3),
        "runs_seconds": [round(s, 3) for s in runs],
        "persons_per_s": round(persons / best),
        "facts_per_s": round(frame.facts.num_rows / best),
        "rss_before_mib": round(rss_before),
        "peak_rss_mib": round(peak),
        "peak_rss_delta_mib": round(peak - rss_before),
        "peak_reset_before_run": reset,
        "steps_seconds": step_seconds,
        "output": inspect_output(policy, out, expected_ids(policy, frame, cut)),
    }
    del frame, out
    gc.collect()

    # -- the reference evaluator, and the engine on the same frame --------------------------
    small = make_frame(args.reference_persons, args.seed, cut, attributes)
    start = time.perf_counter()
    ref = reference.evaluate(policy, small, cut)
    ref_seconds = time.perf_counter() - start
    same_seconds, same_out, _ = run_engine(policy, small, cut, cores)
    ref_rate = small.persons.num_rows / ref_seconds
    result["reference"] = {
        "function": "fpcredit.evaluate.reference.evaluate",
        "persons": small.persons.num_rows,
        "facts": small.facts.num_rows,
        "seconds": round(ref_seconds, 2),
        "persons_per_s": round(ref_rate),
        "rows": ref.results.num_rows,
        "engine_on_this_frame_seconds": round(same_seconds, 3),
        "engine_vs_reference": agreement(same_out, ref.results),
    }

    # -- ratios and targets --------------------------------------------------------------
    vs_one_case = best / bare
    vs_bare = best / ind_bare
    speedup = (persons / best) / ref_rate
    result["ratios"] = {
        "engine_vs_bare": round(vs_bare, 2),
        "engine_vs_one_case_aggregate": round(vs_one_case, 2),
        "engine_speedup_vs_reference": round(speedup, 1),
        "engine_speedup_vs_reference_same_frame": round(ref_seconds / same_seconds, 1),
    }
    result["targets"] = {
        "engine_vs_bare_at_most": TARGET_VS_BARE,
        "engine_vs_bare_met": vs_bare <= TARGET_VS_BARE,
        "engine_speedup_vs_reference_at_least": TARGET_VS_REFERENCE,
        "engine_speedup_vs_reference_met": speedup >= TARGET_VS_REFERENCE,
    }
    print(json.dumps(result, indent=2, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
