"""Department verifications per second and their latency, beside the app's constant `/v1/ping`.

    .venv/bin/python benchmarks/verify_rate.py --people 1000 --seconds 10 --rounds 3

Builds (or reuses with `--home`) an evaluated synthetic province, starts `fpcredit serve` on a
free loopback port, registers the health commission's client for the incentives health provides
and logs it in (client credentials, as a department system does). Then, in one run:

1. **Saturation** (`wrk -t2 -c32`, closed loop), in `--rounds` rounds after a warm-up, each round
   running `GET /v1/ping` and `POST /v1/verifications` (a random evaluated person's ID number,
   `maternity_green_channel`, purpose `incentive_verification`: the blind-index lookup, the
   official grade, the department's token, one `verifications` row and its change entry on the
   trail, then the person's access entry). A round's figure is verifications/s ÷ ping/s; the
   median round is the result.
2. **Latency at a fixed offered rate** (`--rate`, default 200/s; the seed's load is 10⁶ a day,
   about 12/s), open loop (`loadgen.py`: each request's latency counts from when it was due),
   `--latency-seconds` of verifications, then as long of `/v1/ping` at the same rate.

Prints one JSON object. Never asserted by tests; only ratios measured in the same run mean
anything on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
from api_rate import _wrk
from loadgen import Request, run_open_loop
from served import build_home, person_ids, serve

from fpcredit.config import Settings
from fpcredit.evaluate.active import active_policy
from fpcredit.guard.access import Purpose
from fpcredit.guard.auth import clients
from fpcredit.guard.keys.crypto import load_vault
from fpcredit.incentives.catalogue import by_department, departments
from fpcredit.store import schema as s
from fpcredit.store.db import open_store

INCENTIVE = "maternity_green_channel"
PURPOSE = Purpose.INCENTIVE_VERIFICATION.value

_LUA = """
local numbers = {%s}
local token = "%s"
request = function()
  local n = numbers[math.random(#numbers)]
  local body = '{"id_number":"' .. n .. '","incentive":"%s","purpose":"%s"}'
  return wrk.format("POST", "/v1/verifications",
                    {["Authorization"] = "Bearer " .. token,
                     ["Content-Type"] = "application/json"}, body)
end
"""


def _department(home: Path, base: str) -> str:
    """Health's client, registered for health's incentives and logged in: its bearer token."""
    settings = Settings(home=home)
    store = open_store(settings)
    try:
        for client in clients.list_clients(store):
            if client.source == "health" and client.disabled_at is None:
                clients.disable_client(store, client.client_id)
        policy = active_policy(store)
        client_id, secret = clients.add_client(
            store,
            "health",
            [PURPOSE],
            incentives=[i.id for i in by_department(policy, "health")],
            catalogue=departments(policy),
            settings=settings,
        )
    finally:
        store.engine.dispose()
    body = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    r = httpx.post(f"{base}/v1/auth/token", json=body, timeout=30)
    r.raise_for_status()
    return str(r.json()["access_token"])


def _numbers(home: Path, ids: list[int]) -> list[str]:
    """The ID numbers of evaluated persons (decrypted here, never printed)."""
    settings = Settings(home=home)
    store, vault = open_store(settings), load_vault(settings.keys_dir)
    wanted = set(ids)
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(
                s.persons.select().with_only_columns(s.persons.c.id, s.persons.c.id_number_enc)
            ).all()
    finally:
        store.engine.dispose()
    found = [vault.decrypt(r.id_number_enc, "id_number") for r in rows if r.id in wanted]
    return [n for n in found if n]


def _rounds(base: str, script: Path, seconds: int, connections: int, rounds: int) -> Any:
    _wrk(f"{base}/v1/ping", 3, connections, None)  # warm-up
    _wrk(base, 3, connections, script)
    out = []
    for _ in range(rounds):
        ping = _wrk(f"{base}/v1/ping", seconds, connections, None)
        verify = _wrk(base, seconds, connections, script)
        ratio = verify["requests_per_s"] / ping["requests_per_s"]
        out.append({"ping": ping, "verify": verify, "verify_vs_ping": round(ratio, 4)})
    return out


def _latency(port: int, token: str, numbers: list[str], rate: float, seconds: float) -> Any:
    rng = random.Random(11)
    headers = (("Authorization", f"Bearer {token}"), ("Content-Type", "application/json"))

    def verify(_i: int) -> Request:
        body = {"id_number": rng.choice(numbers), "incentive": INCENTIVE, "purpose": PURPOSE}
        return Request("verify", "POST", "/v1/verifications", headers, json.dumps(body).encode())

    def ping(_i: int) -> Request:
        return Request("ping", "GET", "/v1/ping")

    ok = lambda _kind, status: status == 200  # noqa: E731
    verified = asyncio.run(run_open_loop("127.0.0.1", port, rate, seconds, verify)).summary(ok)
    pinged = asyncio.run(run_open_loop("127.0.0.1", port, rate, seconds, ping)).summary(ok)
    return {"verify": verified, "ping": pinged}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--home", type=Path, help="reuse an evaluated home")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=200.0, help="open-loop requests/s")
    parser.add_argument("--latency-seconds", type=float, default=30.0)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    tmp = Path(tempfile.mkdtemp(prefix="fpcredit-verify-"))
    home = args.home or tmp / "home"
    if not args.home:
        build_home(home, args.people)
    load = round(os.getloadavg()[0], 2)
    server = serve(home)
    script = tmp / "verify.lua"
    try:
        token = _department(home, server.base)
        numbers = _numbers(home, person_ids(home))
        quoted = ",".join(f'"{n}"' for n in numbers)
        script.write_text(_LUA % (quoted, token, INCENTIVE, PURPOSE))
        rounds = _rounds(server.base, script, args.seconds, args.connections, args.rounds)
        latency = _latency(server.port, token, numbers, args.rate, args.latency_seconds)
    finally:
        server.stop()
        script.unlink(missing_ok=True)  # the list of ID numbers goes with it
    middle = sorted(rounds, key=lambda r: r["verify_vs_ping"])[len(rounds) // 2]
    report = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "cores": os.cpu_count(),
        "load_average_at_start": load,
        "connections": args.connections,
        "seconds": args.seconds,
        "persons": len(numbers),
        "rounds": rounds,
        "median_round": middle,
        "verify_vs_ping": middle["verify_vs_ping"],
        "verify_vs_ping_all_rounds": [r["verify_vs_ping"] for r in rounds],
        "verify_per_s_median": statistics.median(r["verify"]["requests_per_s"] for r in rounds),
        "latency_at_offered_rate": {"rate": args.rate, **latency},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
