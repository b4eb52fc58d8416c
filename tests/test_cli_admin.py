"""Administration at the server's command line (break-glass), as real `fpcredit` processes:
every action is on the trail as the OS user; policies are activated only when valid."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import fpcredit
from fpcredit.cli import app
from fpcredit.config import Settings
from fpcredit.evaluate.active import active_policy
from fpcredit.evaluate.policy import default_policy_path
from fpcredit.guard.auth.operator import operator_actor
from fpcredit.guard.trail.verify import verify
from fpcredit.service import initialise
from fpcredit.store import schema as s
from fpcredit.store.db import open_store

SRC = str(Path(fpcredit.__file__).resolve().parents[1])  # this checkout's code, in children too


def _run(home: Path, *args: str, lang: str = "en") -> subprocess.CompletedProcess[str]:
    env = {"FPCREDIT_HOME": str(home), "PATH": "/usr/bin:/bin", "FPCREDIT_LANGUAGE": lang,
           "PYTHONPATH": SRC}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "fpcredit", *args],
        capture_output=True, text=True, env=env, check=False, timeout=300,
    )  # fmt: skip


def _trail(home: Path) -> list[tuple[str, str, str]]:
    store = open_store(Settings(home=home))
    e = s.ledger_entries
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(
                sa.select(e.c.actor, e.c.action, e.c.outcome)
                .where(e.c.table_name.is_(None))
                .order_by(e.c.idx)
            ).all()
    finally:
        store.engine.dispose()
    return [tuple(r) for r in rows]  # type: ignore[misc]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    initialise(Settings(home=tmp_path / "home"))
    return tmp_path / "home"


@pytest.mark.slow
def test_every_administrative_command_is_on_the_trail(home: Path, tmp_path: Path) -> None:
    def ok(*args: str) -> str:
        done = _run(home, *args)
        assert done.returncode == 0, (args, done.stderr)
        return done.stdout

    ok("users", "add", "--role", "sysadmin", "--region", "000000", "--username", "xitong.li")
    ok("users", "add", "--role", "county", "--region", "330106", "--username", "wang.fang")
    ok("users", "reset", "wang.fang")
    ok("users", "disable", "wang.fang")
    ok("users", "enable", "wang.fang")
    client = json.loads(ok("users", "client", "health", "--json"))["client_id"]
    ok("users", "client-purposes", client, "--purpose", "data_quality")
    ok("users", "client-disable", client)
    ok("keys", "rotate", "--json")
    newer = tmp_path / "newer.yaml"
    text = default_policy_path().read_bytes()
    newer.write_bytes(text.replace(b"version: 1.1.0", b"version: 1.2.0", 1))
    ok("policy", "activate", str(newer), "--reason", "annual review")
    me = operator_actor()
    assert _trail(home) == [
        (me, "user_add", "ok"), (me, "user_add", "ok"), (me, "user_reset", "ok"),
        (me, "user_disable", "ok"), (me, "user_enable", "ok"), (me, "client_add", "ok"),
        (me, "client_purposes", "ok"), (me, "client_disable", "ok"),
        (me, "key_rotate", "started"), (me, "key_rotate", "ok"), (me, "policy_activate", "ok"),
    ]  # fmt: skip
    listed = json.loads(ok("policy", "list", "--json"))["policies"]
    assert [(p["version"], p["activated_by"], p["reason"]) for p in listed] == [
        ("1.2.0", me, "annual review")
    ]
    settings = Settings(home=home)
    store = open_store(settings)
    try:
        assert active_policy(store).policy.version == "1.2.0"
        assert verify(store, settings)["ok"]
    finally:
        store.engine.dispose()


def test_a_policy_is_activated_only_when_it_is_valid(home: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: Bad Id\nversion: one\n", encoding="utf-8")
    env = {"FPCREDIT_HOME": str(home), "FPCREDIT_LANGUAGE": "en"}
    runner = CliRunner()
    done = runner.invoke(app, ["policy", "activate", str(broken), "--reason", "x"], env=env)
    assert done.exit_code == 1 and f"{broken}:" in done.output and "Traceback" not in done.output
    checked = runner.invoke(app, ["policy", "check", str(broken)], env=env)
    assert checked.exit_code == 1
    assert done.output.strip() == checked.output.strip()  # `policy check`'s errors, exactly
    none = runner.invoke(app, ["policy", "list"], env=env)
    assert none.exit_code == 0 and "packaged default" in none.output
    no_reason = runner.invoke(
        app, ["policy", "activate", str(default_policy_path()), "--reason", " "], env=env
    )
    assert no_reason.exit_code == 1 and "--reason" in no_reason.output
    assert [o for _a, action, o in _trail(home) if action == "policy_activate"] == [
        "invalid",
        "invalid",
    ]


def test_a_read_without_a_purpose_is_refused_and_logged(home: Path) -> None:
    runner = CliRunner()
    for lang, says in (("zh", "须用 --purpose 说明用途"), ("en", "needs --purpose")):
        env = {"FPCREDIT_HOME": str(home), "FPCREDIT_LANGUAGE": lang}
        done = runner.invoke(app, ["explain", "1", "--as-of", "2026-06-30"], env=env)
        assert done.exit_code == 1 and says in done.output, done.output
        assert done.output.strip().count("\n") == 0
    assert _trail(home) == [(operator_actor(), "explain", "refused_purpose")] * 2
