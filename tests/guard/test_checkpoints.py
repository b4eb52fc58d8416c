"""Checkpoints kept outside the database (guard/checkpoints.py), on every backend: the file,
the refusal to sign a smaller or inconsistent tree, the checkpointer's bounds, several signing
processes at once, the CLI and the service signing what they appended."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from fpcredit.cli import app as cli
from fpcredit.config import Settings
from fpcredit.errors import LedgerError
from fpcredit.guard import tlog
from fpcredit.guard.checkpoints import Checkpointer, CheckpointFile, Line, stamp
from fpcredit.guard.ledger import Event, Ledger, verify
from fpcredit.service import feed_path, initialise
from fpcredit.store import schema as s
from fpcredit.store.db import Store
from fpcredit.synth import generate
from tests.clocks import Seconds as Clock
from tests.guard.insider import lose_tail

E, N, C = s.ledger_entries, s.ledger_nodes, s.ledger_checkpoints


@pytest.fixture
def ledger(store: Store, settings: Settings) -> Ledger:
    return Ledger(store, settings)


def _file(ledger: Ledger) -> list[Line]:
    lines = list(CheckpointFile(ledger.trail_dir).lines())
    assert all(isinstance(line, Line) for line in lines), lines
    return lines  # type: ignore[return-value]


def _grow(ledger: Ledger, n: int) -> None:
    ledger.append_many([Event("clerk:1", "read", subject=str(i)) for i in range(n)])


def test_every_checkpoint_is_appended_to_a_private_file(ledger: Ledger) -> None:
    _grow(ledger, 5)
    first = ledger.checkpoint()
    assert ledger.checkpoint() == first  # nothing new: nothing signed
    _grow(ledger, 3)
    second = ledger.checkpoint()
    lines = _file(ledger)
    assert [(line.kind, line.size, line.note) for line in lines] == [
        ("checkpoint", 5, first),
        ("checkpoint", 8, second),
    ]
    verifier = tlog.NoteVerifier.from_key_string(ledger.verifier_key())
    assert all(line.head([verifier]) is not None for line in lines)
    path = ledger.trail_dir / "checkpoints"
    assert path.stat().st_mode & 0o777 == 0o600 and ledger.trail_dir.stat().st_mode & 0o777 == 0o700
    assert [json.loads(raw)["size"] for raw in path.read_text().splitlines()] == [5, 8]
    assert ledger.latest_checkpoint() == second


def test_the_log_refuses_to_sign_a_smaller_tree_than_the_file_s(
    store: Store, ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    """The reported failure: 39 signed, a restart that lost entries, then 30."""
    _grow(ledger, 39)
    ledger.checkpoint()
    lose_tail(store, 30)
    assert ledger.head().size == 30
    with caplog.at_level(logging.CRITICAL), pytest.raises(LedgerError):
        ledger.checkpoint()
    assert any(r.levelno == logging.CRITICAL for r in caplog.records)
    _grow(ledger, 20)  # growing again does not help: 39 is not a prefix of the new tree
    with pytest.raises(LedgerError):
        ledger.checkpoint()
    assert [line.size for line in _file(ledger)] == [39]
    report = verify(store, ledger.settings)
    assert not report["ok"] and report["first_bad"] == 0
    assert "39" in str(report["reason"])


def test_the_log_refuses_a_tree_inconsistent_with_the_file_s(store: Store, ledger: Ledger) -> None:
    _grow(ledger, 20)
    ledger.checkpoint()
    lose_tail(store, 12)  # the same size again, other entries: a fork
    ledger.append_many([Event("clerk:2", "read") for _ in range(8)])
    assert ledger.head().size == 20
    with pytest.raises(LedgerError):
        ledger.checkpoint()
    assert len(_file(ledger)) == 1
    assert not verify(store, ledger.settings)["ok"]


def test_deleted_database_checkpoints_are_found_in_the_file(store: Store, ledger: Ledger) -> None:
    _grow(ledger, 20)
    ledger.checkpoint()
    _grow(ledger, 5)
    ledger.checkpoint()
    with store.engine.begin() as conn:
        conn.execute(C.delete())
    report = verify(store, ledger.settings)
    assert report["first_bad"] == 0 and "20" in str(report["reason"])
    assert report["checkpoints"] == {"database": 0, "file": 2, "cosignatures": 0, "newest": 25}


def test_verify_holds_the_tree_against_the_file(store: Store, ledger: Ledger) -> None:
    _grow(ledger, 20)
    ledger.checkpoint()
    _grow(ledger, 5)
    ledger.checkpoint()
    report = verify(store, ledger.settings)
    assert report["ok"] and report["checkpoints"]["file"] == 2
    # The tail after the last checkpoint of the database deleted, with that checkpoint: the
    # database alone looks whole, the file does not.
    lose_tail(store, 20)
    report = verify(store, ledger.settings)
    assert report["first_bad"] == 20 and "25" in str(report["reason"])


def _append_line(ledger: Ledger, raw: bytes) -> None:
    with (ledger.trail_dir / "checkpoints").open("ab") as handle:
        handle.write(raw)


def test_a_damaged_or_backwards_file_fails(store: Store, ledger: Ledger) -> None:
    _grow(ledger, 20)
    note20 = ledger.checkpoint()
    _grow(ledger, 5)
    ledger.checkpoint()
    good = (ledger.trail_dir / "checkpoints").read_bytes()
    # A line going backwards, even validly signed (by a holder of the key).
    head = tlog.Checkpoint.parse(tlog.split_note(note20)[0])
    _append_line(ledger, Line("checkpoint", 20, head.root, note20, stamp()).encode())
    report = verify(store, ledger.settings)
    assert report["first_bad"] == 20 and "25" in str(report["reason"])
    # A damaged line; a cut last line; a line whose signature fails.
    for damage in (b"{not json}\n", b'{"kind":"checkpoint","size":3', b""):
        (ledger.trail_dir / "checkpoints").write_bytes(good + damage)
        report = verify(store, ledger.settings)
        assert report["ok"] is (damage == b""), (damage, report)
    forged = good.replace(b'"size":25', b'"size":24', 1)
    (ledger.trail_dir / "checkpoints").write_bytes(forged)
    assert not verify(store, ledger.settings)["ok"]


def test_a_cut_last_line_is_repaired_before_the_next(ledger: Ledger) -> None:
    _grow(ledger, 3)
    ledger.checkpoint()
    _append_line(ledger, b'{"kind":"checkpoint","si')  # a crash in the middle of a write
    _grow(ledger, 2)
    ledger.checkpoint()
    assert [line.size for line in _file(ledger)] == [3, 5]
    assert verify(ledger.store, ledger.settings)["ok"]


def test_a_checkpoint_the_file_missed_is_copied_from_the_database(ledger: Ledger) -> None:
    """A crash after the database committed a checkpoint, before the file had it."""
    _grow(ledger, 4)
    ledger.checkpoint()
    _grow(ledger, 4)
    note = ledger.checkpoint()
    path = ledger.trail_dir / "checkpoints"
    path.write_text(path.read_text().splitlines(keepends=True)[0])
    assert ledger.checkpoint() == note  # nothing new: the same note, now in the file again
    assert [line.size for line in _file(ledger)] == [4, 8]
    assert verify(ledger.store, ledger.settings)["ok"]


# --- the checkpointer ----------------------------------------------------------------------------


class Offers:
    def __init__(self) -> None:
        self.notes: list[str] = []
        self.running = False

    def offer(self, note: str) -> None:
        self.notes.append(note)

    def start(self) -> None:
        self.running = True

    def stop(self) -> None:
        self.running = False


def _signed(ledger: Ledger) -> list[int]:
    return [line.size for line in _file(ledger)]


def test_the_checkpointer_signs_within_a_second_of_new_entries(ledger: Ledger) -> None:
    clock, offers = Clock(), Offers()
    keeper = Checkpointer(ledger, clock=clock, witnesses=[offers])
    ledger.listeners.append(keeper.appended)
    assert keeper.tick() is None  # nothing appended
    _grow(ledger, 3)
    clock.now += 0.999
    assert keeper.tick() is None and _signed(ledger) == []
    clock.now += 0.001  # one second after the entries
    note = keeper.tick()
    assert note is not None and _signed(ledger) == [3] and offers.notes == [note]
    clock.now += 5
    assert keeper.tick() is None  # nothing new since
    _grow(ledger, 2)
    clock.now += 0.5
    _grow(ledger, 2)  # the second second counts from the first of these
    clock.now += 0.5
    assert keeper.tick() is not None and _signed(ledger) == [3, 7]


def test_the_checkpointer_signs_at_once_after_1000_entries(ledger: Ledger) -> None:
    clock = Clock()
    keeper = Checkpointer(ledger, clock=clock)
    ledger.listeners.append(keeper.appended)
    keeper.tick()
    _grow(ledger, 999)
    assert keeper.tick() is None
    _grow(ledger, 1)
    assert keeper.tick() is not None and _signed(ledger) == [1000]


def test_the_checkpointer_notices_entries_of_other_processes(
    store: Store, ledger: Ledger, settings: Settings
) -> None:
    clock = Clock()
    keeper = Checkpointer(ledger, clock=clock)
    keeper.tick()
    _grow(Ledger(store, settings), 4)  # another writer: no notification
    clock.now += 0.5
    assert keeper.tick() is None
    clock.now += 0.5  # it looks at the log's size every second
    assert keeper.tick() is not None and _signed(ledger) == [4]


def test_a_refusing_log_is_retried_after_a_pause(store: Store, ledger: Ledger) -> None:
    clock = Clock()
    keeper = Checkpointer(ledger, clock=clock, retry_s=60)
    ledger.listeners.append(keeper.appended)
    _grow(ledger, 10)
    ledger.checkpoint()
    lose_tail(store, 5)
    _grow(ledger, 1)
    clock.now += 1
    assert keeper.tick() is None  # refused (logged at CRITICAL)
    clock.now += 59
    assert keeper.tick() is None  # held back: not a CRITICAL line every second
    clock.now += 1
    assert keeper.tick() is None and _signed(ledger) == [10]


def test_the_checkpointer_thread_signs_what_is_left_when_stopped(ledger: Ledger) -> None:
    offers = Offers()
    _grow(ledger, 2)
    ledger.checkpoint()
    keeper = Checkpointer(ledger, every_s=3600, witnesses=[offers])
    keeper.start()
    assert offers.running and offers.notes == [ledger.latest_checkpoint()]  # offered again
    _grow(ledger, 6)
    keeper.stop()
    assert _signed(ledger) == [2, 8] and not offers.running
    assert ledger.listeners == []


# --- several processes ---------------------------------------------------------------------------

_SIGNER = textwrap.dedent(
    """
    import sys
    from fpcredit.config import Settings
    from fpcredit.guard.ledger import Event, Ledger
    from fpcredit.store.db import open_store

    settings = Settings(home=sys.argv[1], database_url=sys.argv[2] or None)
    ledger = Ledger(open_store(settings), settings)
    for round in range(15):
        ledger.append_many([Event("svc:p", "read", subject=str(i)) for i in range(7)])
        ledger.checkpoint()
    """
)


def test_processes_signing_at_once_never_go_backwards(
    store: Store, ledger: Ledger, settings: Settings
) -> None:
    ledger.checkpoint()  # the keys, made once
    args = [sys.executable, "-c", _SIGNER, str(settings.home), settings.database_url or ""]
    procs = [subprocess.Popen(args, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for proc in procs:
        _out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
    sizes = _signed(ledger)
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)
    assert sizes[-1] == ledger.head().size == 3 * 15 * 7
    with store.engine.connect() as conn:
        assert set(conn.scalars(sa.select(C.c.size))) >= set(sizes)
    assert verify(store, settings)["ok"]


# --- the CLI and the service ---------------------------------------------------------------------


def test_a_cli_command_that_appended_signs_at_its_end(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = Settings(home=home)
    initialise(settings)
    feeds = tmp_path / "feeds"
    generate(people=30, seed=2, out=feeds)
    runner = CliRunner()
    env = {"FPCREDIT_HOME": str(home)}
    result = runner.invoke(cli, ["ingest", "cdc", str(feed_path(feeds, "cdc"))], env=env)
    assert result.exit_code == 0, result.output
    lines = list(CheckpointFile(home / "trail").lines())
    assert [line.size for line in lines if isinstance(line, Line)] == [2]  # records, facts
    result = runner.invoke(cli, ["status"], env=env)  # appends nothing: signs nothing
    assert result.exit_code == 0 and len(list(CheckpointFile(home / "trail").lines())) == 1


def test_the_service_signs_in_the_background(tmp_path: Path) -> None:
    from fpcredit.web.app import create_app

    settings = Settings(home=tmp_path / "home")
    initialise(settings)
    web = create_app(settings)
    with TestClient(web) as client:
        assert client.get("/healthz").status_code == 200
        web.state.services.ledger.append("svc:test", "read")
        web.state.services.trail.append(Event("svc:test", "read"))
    # Stopping the service signed what was left.
    lines: list[Any] = list(CheckpointFile(settings.home / "trail").lines())
    assert lines and lines[-1].size == Ledger(web.state.services.store, settings).size() >= 2
