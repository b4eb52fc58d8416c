"""`kill -9` during ingestion, then the same command again, ends as one clean run would."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.service import feed_path
from fpcredit.synth import generate

pytestmark = pytest.mark.slow
PEOPLE = int(os.environ.get("FPCREDIT_CRASH_PEOPLE", "200000"))
SOURCES = ("police",)  # one row per person: the "200k-person feed" of the acceptance


@pytest.fixture(scope="module")
def feeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("crash-feeds")
    generate(people=PEOPLE, seed=7, out=out)
    return out


def _cli(settings: Settings, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "FPCREDIT_HOME": str(settings.home)}
    if settings.database_url:
        env["FPCREDIT_DATABASE_URL"] = settings.database_url
    return subprocess.Popen(
        [sys.executable, "-m", "fpcredit", *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _status(settings: Settings) -> dict[str, object]:
    proc = _cli(settings, "status", "--json")
    stdout, _ = proc.communicate(timeout=120)
    return json.loads(stdout)  # type: ignore[no-any-return]


def _ingest(settings: Settings, feeds: Path) -> None:
    for source in SOURCES:
        proc = _cli(settings, "ingest", source, str(feed_path(feeds, source)), "--json")
        _, stderr = proc.communicate(timeout=900)
        assert proc.returncode == 0, stderr


@pytest.fixture(scope="module")
def clean_run(
    feeds: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, object], float]:
    """Status after one clean run, and how long its ingestion took."""
    settings = Settings(home=tmp_path_factory.mktemp("clean"))
    _cli(settings, "init").communicate(timeout=120)
    start = time.monotonic()
    _ingest(settings, feeds)
    return _status(settings), time.monotonic() - start


def _writing(settings: Settings) -> bool:
    """True once the ingestion's write transaction has started writing rows."""
    if settings.database_url is None:
        # The writer holds SQLite's RESERVED lock: another BEGIN IMMEDIATE fails at once.
        probe = sqlite3.connect(settings.home / "fpcredit.db", timeout=0)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.rollback()
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            probe.close()
    with sa.create_engine(settings.database_url).connect() as conn:
        copying = conn.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query ILIKE 'COPY %'"
            )
        ).scalar()
    return bool(copying)


def _wait_until_writing(settings: Settings, proc: subprocess.Popen[str], deadline: float) -> None:
    while not _writing(settings):
        assert proc.poll() is None, "ingestion ended before its write phase was seen"
        assert time.monotonic() < deadline, "ingestion never started writing"
        time.sleep(0.05)


def test_kill_9_then_rerun_equals_a_clean_run(
    settings: Settings, feeds: Path, clean_run: tuple[dict[str, object], float], store: object
) -> None:
    clean_status, seconds = clean_run
    _cli(settings, "init").communicate(timeout=120)
    victim = _cli(settings, "ingest", SOURCES[0], str(feed_path(feeds, SOURCES[0])))
    _wait_until_writing(settings, victim, deadline=time.monotonic() + seconds * 4 + 60)
    time.sleep(0.5)  # well inside the write transaction, not at its first statement
    os.kill(victim.pid, signal.SIGKILL)
    victim.communicate()
    assert victim.returncode == -signal.SIGKILL
    assert _status(settings)["records"] == 0, "the kill came after the commit"
    _ingest(settings, feeds)
    assert _status(settings) == clean_status
