"""The trail against an insider with database access, on every backend, with a real witness
process (`fpcredit witness serve`): every tampering of issue 21 fails `audit verify --witness`."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fpcredit.cli import app as cli
from fpcredit.config import Settings, WitnessSetting
from fpcredit.files import write_private
from fpcredit.guard.trail import tlog
from fpcredit.guard.trail.checkpointer import Checkpointer
from fpcredit.guard.trail.cosignature import CosignatureSigner, CosignatureVerifier
from fpcredit.guard.trail.log import Event, Trail
from fpcredit.guard.trail.witness_client import (
    WitnessClient,
    WitnessWorker,
    clients,
    fetch_latest,
    request_body,
    submit_all,
)
from fpcredit.store import schema as s
from fpcredit.store.db import Store
from tests.guard.insider import forge, lose_tail

E, N, C = s.ledger_entries, s.ledger_nodes, s.ledger_checkpoints
LOGS = 40  # log keys the witness is started with; each test takes one


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _up(url: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            urllib.request.urlopen(f"{url}/latest-checkpoint?origin=x", timeout=1)
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the witness did not start")


class WitnessProcess:
    def __init__(self, url: str, key: str, logs: list[tlog.NoteSigner]) -> None:
        self.url, self.key, self.logs = url, key, iter(logs)

    def setting(self) -> WitnessSetting:
        return WitnessSetting(url=self.url, key=self.key)


@pytest.fixture(scope="module")
def witness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WitnessProcess]:
    """`fpcredit witness serve` in a process of its own, with a home of its own, trusting
    LOGS log keys made for the tests."""
    home = tmp_path_factory.mktemp("witness")
    env = {**os.environ, "FPCREDIT_HOME": str(home)}
    made = CliRunner().invoke(cli, ["witness", "key", "--name", "auditor.example/w1"], env=env)
    assert made.exit_code == 0, made.output
    logs = [tlog.NoteSigner.generate(f"fpcredit/insider-{i}") for i in range(LOGS)]
    port = _free_port()
    args = [sys.executable, "-c", "from fpcredit.cli import main; main()", "witness", "serve"]
    args += ["--port", str(port)]
    for log in logs:
        args += ["--log", f"{log.name}={log.verifier.key_string()}"]
    proc = subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _up(url, proc)
        yield WitnessProcess(url, made.stdout.strip(), logs)
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


@pytest.fixture
def home_settings(settings: Settings, witness: WitnessProcess) -> Settings:
    """The test's settings with a log key the witness trusts, and the witness configured."""
    signer = next(witness.logs)
    write_private(settings.keys_dir / "ledger-signing.key", signer.key_string().encode())
    return settings.model_copy(update={"witnesses": [witness.setting()]})


def _sign(trail: Trail, settings: Settings) -> int:
    """Sign, and hand the checkpoint to the witnesses; returns how many cosigned."""
    return submit_all(clients(trail, settings), trail.checkpoint())


def _verify(settings: Settings, *extra: str) -> tuple[int, dict[str, Any]]:
    env = {
        "FPCREDIT_HOME": str(settings.home),
        "FPCREDIT_DATABASE_URL": settings.database_url or "",
        "FPCREDIT_WITNESSES": json.dumps([w.model_dump() for w in settings.witnesses]),
    }
    url = settings.witnesses[0].url
    args = ["audit", "verify", "--witness", url, *extra, "--json"]
    result = CliRunner().invoke(cli, args, env={k: v for k, v in env.items() if v})
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture
def trail(store: Store, home_settings: Settings) -> Trail:
    """20 entries signed and witnessed, 5 more signed and witnessed, 3 more not signed yet."""
    trail = Trail(store, home_settings)
    trail.append_many([Event("clerk:1", "read", subject=str(i)) for i in range(20)])
    assert _sign(trail, home_settings) == 1
    trail.append_many([Event("clerk:2", "read", subject="x", address="10.0.0.2")] * 5)
    assert _sign(trail, home_settings) == 1
    trail.append_many([Event("clerk:3", "read", address="::1")] * 3)
    code, report = _verify(home_settings)
    assert code == 0 and report["ok"], report
    assert report["witness"]["size"] == 25 and report["witness"]["ok"]
    assert report["checkpoints"] == {"database": 2, "file": 2, "cosignatures": 2, "newest": 25}
    return trail


def _tail_after_last_checkpoint(store: Store, settings: Settings) -> None:
    # The insider deletes the last checkpoint of the database and every entry after the one
    # before: the database alone looks whole.
    lose_tail(store, 20)


def _all_checkpoints(store: Store, settings: Settings) -> None:
    with store.engine.begin() as conn:
        conn.execute(C.delete())


def _wipe_access_entries(store: Store, settings: Settings) -> None:
    with store.engine.begin() as conn:
        for table in (E, N, C):
            conn.execute(table.delete())


def _rewrite_last_entry(store: Store, settings: Settings) -> None:
    forge(store, 27, b"\x02" * 32, actor="clerk:9")


def _append_forged_entry(store: Store, settings: Settings) -> None:
    forge(store, 28, b"\x03" * 32, actor="clerk:9", action="read")


def _truncate_and_delete_the_file(store: Store, settings: Settings) -> None:
    # With access to the server's files as well: only the witness is left to tell.
    _tail_after_last_checkpoint(store, settings)
    (settings.home / "trail" / "checkpoints").unlink()


def _roll_back_the_file(store: Store, settings: Settings) -> None:
    path = settings.home / "trail" / "checkpoints"
    first = path.read_text().splitlines(keepends=True)[:2]  # checkpoint 20 and its cosignature
    path.write_text("".join(first))
    _tail_after_last_checkpoint(store, settings)


ATTACKS: dict[str, tuple[Callable[[Store, Settings], None], int | None]] = {
    "delete the entries after the last checkpoint": (_tail_after_last_checkpoint, 20),
    "delete every checkpoint": (_all_checkpoints, 0),
    "wipe the access entries, nodes and checkpoints": (_wipe_access_entries, 0),
    "rewrite the last entry, hashes recomputed": (_rewrite_last_entry, 27),
    "append a forged entry": (_append_forged_entry, 28),
    "truncate and delete the checkpoint file": (_truncate_and_delete_the_file, 20),
    "truncate and roll the checkpoint file back": (_roll_back_the_file, 20),
}


@pytest.mark.parametrize("attack", ATTACKS, ids=list(ATTACKS))
def test_every_tampering_fails_verification_with_the_witness(
    store: Store, trail: Trail, home_settings: Settings, attack: str
) -> None:
    damage, first_bad = ATTACKS[attack]
    damage(store, home_settings)
    code, report = _verify(home_settings)
    assert code == 1 and report["ok"] is False, report
    assert report["first_bad"] == first_bad, report
    assert report["reason"]


def test_the_witness_key_is_pinned(store: Store, trail: Trail, home_settings: Settings) -> None:
    impostor = CosignatureSigner.generate("auditor.example/w1").verifier  # same name, other key
    code, report = _verify(home_settings, "--witness-key", impostor.key_string())
    assert code == 1 and not report["witness"]["ok"], report
    down = WitnessSetting(url=f"http://127.0.0.1:{_free_port()}", key=impostor.key_string())
    code, report = _verify(home_settings.model_copy(update={"witnesses": [down]}))
    assert code == 1 and "127.0.0.1" in report["reason"], report  # unreachable: not ok


def test_the_client_retries_from_the_witness_s_size(
    store: Store, home_settings: Settings, witness: WitnessProcess
) -> None:
    trail = Trail(store, home_settings)
    trail.append_many([Event("clerk:1", "read")] * 9)
    first = trail.checkpoint()
    assert submit_all(clients(trail, home_settings), first) == 1  # accepted at 9
    trail.append_many([Event("clerk:1", "read")] * 4)
    note = trail.checkpoint()
    fresh = clients(trail, home_settings)[0]
    assert fresh.accepted == 0
    cosigned = fresh.submit(note)  # old 0 → 409 "9" → old 9 with a proof → 200
    assert cosigned is not None and fresh.accepted == 13
    key = CosignatureVerifier.from_key_string(witness.key)
    assert tlog.Checkpoint.parse(tlog.open_note(cosigned, [key])).size == 13
    # An older checkpoint of ours after the witness saw a newer one of ours: nothing to do.
    assert clients(trail, home_settings)[0].submit(first) is None
    # The cosigned checkpoints are in the file, each with the witness's line.
    code, report = _verify(home_settings)
    assert code == 0 and report["checkpoints"]["cosignatures"] == 2, report


def test_a_witness_that_is_down_blocks_nothing(
    store: Store, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    trail = Trail(store, settings)
    trail.append("clerk:1", "read")
    key = CosignatureSigner.generate("w").verifier
    down = WitnessClient(trail, f"http://127.0.0.1:{_free_port()}", key, timeout_s=2)
    with caplog.at_level(logging.WARNING):
        assert submit_all([down], trail.checkpoint()) == 0  # logged, not raised
    assert any("127.0.0.1" in r.getMessage() for r in caplog.records)
    # In the service the submission runs in a thread of its own: signing never waits for it.
    keeper = Checkpointer(trail, witnesses=[WitnessWorker(down, retry_s=3600)])
    keeper.start()
    trail.append("clerk:1", "read")
    assert keeper.sign() is not None
    keeper.stop()


def _serve(home: Path, log: tlog.NoteSigner, port: int) -> subprocess.Popen[str]:
    args = [sys.executable, "-c", "from fpcredit.cli import main; main()", "witness", "serve"]
    args += ["--port", str(port), "--log", f"{log.name}={log.verifier.key_string()}"]
    env = {**os.environ, "FPCREDIT_HOME": str(home)}
    proc = subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _up(f"http://127.0.0.1:{port}", proc)
    return proc


def _post(url: str, body: bytes) -> tuple[int, str]:
    request = urllib.request.Request(f"{url}/add-checkpoint", data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_a_killed_witness_keeps_what_it_cosigned(tmp_path: Path) -> None:
    """kill -9 right after a 200: the restarted process still holds that checkpoint and refuses
    a smaller or forked one."""
    log = tlog.NoteSigner.generate("fpcredit/restart")
    tree = tlog.MemoryTree(tlog.leaf_hash(str(i).encode()) for i in range(12))

    def note(t: tlog.MemoryTree, size: int) -> str:
        return tlog.sign_note(tlog.Checkpoint(log.name, size, t.root(size)).body(), log)

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _serve(tmp_path, log, port)
    try:
        assert _post(url, request_body(0, [], note(tree, 8)))[0] == 200
        proof = tree.consistency_proof(8, 12)
        assert _post(url, request_body(8, proof, note(tree, 12)))[0] == 200
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    proc = _serve(tmp_path, log, port)
    try:
        assert _post(url, request_body(0, [], note(tree, 8))) == (409, "12\n")  # smaller
        fork = tlog.MemoryTree(tlog.leaf_hash(f"x{i}".encode()) for i in range(12))
        assert _post(url, request_body(12, [], note(fork, 12)))[0] == 409  # forked
        fork.append(tlog.leaf_hash(b"more"))
        forked = request_body(12, fork.consistency_proof(12, 13), note(fork, 13))
        assert _post(url, forked)[0] == 422
        latest = fetch_latest(url, log.name)
        assert latest is not None
        assert tlog.Checkpoint.parse(tlog.open_note(latest, [log.verifier])).size == 12
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
