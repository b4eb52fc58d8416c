"""Authenticated, purposed, audited credit lookups per second beside the app's constant endpoint.

    .venv/bin/python benchmarks/api_rate.py --people 2000 --seconds 20 --connections 64

Builds (or reuses with `--home`) an evaluated synthetic province, starts `fpcredit serve` on a
free loopback port in its own process, logs a national clerk in (password + TOTP, as a user
would), then drives the server with `wrk` (Debian package `wrk`) at `--connections`:

- `constant`: `GET /v1/ping` — no token, no database: the same app's ceiling (the baseline);
- `lookup`: `GET /v1/persons/{id}/credit?purpose=credit_evaluation` with a bearer token over
  random evaluated persons: token check, session idle check, role/purpose/region gate, one
  trail entry appended durably, then the result lookup.

Both run against the same server after a 3-second warm-up of lookups (not counted: the first
ones load the results and the persons' regions), the baseline first, in `--rounds` rounds; each
round's ratio is lookups/s ÷ constant requests/s, and the median round is the figure (the
machine is shared: rounds differ by ±15 %). Prints one JSON object: requests/s and p50/p99
latency of each run.
Targets (issue 5): lookups ≥ 50 % of the constant endpoint, p99 ≤ 20 ms. Never asserted: the
figures are for reading.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq

from fpcredit.config import Settings
from fpcredit.guard import accounts
from fpcredit.guard.passwords import totp_code
from fpcredit.service import load_province
from fpcredit.store.db import open_store, utc_now
from fpcredit.synth import generate

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2026, 6, 30)
PASSWORD = "Bench-mark-2026"


def build_home(home: Path, people: int) -> None:
    feeds = home.parent / "feeds"
    generate(people=people, seed=5, out=feeds, until=AS_OF)
    load_province(Settings(home=home), feeds, AS_OF)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(home: Path, port: int) -> subprocess.Popen[bytes]:
    # wrk is one address and one token: neither limit may be what is measured.
    env = {
        **os.environ,
        "FPCREDIT_HOME": str(home),
        "FPCREDIT_RATE_LIMIT_PER_S": "0",
        "FPCREDIT_RATE_LIMIT_SUBJECT_PER_S": "0",
    }
    cmd = [str(ROOT / ".venv/bin/fpcredit"), "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start")


def _token(home: Path, port: int) -> str:
    settings = Settings(home=home)
    store = open_store(settings)
    name = f"bench{int(time.time())}"
    made = accounts.add_user(store, "national", "000000", name, settings=settings)
    store.engine.dispose()
    r = httpx.post(
        f"http://127.0.0.1:{port}/v1/auth/token",
        json={
            "grant_type": "password",
            "username": name,
            "password": made.password,
            "totp": totp_code(made.totp_secret, utc_now()),
            "new_password": PASSWORD,
        },
    )
    r.raise_for_status()
    return str(r.json()["access_token"])


def _person_ids(home: Path) -> list[int]:
    files = sorted((home / "evaluations").glob("*.parquet"))
    ids = pq.read_table(files[-1], columns=["person_id"]).column("person_id").to_pylist()
    return [int(i) for i in ids[:5000]]


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
    return {
        "requests_per_s": rate,
        "p50_ms": _ms(lat.get("50", "0ms")),
        "p99_ms": _ms(lat.get("99", "0ms")),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
    }


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--home", type=Path, help="reuse an evaluated home")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="constant, then lookups; repeated")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    tmp = Path(tempfile.mkdtemp(prefix="fpcredit-api-"))
    home = args.home or tmp / "home"
    if not args.home:
        build_home(home, args.people)
    load = round(os.getloadavg()[0], 2)
    port = _free_port()
    server = _serve(home, port)
    try:
        token = _token(home, port)
        ids = _person_ids(home)
        script = tmp / "lookup.lua"
        script.write_text(_LUA % (",".join(map(str, ids)), token))
        base = f"http://127.0.0.1:{port}"
        # Not counted: the first lookups load the evaluation's results and the persons' regions
        # into memory and verify the token once.
        _wrk(base, 3, args.connections, script)
        rounds = []
        for _ in range(args.rounds):
            constant = _wrk(f"{base}/v1/ping", args.seconds, args.connections, None)
            lookup = _wrk(base, args.seconds, args.connections, script)
            ratio = lookup["requests_per_s"] / constant["requests_per_s"]
            rounds.append({"constant": constant, "lookup": lookup, "ratio": round(ratio, 3)})
    finally:
        server.terminate()
        server.wait(10)
    middle = sorted(rounds, key=lambda r: r["ratio"])[len(rounds) // 2]
    print(
        json.dumps(
            {
                "command": " ".join([Path(sys.executable).name, *sys.argv]),
                "cores": os.cpu_count(),
                "load_average_at_start": load,
                "connections": args.connections,
                "seconds": args.seconds,
                "persons_looked_up": len(ids),
                "rounds": rounds,
                "median_round": middle,
                "lookup_vs_constant": middle["ratio"],
                "targets": {"lookup_vs_constant": 0.5, "lookup_p99_ms": 20},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
