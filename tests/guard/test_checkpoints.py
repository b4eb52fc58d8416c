"""Checkpoints kept outside the database (guard/trail/checkpoints.py), on every backend: the file,
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
from fpcredit.errors import TrailError
from fpcredit.guard.trail import tlog
from fpcredit.guard.trail.checkpointer import Checkpointer
from fpcredit.guard.trail.checkpoints import CheckpointFile, Line, stamp
from fpcredit.guard.trail.log import Event, Trail
from fpcredit.guard.trail.verify import verify
from fpcredit.service import feed_path, initialise
from fpcredit.store import schema as s
from fpcredit.store.db import Store
from fpcredit.synth import generate
from tests.clocks import Seconds as Clock
from tests.guard.insider import lose_tail

E, N, C = s.ledger_entries, s.ledger_nodes, s.ledger_checkpoints


@pytest.fixture
def trail(store: Store, settings: Settings) -> Trail:
    return Trail(store, settings)


def _file(trail: Trail) -> list[Line]:
    lines = list(CheckpointFile(trail.trail_dir).lines())
    assert all(isinstance(line, Line) for line in lines), lines
    return lines  # type: ignore[return-value]


def _grow(trail: Trail, n: int) -> None:
    trail.append_many([Event("clerk:1", "read", subject=str(i)) for i in range(n)])


def test_every_checkpoint_is_appended_to_a_private_file(trail: Trail) -> None:
    _grow(trail, 5)
    first = trail.checkpoint()
    assert trail.checkpoint() == first  # nothing new: nothing signed
    _grow(trail, 3)
    second = trail.checkpoint()
    lines = _file(trail)
    assert [(line.kind, line.size, line.note) for line in lines] == [
        ("checkpoint", 5, first),
        ("checkpoint", 8, second),
    ]
    verifier = tlog.NoteVerifier.from_key_string(trail.verifier_key())
    assert all(line.head([verifier]) is not None for line in lines)
    path = trail.trail_dir / "checkpoints"
    assert path.stat().st_mode & 0o777 == 0o600 and trail.trail_dir.stat().st_mode & 0o777 == 0o700
    assert [json.loads(raw)["size"] for raw in path.read_text().splitlines()] == [5, 8]
    assert trail.latest_checkpoint() == second


def test_the_log_refuses_to_sign_a_smaller_tree_than_the_file_s(
    store: Store, trail: Trail, caplog: pytest.LogCaptureFixture
) -> None:
    """The reported failure: 39 signed, a restart that lost entries, then 30."""
    _grow(trail, 39)
    trail.checkpoint()
    lose_tail(store, 30)
    assert trail.head().size == 30
    with caplog.at_level(logging.CRITICAL), pytest.raises(TrailError):
        trail.checkpoint()
    assert any(r.levelno == logging.CRITICAL for r in caplog.records)
    _grow(trail, 20)  # growing again does not help: 39 is not a prefix of the new tree
    with pytest.raises(TrailError):
        trail.checkpoint()
    assert [line.size for line in _file(trail)] == [39]
    report = verify(store, trail.settings)
    assert not report["ok"] and report["first_bad"] == 0
    assert "39" in str(report["reason"])


def test_the_log_refuses_a_tree_inconsistent_with_the_file_s(store: Store, trail: Trail) -> None:
    _grow(trail, 20)
    trail.checkpoint()
    lose_tail(store, 12)  # the same size again, other entries: a fork
    trail.append_many([Event("clerk:2", "read") for _ in range(8)])
    assert trail.head().size == 20
    with pytest.raises(TrailError):
        trail.checkpoint()
    assert len(_file(trail)) == 1
    assert not verify(store, trail.settings)["ok"]


def test_deleted_database_checkpoints_are_found_in_the_file(store: Store, trail: Trail) -> None:
    _grow(trail, 20)
    trail.checkpoint()
    _grow(trail, 5)
    trail.checkpoint()
    with store.engine.begin() as conn:
        conn.execute(C.delete())
    report = verify(store, trail.settings)
    assert report["first_bad"] == 0 and "20" in str(report["reason"])
    assert report["checkpoints"] == {"database": 0, "file": 2, "cosignatures": 0, "newest": 25}


def test_verify_holds_the_tree_against_the_file(store: Store, trail: Trail) -> None:
    _grow(trail, 20)
    trail.checkpoint()
    _grow(trail, 5)
    trail.checkpoint()
    report = verify(store, trail.settings)
    assert report["ok"] and report["checkpoints"]["file"] == 2
    # The tail after the last checkpoint of the database deleted, with that checkpoint: the
    # database alone looks whole, the file does not.
    lose_tail(store, 20)
    report = verify(store, trail.settings)
    assert report["first_bad"] == 20 and "25" in str(report["reason"])


def _append_line(trail: Trail, raw: bytes) -> None:
    with (trail.trail_dir / "checkpoints").open("ab") as handle:
        handle.write(raw)


def test_a_damaged_or_backwards_file_fails(store: Store, trail: Trail) -> None:
    _grow(trail, 20)
    note20 = trail.checkpoint()
    _grow(trail, 5)
    trail.checkpoint()
    good = (trail.trail_dir / "checkpoints").read_bytes()
    # A line going backwards, even validly signed (by a holder of the key).
    head = tlog.Checkpoint.parse(tlog.split_note(note20)[0])
    _append_line(trail, Line("checkpoint", 20, head.root, note20, stamp()).encode())
    report = verify(store, trail.settings)
    assert report["first_bad"] == 20 and "25" in str(report["reason"])
    # A damaged line; a cut last line; a line whose signature fails.
    for damage in (b"{not json}\n", b'{"kind":"checkpoint","size":3', b""):
        (trail.trail_dir / "checkpoints").write_bytes(good + damage)
        report = verify(store, trail.settings)
        assert report["ok"] is (damage == b""), (damage, report)
    forged = good.replace(b'"size":25', b'"size":24', 1)
    (trail.trail_dir / "checkpoints").write_bytes(forged)
    assert not verify(store, trail.settings)["ok"]


def test_a_cut_last_line_is_repaired_before_the_next(trail: Trail) -> None:
    _grow(trail, 3)
    trail.checkpoint()
    _append_line(trail, b'{"kind":"checkpoint","si')  # a crash in the middle of a write
    _grow(trail, 2)
    trail.checkpoint()
    assert [line.size for line in _file(trail)] == [3, 5]
    assert verify(trail.store, trail.settings)["ok"]


def test_a_checkpoint_the_file_missed_is_copied_from_the_database(trail: Trail) -> None:
    """A crash after the database committed a checkpoint, before the file had it."""
    _grow(trail, 4)
    trail.checkpoint()
    _grow(trail, 4)
    note = trail.checkpoint()
    path = trail.trail_dir / "checkpoints"
    path.write_text(path.read_text().splitlines(keepends=True)[0])
    assert trail.checkpoint() == note  # nothing new: the same note, now in the file again
    assert [line.size for line in _file(trail)] == [4, 8]
    assert verify(trail.store, trail.settings)["ok"]


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


def _signed(trail: Trail) -> list[int]:
    return [line.size for line in _file(trail)]


def test_the_checkpointer_signs_within_a_second_of_new_entries(trail: Trail) -> None:
    clock, offers = Clock(), Offers()
    keeper = Checkpointer(trail, clock=clock, witnesses=[offers])
    trail.listeners.append(keeper.appended)
    assert keeper.tick() is None  # nothing appended
    _grow(trail, 3)
    clock.now += 0.999
    assert keeper.tick() is None and _signed(trail) == []
    clock.now += 0.001  # one second after the entries
    note = keeper.tick()
    assert note is not None and _signed(trail) == [3] and offers.notes == [note]
    clock.now += 5
    assert keeper.tick() is None  # nothing new since
    _grow(trail, 2)
    clock.now += 0.5
    _grow(trail, 2)  # the second second counts from the first of these
    clock.now += 0.5
    assert keeper.tick() is not None and _signed(trail) == [3, 7]


def test_the_checkpointer_signs_at_once_after_1000_entries(trail: Trail) -> None:
    clock = Clock()
    keeper = Checkpointer(trail, clock=clock)
    trail.listeners.append(keeper.appended)
    keeper.tick()
    _grow(trail, 999)
    assert keeper.tick() is None
    _grow(trail, 1)
    assert keeper.tick() is not None and _signed(trail) == [1000]


def test_the_checkpointer_notices_entries_of_other_processes(
    store: Store, trail: Trail, settings: Settings
) -> None:
    clock = Clock()
    keeper = Checkpointer(trail, clock=clock)
    keeper.tick()
    _grow(Trail(store, settings), 4)  # another writer: no notification
    clock.now += 0.5
    assert keeper.tick() is None
    clock.now += 0.5  # it looks at the log's size every second
    assert keeper.tick() is not None and _signed(trail) == [4]


def test_a_refusing_log_is_retried_after_a_pause(store: Store, trail: Trail) -> None:
    clock = Clock()
    keeper = Checkpointer(trail, clock=clock, retry_s=60)
    trail.listeners.append(keeper.appended)
    _grow(trail, 10)
    trail.checkpoint()
    lose_tail(store, 5)
    _grow(trail, 1)
    clock.now += 1
    assert keeper.tick() is None  # refused (logged at CRITICAL)
    clock.now += 59
    assert keeper.tick() is None  # held back: not a CRITICAL line every second
    clock.now += 1
    assert keeper.tick() is None and _signed(trail) == [10]


def test_the_checkpointer_thread_signs_what_is_left_when_stopped(trail: Trail) -> None:
    offers = Offers()
    _grow(trail, 2)
    trail.checkpoint()
    keeper = Checkpointer(trail, every_s=3600, witnesses=[offers])
    keeper.start()
    assert offers.running and offers.notes == [trail.latest_checkpoint()]  # offered again
    _grow(trail, 6)
    keeper.stop()
    assert _signed(trail) == [2, 8] and not offers.running
    assert trail.listeners == []


# --- several processes ---------------------------------------------------------------------------

_SIGNER = textwrap.dedent(
    """
    import sys
    from fpcredit.config import Settings
    from fpcredit.guard.trail.log import Event, Trail
    from fpcredit.store.db import open_store

    settings = Settings(home=sys.argv[1], database_url=sys.argv[2] or None)
    trail = Trail(open_store(settings), settings)
    for round in range(15):
        trail.append_many([Event("svc:p", "read", subject=str(i)) for i in range(7)])
        trail.checkpoint()
    """
)


def test_processes_signing_at_once_never_go_backwards(
    store: Store, trail: Trail, settings: Settings
) -> None:
    trail.checkpoint()  # the keys, made once
    args = [sys.executable, "-c", _SIGNER, str(settings.home), settings.database_url or ""]
    procs = [subprocess.Popen(args, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for proc in procs:
        _out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
    sizes = _signed(trail)
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)
    assert sizes[-1] == trail.head().size == 3 * 15 * 7
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
        web.state.services.trail.append("svc:test", "read")
        web.state.services.commits.append(Event("svc:test", "read"))
    # Stopping the service signed what was left.
    lines: list[Any] = list(CheckpointFile(settings.home / "trail").lines())
    assert lines and lines[-1].size == Trail(web.state.services.store, settings).size() >= 2
