"""Audited credit lookups against a bare FastAPI endpoint on the same server stack, and their
latency at a constant offered rate.

    .venv/bin/python benchmarks/api_rate.py --people 2000 --seconds 15 --rounds 5

Builds (or reuses with `--home`) an evaluated synthetic province, starts `fpcredit serve` on a
free loopback port in its own process, and beside it the bare app of `bare_app.py` (one async
FastAPI endpoint) under the same uvicorn, loop (uvloop) and parser (httptools). A national
clerk logs in (password + TOTP, as a user would). Then, in one run:

1. **Throughput** (`wrk -t2 -c64`, closed loop), in `--rounds` rounds after a warm-up, each
   round running the bare endpoint, the app's own `GET /v1/ping` and the audited lookup
   `GET /v1/persons/{id}/credit?purpose=credit_evaluation` (bearer token, session, role,
   purpose, region, one trail entry committed before the answer, the result) over random
   evaluated persons. A round's figure is lookups/s ÷ bare requests/s; the median round is the
   result. Target: ≥ 0.5.
2. **Latency at 200 requests/s** (open loop, `loadgen.py`: each request is due at a fixed time
   and its latency counts from then, so stalls are not hidden), `--latency-seconds` of audited
   lookups. Target: p99 ≤ 20 ms.

Prints one JSON object. The figures are never asserted by tests; the machine is shared, so
only ratios measured in the same run mean anything.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from loadgen import Request, run_open_loop
from served import build_home, national_token, person_ids, serve, serve_bare

_LUA = """
local ids = {%s}
local token = "%s"
request = function()
  local id = ids[math.random(#ids)]
  return wrk.format("GET", "/v1/persons/" .. id .. "/credit?purpose=credit_evaluation",
                    {["Authorization"] = "Bearer " .. token})
end
"""


def _wrk(url: str, seconds: int, connections: int, script: Path | None) -> dict[str, Any]:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    if script:
        cmd += ["-s", str(script)]
    done = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", done).group(1))  # type: ignore[union-attr]
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", done, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", done)
    errors = re.search(r"Socket errors: (.*)", done)
    return {
        "requests_per_s": rate,
        "p50_ms": _ms(lat.get("50", "0ms")),
        "p99_ms": _ms(lat.get("99", "0ms")),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(1) if errors else None,
    }


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def _throughput(
    bare: str, base: str, script: Path, seconds: int, connections: int, rounds: int
) -> list[dict[str, Any]]:
    _wrk(base, 3, connections, script)  # warm-up: results, regions and the token loaded once
    _wrk(f"{bare}/ping", 3, connections, None)
    out = []
    for _ in range(rounds):
        bare_run = _wrk(f"{bare}/ping", seconds, connections, None)
        ping = _wrk(f"{base}/v1/ping", seconds, connections, None)
        lookup = _wrk(base, seconds, connections, script)
        ratio = lookup["requests_per_s"] / bare_run["requests_per_s"]
        out.append(
            {"bare": bare_run, "ping": ping, "lookup": lookup, "lookup_vs_bare": round(ratio, 3)}
        )
    return out


def _latency(port: int, token: str, ids: list[int], rate: float, seconds: float) -> Any:
    rng = random.Random(7)
    auth = (("Authorization", f"Bearer {token}"),)

    def lookup(_i: int) -> Request:
        pid = rng.choice(ids)
        path = f"/v1/persons/{pid}/credit?purpose=credit_evaluation"
        return Request("lookup", "GET", path, auth)

    result = asyncio.run(run_open_loop("127.0.0.1", port, rate, seconds, lookup))
    return result.summary(lambda _kind, status: status == 200)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--home", type=Path, help="reuse an evaluated home")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rate", type=float, default=200.0, help="open-loop requests/s")
    parser.add_argument("--latency-seconds", type=float, default=60.0)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    tmp = Path(tempfile.mkdtemp(prefix="fpcredit-api-"))
    home = args.home or tmp / "home"
    if not args.home:
        build_home(home, args.people)
    load = round(os.getloadavg()[0], 2)
    server, bare = serve(home), serve_bare()
    try:
        token = national_token(home, server.base)
        ids = person_ids(home)
        script = tmp / "lookup.lua"
        script.write_text(_LUA % (",".join(map(str, ids)), token))
        rounds = _throughput(
            bare.base, server.base, script, args.seconds, args.connections, args.rounds
        )
        latency = _latency(server.port, token, ids, args.rate, args.latency_seconds)
    finally:
        server.stop()
        bare.stop()
    middle = sorted(rounds, key=lambda r: r["lookup_vs_bare"])[len(rounds) // 2]
    report = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "cores": os.cpu_count(),
        "load_average_at_start": load,
        "connections": args.connections,
        "seconds": args.seconds,
        "persons_looked_up": len(ids),
        "rounds": rounds,
        "median_round": middle,
        "lookup_vs_bare": middle["lookup_vs_bare"],
        "lookup_vs_bare_all_rounds": [r["lookup_vs_bare"] for r in rounds],
        "lookup_vs_ping_median": statistics.median(
            r["lookup"]["requests_per_s"] / r["ping"]["requests_per_s"] for r in rounds
        ),
        "latency_at_offered_rate": {"rate": args.rate, **latency},
        "targets": {"lookup_vs_bare": 0.5, "lookup_p99_ms_at_200_per_s": 20},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
