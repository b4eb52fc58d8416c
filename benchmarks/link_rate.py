"""Linkage of a whole province (一人一档): wall time, peak memory and quality.

    .venv/bin/python benchmarks/link_rate.py --people 1000000            # synthesise + ingest
    .venv/bin/python benchmarks/link_rate.py --home H --truth P/truth/records.csv  # reuse

Prints one JSON object. Each phase runs in a child process of its own so that its peak RSS is
its own. The baseline, measured in the same session right before, is the exact-ID join: read
every mention from the store and group by the blind index of a valid ID number — the least any
linkage must do, and what the departments' own systems do today.

Phases on the same store, in order: `first` (the first link: EM training, then every mention),
`relink` (`link --full` with the trained model, the figure a monthly full relink costs), and
`incremental` (nothing new arrived: the cost of a run that has nothing to do).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_CHILD = """
import json, resource, sys, time
from pathlib import Path
import polars as pl
from fpcredit.config import Settings
from fpcredit.guard.keys.crypto import load_vault
from fpcredit.link.config import load_config
from fpcredit.link.export import links_frame
from fpcredit.link.features import load_mentions
from fpcredit.link.index import link
from fpcredit.link.measure import measure
from fpcredit.store.db import open_store

phase, home, truth = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
settings = Settings(home=home)
store, vault = open_store(settings), load_vault(settings.keys_dir)
out = {}
start = time.perf_counter()
if phase == "baseline":
    men = load_mentions(store.engine.url)
    # Projected first: a filter copies every column it keeps.
    ids = men.select("id_bidx").filter(pl.col("id_bidx").is_not_null())
    groups = ids.group_by("id_bidx").len()
    out["mentions"], out["id_groups"] = men.height, groups.height
else:
    report = link(store, vault, load_config(), full=phase != "incremental", train=phase == "first")
    out["report"] = report.as_json()
out["seconds"] = round(time.perf_counter() - start, 2)
out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
if phase == "first" and truth:
    q = measure(links_frame(store), Path(truth))
    keep = ("precision", "recall", "f1", "records_right")
    out["quality"] = {
        scope: {k: round(q[scope][k], 5) for k in keep}
        for scope in ("overall", "without_valid_id")
    }
    out["quality"]["baseline_exact_id"] = {
        k: round(q["baseline_exact_id"]["overall"][k], 5) for k in keep
    }
print(json.dumps(out))
"""


def _run(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    done = subprocess.run(
        args, check=True, capture_output=True, text=True, encoding="utf-8", env=env
    )
    text = done.stdout.strip()
    if not text:
        return {}
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:  # a library printed before the JSON line
        parsed = json.loads(text.splitlines()[-1])
    return parsed if isinstance(parsed, dict) else {"output": parsed}


def _child(phase: str, home: Path, truth: str) -> dict[str, Any]:
    return _run(sys.executable, "-c", _CHILD, phase, str(home), truth)


def prepare(work: Path, people: int, seed: int) -> tuple[Path, Path, float]:
    """Synthesise the province and ingest every department's feed; return home, truth, and the
    ingestion seconds (for comparison: linking should cost less than loading)."""
    out, home = work / "province", work / "home"
    cli = str(Path(sys.executable).with_name("fpcredit"))
    env = {**os.environ, "FPCREDIT_HOME": str(home)}
    synth = _run(
        cli,
        "synth",
        "--people",
        str(people),
        "--seed",
        str(seed),
        "--out",
        str(out),
        "--json",
        env=env,
    )
    subprocess.run([cli, "init"], check=True, capture_output=True, env=env)
    start = time.perf_counter()
    for source, path in synth["paths"].items():
        if source not in ("persons", "records", "mentions"):
            _run(cli, "ingest", source, path, "--json", env=env)
    return home, out / "truth" / "records.csv", time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--home", type=Path, help="an ingested FPCREDIT_HOME to link (reused)")
    parser.add_argument("--truth", type=Path, help="its truth/records.csv")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result: dict[str, Any] = {}
        if args.home is None:
            home, truth, ingest_s = prepare(Path(tmp), args.people, args.seed)
            result.update(people=args.people, seed=args.seed, ingest_seconds=round(ingest_s, 1))
        else:
            home, truth = args.home, args.truth
        truth_arg = str(truth) if truth else ""
        base = _child("baseline", home, truth_arg)
        result["baseline_exact_id_join"] = base
        for phase in ("first", "relink", "incremental"):
            got = _child(phase, home, truth_arg)
            got["ratio_to_baseline"] = round(got["seconds"] / base["seconds"], 1)
            result[phase] = got
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
