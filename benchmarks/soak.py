"""A soak of the guarded service: a constant offered rate of mixed requests for minutes, then the
trail is verified.

    .venv/bin/python benchmarks/soak.py --people 2000 --rate 200 --seconds 600

`fpcredit serve` in its own process on an evaluated synthetic province (built, or `--home`).
The open-loop generator of `loadgen.py` offers `--rate` requests a second: audited credit
lookups (`GET /v1/persons/{id}/credit`), explanations (`GET /v1/persons/{id}/explanation`,
the heaviest read: the person's facts from the store, the policy compiled on DuckDB) and
department logins (`POST /v1/auth/token`, client credentials: an Argon2id verification each),
in the shares of `--mix` (by default 99.25 % lookups, 0.25 % explanations — one every two
seconds, about a fifth of a core in the service's explanation worker — and 0.5 % logins, an
Argon2id check of 64 MiB each). A national clerk's token is refreshed through the API before
it expires. The resident set size of the server, and of the server with its descendants (the
explanation workers and their fork server), is sampled every few seconds; growth is measured
between the medians of the first minute after the warm-up (`--warmup`) and of the last minute.
Afterwards `fpcredit audit verify` runs on the store. Prints one JSON object; targets: 0
errors, RSS growth < 10 %, trail verified.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from loadgen import Request, run_open_loop
from served import (
    FPCREDIT,
    build_home,
    department_client,
    national_token,
    person_ids,
    rss_kib,
    serve,
    tree_rss_kib,
)

_EXPECTED = {"lookup": {200}, "explanation": {200}, "login": {200}}


class _Token:
    """The clerk's bearer token, refreshed in the background before it expires."""

    def __init__(self, base: str, token: str, every_s: float = 120.0) -> None:
        self.base, self.value, self.every_s = base, token, every_s
        self.stop = threading.Event()
        self.failures: list[str] = []

    def run(self) -> None:
        while not self.stop.wait(self.every_s):
            try:
                r = httpx.post(
                    f"{self.base}/v1/auth/refresh",
                    headers={"Authorization": f"Bearer {self.value}"},
                    timeout=30,
                )
                r.raise_for_status()
                self.value = str(r.json()["access_token"])
            except httpx.HTTPError as e:
                self.failures.append(repr(e))


def _requests(ids: list[int], token: _Token, client: tuple[str, str], mix: dict[str, float]) -> Any:
    rng = random.Random(11)
    kinds, weights = list(mix), list(mix.values())
    login = json.dumps(
        {"grant_type": "client_credentials", "client_id": client[0], "client_secret": client[1]}
    ).encode()

    def build(_i: int) -> Request:
        kind = rng.choices(kinds, weights)[0]
        if kind == "login":
            headers = (("Content-Type", "application/json"),)
            return Request("login", "POST", "/v1/auth/token", headers, login)
        auth = (("Authorization", f"Bearer {token.value}"),)
        route = "credit" if kind == "lookup" else "explanation"
        path = f"/v1/persons/{rng.choice(ids)}/{route}?purpose=credit_evaluation"
        return Request(kind, "GET", path, auth)

    return build


def _sample_rss(
    pid: int, every_s: float, out: list[tuple[float, int, int]], stop: threading.Event
) -> None:
    """(seconds, the server's RSS, the RSS of the server with its workers) every `every_s`."""
    start = time.monotonic()
    while not stop.wait(every_s):
        try:
            out.append((round(time.monotonic() - start, 1), rss_kib(pid), tree_rss_kib(pid)))
        except (OSError, SystemExit):
            return


def _rss(samples: list[tuple[float, int, int]], warmup: float, column: int) -> dict[str, Any]:
    """Growth between the median of the first and of the last minute after the warm-up: one
    sample can fall on a passing allocation (+25 % for a few seconds)."""
    after = [row[column] for row in samples if row[0] >= warmup]
    first = [row[column] for row in samples if warmup <= row[0] < warmup + 60]
    last = [row[column] for row in samples if row[0] >= samples[-1][0] - 60] if samples else []
    growth = statistics.median(last) / statistics.median(first) - 1 if first and last else None
    return {
        "at_warmup_end": after[0] if after else None,
        "at_end": after[-1] if after else None,
        "max": max((row[column] for row in samples), default=None),
        "growth": None if growth is None else round(growth, 4),
        "growth_first_to_last_sample": (
            round(after[-1] / after[0] - 1, 4) if len(after) > 1 else None
        ),
        "samples": [(row[0], row[column]) for row in samples[:: max(1, len(samples) // 40)]],
    }


def _explained(base: str, token: _Token, ids: list[int], wanted: int = 100) -> list[int]:
    """Up to `wanted` persons whose explanation answers 200 (some evaluated persons have none
    at the date): each costs the server about half a second, so no more are tried."""
    good: list[int] = []
    with httpx.Client(base_url=base, timeout=60) as c:
        for pid in ids:
            r = c.get(
                f"/v1/persons/{pid}/explanation",
                params={"purpose": "credit_evaluation"},
                headers={"Authorization": f"Bearer {token.value}"},
            )
            if r.status_code == 200:
                good.append(pid)
                if len(good) == wanted:
                    break
    return good


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--home", type=Path)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--warmup", type=float, default=60.0)
    parser.add_argument("--mix", default="lookup=0.9925,explanation=0.0025,login=0.005")
    args = parser.parse_args()
    mix = {k: float(v) for k, v in (part.split("=") for part in args.mix.split(","))}
    home = args.home or Path(tempfile.mkdtemp(prefix="fpcredit-soak-")) / "home"
    if not args.home:
        build_home(home, args.people)
    server = serve(home)
    samples: list[tuple[float, int, int]] = []
    stop = threading.Event()
    try:
        token = _Token(server.base, national_token(home, server.base))
        # Refreshed from the start: finding persons to explain takes minutes of the token's
        # five.
        refresher = threading.Thread(target=token.run)
        refresher.start()
        ids = _explained(server.base, token, person_ids(home))
        client = department_client(home)
        sampler = threading.Thread(target=_sample_rss, args=(server.proc.pid, 5.0, samples, stop))
        sampler.start()
        build = _requests(ids, token, client, mix)
        started = time.monotonic()
        result = asyncio.run(
            run_open_loop("127.0.0.1", server.port, args.rate, args.seconds, build)
        )
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        token.stop.set()
        server.stop()
    env = {**os.environ, "FPCREDIT_HOME": str(home)}
    verified = subprocess.run(
        [FPCREDIT, "audit", "verify", "--json"], env=env, capture_output=True, text=True
    )
    summary = result.summary(lambda kind, status: status in _EXPECTED[kind])
    errors = int(summary["errors"]) + int(summary["all"]["unexpected"])  # type: ignore[index]
    report = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "home": str(home),
        "elapsed_s": round(elapsed, 1),
        "mix": mix,
        "requests": summary,
        "errors": errors,
        "token_refresh_failures": token.failures,
        "rss_kib": _rss(samples, args.warmup, 1),
        "rss_kib_with_workers": _rss(samples, args.warmup, 2),
        "trail_verify": json.loads(verified.stdout) if verified.stdout else verified.stderr,
        "targets": {"errors": 0, "rss_growth_below": 0.10, "trail_verified": True},
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
