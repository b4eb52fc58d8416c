"""Synthetic-province generation rate (people/s and feed rows/s).

    .venv/bin/python benchmarks/synth_rate.py --people 20000 100000

Prints one JSON object. Each size is timed in the same process, so the figures compare.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from fpcredit.synth import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    runs = []
    for people in args.people:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            summary = generate(people=people, seed=args.seed, out=Path(tmp))
            seconds = time.perf_counter() - start
        rows = sum(summary.rows.values())
        runs.append(
            {
                "people": people,
                "seconds": round(seconds, 2),
                "feed_rows": rows,
                "people_per_s": round(people / seconds),
                "rows_per_s": round(rows / seconds),
            }
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps({"runs": runs, "peak_rss_mib": peak}, indent=2))


if __name__ == "__main__":
    main()
