"""The security commands as an operator uses them: users, outbox, keys, audit."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fpcredit.cli import app
from fpcredit.config import Settings
from fpcredit.guard.auth.identity import Authenticator
from fpcredit.service import initialise
from fpcredit.store.db import open_store

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    initialise(Settings(home=tmp_path / "home"))
    return tmp_path / "home"


def _cli(home: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"FPCREDIT_HOME": str(home)})
    return result.exit_code, result.output


def test_commands_on_an_uninitialised_home_say_to_run_init(tmp_path: Path) -> None:
    for command in (["audit", "verify"], ["users", "list"], ["outbox", "list"]):
        code, out = _cli(tmp_path / "nothing", *command)
        assert code == 1 and "fpcredit init" in out, out


def test_users_add_prints_its_secrets_once_and_list_shows_none(home: Path) -> None:
    code, out = _cli(home, "users", "add", "--role", "county", "--region", "330106",
                     "--username", "wangfang", "--json")  # fmt: skip
    assert code == 0, out
    made = json.loads(out)
    assert made["must_change_password"] is True and len(made["totp_secret"]) >= 16
    code, listed = _cli(home, "users", "list", "--json")
    assert code == 0 and made["totp_secret"] not in listed and made["password"] not in listed
    assert json.loads(listed)["users"][0]["username"] == "wangfang"
    code, again = _cli(home, "users", "add", "--role", "county", "--region", "330106",
                       "--username", "wangfang")  # fmt: skip
    assert code == 1 and "Traceback" not in again


def test_a_department_client_and_the_outbox(home: Path) -> None:
    code, out = _cli(home, "users", "client", "health", "--json")
    assert code == 0, out
    client = json.loads(out)
    settings = Settings(home=home)
    token = Authenticator(open_store(settings), settings).login_client(
        client["client_id"], client["client_secret"]
    )
    assert token.principal.role.value == "department"
    code, out = _cli(home, "outbox", "list", "--json", "--purpose", "service_delivery")
    assert code == 0 and json.loads(out) == []


def test_keys_rotate_retires_the_old_key(home: Path) -> None:
    _cli(home, "users", "add", "--role", "auditor", "--region", "000000", "--username", "shenji")
    code, out = _cli(home, "keys", "rotate", "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["tables"]["users"] == 1 and len(report["retired"]) == 1
    ring = json.loads((home / "keys" / "data-keys.json").read_text())
    assert list(ring["keys"]) == [report["key_id"]]


def test_audit_verify_passes_then_names_the_first_bad_entry(home: Path) -> None:
    settings = Settings(home=home)
    from fpcredit.guard.trail.log import Trail

    trail = Trail(open_store(settings), settings)
    for i in range(5):
        trail.append("county:wangfang", "person_read", outcome="allowed", subject=str(i))
    trail.checkpoint()
    code, out = _cli(home, "audit", "verify", "--json")
    assert code == 0 and json.loads(out)["ok"] is True and json.loads(out)["entries"] == 5
    with sqlite3.connect(home / "fpcredit.db") as db:
        db.execute("UPDATE ledger_entries SET action = 'person_search' WHERE idx = 3")
    code, out = _cli(home, "audit", "verify", "--json")
    report = json.loads(out)
    assert code == 1 and report["ok"] is False and report["first_bad"] == 3
