"""`fpcredit cases`: due dates on the calendar; overdue alerts raised once from the command line."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fpcredit.cases.service import Cases
from fpcredit.cli import app
from fpcredit.config import Settings
from fpcredit.evaluate.policy import load_policy
from fpcredit.guard.trail.log import Trail
from fpcredit.service import initialise, open_ready_store
from fpcredit.store import schema as s

runner = CliRunner()


def test_due_counts_working_days_on_the_calendar() -> None:
    result = runner.invoke(app, ["cases", "due", "2026-09-28", "20", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["due_on"] == "2026-10-30"
    outside = runner.invoke(app, ["cases", "due", "2028-12-20", "20"])
    assert outside.exit_code == 1 and "holidays.yaml" in outside.output


def test_overdue_alerts_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("FPCREDIT_HOME", str(home))
    settings = Settings(home=home)
    initialise(settings)
    store = open_ready_store(settings)
    with store.engine.begin() as conn:
        conn.execute(
            s.persons.insert().values(
                id=1, hukou_region="330106", created_at=dt.datetime(2026, 1, 1)
            )
        )
    policy = load_policy().policy
    cases = Cases(Trail(store, settings), lambda: policy, clock=lambda: dt.datetime(2026, 9, 28, 2))
    case = cases.review(1, "请复核", {}, "citizen:1")
    assert case.due_on == dt.date(2026, 10, 23)
    store.engine.dispose()
    first = runner.invoke(app, ["cases", "overdue", "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.output) == {"alerted": 1}  # the real clock is past the due date
    again = runner.invoke(app, ["cases", "overdue", "--json"])
    assert json.loads(again.output) == {"alerted": 0}
