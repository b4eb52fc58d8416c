"""Page latency of the portal and the console on an evaluated province (issue 17: p95 ≤ 300 ms
per page at 100,000 persons).

    .venv/bin/python benchmarks/pages.py --home H          # a home made by `fpcredit demo`
    .venv/bin/python benchmarks/pages.py --people 100000   # build one first (synth → demo)

`fpcredit serve` in its own process on the home, rate limits off. Citizens log in through the
portal's own form (the SMS code read from the development outbox), staff through the console's
(password and TOTP), as a browser would: cookies, CSRF tokens, redirects. Then each page is
asked `--samples` times, one request at a time, round-robin over the pages so that a noisy
moment touches them all alike: the citizens' pages for `--citizens` citizens, a clerk's file
and explanation pages for persons drawn at random from the whole province (each person's first
explanation: nothing of theirs was cached), the queues, the dashboards and the trail. Beside
them, in the same rounds, `GET /v1/ping` — the service's cheapest answer — is the baseline the
figures are read against. Prints one JSON object: per page p50 / p95 / p99 in ms, the ratio of
its p95 to the ping's, errors (any status but the page's own).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from served import LIMITS_OFF, serve

from fpcredit.config import Settings
from fpcredit.guard.auth.passwords import totp_code
from fpcredit.guard.keys.crypto import load_vault
from fpcredit.notify.sms import list_outbox
from fpcredit.service import DemoAccounts, open_ready_store

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
NEW_PASSWORD = "Bench-pages-2026"


def _csrf(client: httpx.Client, path: str) -> str:
    page = client.get(path)
    found = CSRF.search(page.text)
    assert found, f"{path}: no form ({page.status_code})"
    return found.group(1)


def _outbox_code(home: Path, phone: str, after: int) -> tuple[str, int]:
    deadline = time.monotonic() + 20
    while True:
        settings = Settings(home=home)
        store = open_ready_store(settings)
        try:
            rows = list_outbox(store, load_vault(settings.keys_dir))
        finally:
            store.engine.dispose()
        mine = [m for m in rows if m["recipient"] == phone and m["id"] > after]
        code = re.search(r"\d{6}", mine[-1]["text"]) if mine else None
        if code:
            return code.group(), max(int(m["id"]) for m in rows)
        if time.monotonic() > deadline:
            raise SystemExit(f"no login code for {phone}")
        time.sleep(0.2)


def citizen(base: str, home: Path, number: str, phone: str, after: int) -> tuple[httpx.Client, int]:
    client = httpx.Client(base_url=base, timeout=120)
    token = _csrf(client, "/portal/login")
    client.post("/portal/login", data={"csrf": token, "id_number": number})
    code, last = _outbox_code(home, phone, after)
    done = client.post("/portal/login", data={"csrf": token, "id_number": number, "code": code})
    assert done.status_code == 303, done.text[:300]
    return client, last


def staff(base: str, username: str, password: str, secret: str, purpose: str) -> httpx.Client:
    """Logged in with the one-time password (set to NEW_PASSWORD), or with NEW_PASSWORD when an
    earlier run on the home set it."""
    client = httpx.Client(base_url=base, timeout=120)
    for attempt in ({"password": password, "new_password": NEW_PASSWORD},
                    {"password": NEW_PASSWORD}):  # fmt: skip
        time.sleep(30 - time.time() % 30 + 0.5)  # a TOTP code is good once: a step of its own
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        form = {"csrf": _csrf(client, "/console/login"), "username": username,
                "totp": totp_code(secret, now), **attempt}  # fmt: skip
        done = client.post("/console/login", data=form)
        if done.status_code == 303:
            break
    else:
        raise SystemExit(f"{username} could not log in: {done.text[:300]}")
    form = {"csrf": _csrf(client, "/console/purpose"), "purpose": purpose, "next": "/console/"}
    chosen = client.post("/console/purpose", data=form)
    assert chosen.status_code == 303
    return client


def _persons(home: Path, count: int, seed: int) -> list[int]:
    import pyarrow.parquet as pq

    files = sorted((home / "evaluations").glob("*.parquet"))
    rows = pq.read_table(files[-1], columns=["person_id", "grade"]).to_pylist()
    graded = [int(r["person_id"]) for r in rows if r["grade"]]
    return random.Random(seed).sample(graded, min(count, len(graded)))


def measure(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    accounts = DemoAccounts.from_json((home / "demo" / "accounts.json").read_text("utf-8"))
    server = serve(home, {**LIMITS_OFF, "FPCREDIT_OTP_RESEND_S": "0"})
    try:
        base = server.base
        after = 0
        citizens = []
        for c in accounts.citizens[: args.citizens]:
            client, after = citizen(base, home, c.id_number, c.phone, after)
            citizens.append(client)
        clerk = accounts.user("province")
        analyst = staff(base, clerk.username, clerk.password, clerk.totp_secret, "supervision")
        quality = staff(base, clerk.username, clerk.password, clerk.totp_secret, "data_quality")
        # The province's clerk: a county's queue may hold no doubtful pair.
        linker = staff(base, clerk.username, clerk.password, clerk.totp_secret, "record_linkage")
        queue = linker.get("/console/reviews").text
        reviews = sorted(set(re.findall(r'href="/console/reviews/(\d+)"', queue))) or ["1"]
        pairs = iter(reviews * (args.samples + 2))
        search_csrf = _csrf(analyst, "/console/persons")
        auditor_account = accounts.user("auditor")
        auditor = staff(base, auditor_account.username, auditor_account.password,
                        auditor_account.totp_secret, "audit")  # fmt: skip
        persons = iter(_persons(home, args.samples * 2 + 2, args.seed))
        plain = httpx.Client(base_url=base, timeout=120)
        portal = ["/portal/", "/portal/explanation", "/portal/incentives", "/portal/points",
                  "/portal/cases", "/portal/file", "/portal/notifications",
                  "/portal/access-log", "/portal/feedback"]  # fmt: skip
        pages: dict[str, Any] = {"GET /v1/ping (baseline)": (plain, lambda: "/v1/ping")}
        pages["GET / (front door)"] = (plain, lambda: "/")
        for path in portal:
            pages[f"GET {path}"] = ("citizen", lambda p=path: p)
        pages["GET /console/"] = (analyst, lambda: "/console/")
        pages["GET /console/persons/{id}"] = (analyst, lambda: f"/console/persons/{next(persons)}")
        pages["GET /console/persons/{id}/explanation"] = (
            analyst, lambda: f"/console/persons/{next(persons)}/explanation")  # fmt: skip
        pages["GET /console/cases"] = (analyst, lambda: "/console/cases")
        pages["GET /console/reviews"] = (linker, lambda: "/console/reviews")
        pages["GET /console/reviews/{id}"] = (linker, lambda: f"/console/reviews/{next(pairs)}")
        pages["POST /console/persons (search)"] = (analyst, lambda: "/console/persons")
        for board in ("grades", "quality", "monitoring"):
            pages[f"GET /console/dashboards/{board}"] = (
                quality if board == "quality" else analyst,
                lambda b=board: f"/console/dashboards/{b}",
            )
        pages["GET /console/trail"] = (auditor, lambda: "/console/trail")
        search = {"csrf": search_csrf, "by": "id_number", "value": accounts.citizens[0].id_number}

        def ask(client: httpx.Client, name: str, url: str) -> httpx.Response:
            if name.startswith("POST"):
                return client.post(url, data=search)
            return client.get(url)

        if args.pages:
            wanted = re.compile(args.pages)
            pages = {k: v for k, v in pages.items() if "baseline" in k or wanted.search(k)}
        # Warm-up: one round (the first page of each kind starts what the service caches).
        for name, (who, path) in pages.items():
            ask(random.choice(citizens) if who == "citizen" else who, name, path())
        time.sleep(args.settle)
        times: dict[str, list[float]] = {name: [] for name in pages}
        errors: dict[str, int] = {name: 0 for name in pages}
        turn = 0
        for _ in range(args.samples):
            for name, (who, path) in pages.items():
                client = citizens[turn % len(citizens)] if who == "citizen" else who
                turn += 1
                url = path()
                start = time.perf_counter()
                answer = ask(client, name, url)
                times[name].append((time.perf_counter() - start) * 1000)
                if answer.status_code != 200:
                    errors[name] += 1
        ping = _q(times["GET /v1/ping (baseline)"], 0.95)
        return {
            "people": args.people,
            "samples": args.samples,
            "citizens": len(citizens),
            "pages": {
                name: {
                    "p50_ms": round(statistics.median(ts), 1),
                    "p95_ms": round(_q(ts, 0.95), 1),
                    "p99_ms": round(_q(ts, 0.99), 1),
                    "p95_over_ping_p95": round(_q(ts, 0.95) / ping, 1) if ping else None,
                    "errors": errors[name],
                }
                for name, ts in times.items()
            },
            "worst_p95_ms": round(max(_q(ts, 0.95) for n, ts in times.items()), 1),
        }
    finally:
        server.stop()


def _q(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, help="an existing demo home (fpcredit demo)")
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=100, help="requests per page")
    parser.add_argument("--citizens", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pages", help="only the pages whose name matches this expression")
    parser.add_argument("--settle", type=float, default=60.0,
                        help="seconds to wait after the warm-up round")  # fmt: skip
    args = parser.parse_args()
    if args.home is None:
        folder = Path(tempfile.mkdtemp(prefix="fpcredit-pages-"))
        args.home = folder / "home"
        from fpcredit.service import load_province, seed_demo_accounts
        from fpcredit.synth import generate

        generate(people=args.people, seed=1, out=folder / "feeds")
        settings = Settings(home=args.home)
        load_province(settings, folder / "feeds", dt.date.today())
        seed_demo_accounts(settings)
    json.dump(measure(args, args.home), sys.stdout, indent=2, ensure_ascii=False)
    print()


if __name__ == "__main__":
    main()
