"""The witness (guard/trail/witness.py, web/witness.py): C2SP tlog-witness add-checkpoint, its state
across restarts, and the log's client (guard/trail/witness_client.py) against it."""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fpcredit.errors import ConfigError, TrailError
from fpcredit.guard.trail import tlog
from fpcredit.guard.trail.cosignature import CosignatureVerifier
from fpcredit.guard.trail.witness import SIZE_TYPE, Answer, Witness, parse_logs, parse_request
from fpcredit.guard.trail.witness_client import request_body
from fpcredit.web.witness import create_witness_app

ORIGIN = "example.org/log"
NOW = 1_790_000_000

# The example request of c2sp.org/tlog-witness.
SPEC_REQUEST = (
    "old 20852014\n"
    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
    "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
    "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
    "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
    "\n"
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5"
    "/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "\u2014 example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks"
    "+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n"
)


class Log:
    """A log in memory: leaves, its signing key, signed checkpoints and consistency proofs."""

    def __init__(self, origin: str = ORIGIN, leaves: int = 0) -> None:
        self.signer = tlog.NoteSigner.generate(origin)
        self.tree = tlog.MemoryTree()
        self.grow(leaves)

    def grow(self, n: int, tag: str = "") -> None:
        for _ in range(n):
            self.tree.append(tlog.leaf_hash(f"{tag}{self.tree.size}".encode()))

    def note(self, size: int | None = None) -> str:
        size = self.tree.size if size is None else size
        body = tlog.Checkpoint(self.signer.name, size, self.tree.root(size)).body()
        return tlog.sign_note(body, self.signer)

    def request(self, old: int, size: int | None = None) -> bytes:
        size = self.tree.size if size is None else size
        proof = [] if old in (0, size) else self.tree.consistency_proof(old, size)
        return request_body(old, proof, self.note(size))

    def vkey(self) -> str:
        return f"{self.signer.name}={self.signer.verifier.key_string()}"


def _witness(tmp_path: Path, log: Log, now: int = NOW) -> Witness:
    witness = Witness.open(tmp_path / "wit", [log.vkey()], "witness.example/w1")
    witness.clock = lambda: now
    return witness


def test_the_spec_example_request_parses() -> None:
    request = parse_request(SPEC_REQUEST.encode())
    assert request.old == 20852014 and len(request.proof) == 4
    assert request.proof[0] == base64.b64decode("PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=")
    head = tlog.Checkpoint.parse(tlog.split_note(request.note)[0])
    assert (head.origin, head.size) == ("example.com/behind-the-sofa", 20852163)
    assert len(tlog.split_note(request.note)[1]) == 2


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"old 01\n\nx\n",  # leading zero
        b"old -1\n\nx\n",
        b"new 1\n\nx\n",
        b"old 1\nnot base64!\n\nx\n",
        b"old 1\n" + base64.b64encode(b"short") + b"\n\nx\n",
        b"old 1\n" + (base64.b64encode(b"\0" * 32) + b"\n") * 64 + b"\nx\n",  # 64 > 63 lines
        b"old 1\n",  # no empty line
        b"\xff\xfe",
    ],
)
def test_malformed_requests_are_refused(body: bytes) -> None:
    with pytest.raises(TrailError):
        parse_request(body)


def test_a_consistent_successor_is_cosigned_and_kept(tmp_path: Path) -> None:
    log = Log(leaves=5)
    witness = _witness(tmp_path, log)
    first = witness.add_checkpoint(log.request(0))
    assert first.status == 200, first
    key = witness.signer.verifier
    note = log.note() + first.body
    assert tlog.open_note(note, [key]) == tlog.split_note(log.note())[0]
    assert first.body.startswith("\u2014 witness.example/w1 ")
    log.grow(7)
    second = witness.add_checkpoint(log.request(5))
    assert second.status == 200
    # The state: the checkpoint with the log's signature and ours, readable after a restart.
    again = _witness(tmp_path, log, NOW + 60)
    latest = again.latest(ORIGIN)
    assert latest is not None
    head = tlog.Checkpoint.parse(tlog.open_note(latest, [key]))
    tlog.open_note(latest, [log.signer.verifier])
    assert (head.size, head.root) == (12, log.tree.root())
    assert again.latest("other/log") is None
    # Resubmitting the same checkpoint is cosigned again, with the new time.
    same = again.add_checkpoint(log.request(12))
    assert same.status == 200 and same.body != second.body


def test_the_old_size_must_be_the_witness_s(tmp_path: Path) -> None:
    log = Log(leaves=8)
    witness = _witness(tmp_path, log)
    assert witness.add_checkpoint(log.request(0)).status == 200
    log.grow(4)
    for wrong in (0, 4, 9):
        answer = witness.add_checkpoint(log.request(wrong))
        assert answer == Answer(409, "8\n", SIZE_TYPE)
    assert witness.add_checkpoint(log.request(8)).status == 200


def test_a_smaller_or_forked_checkpoint_is_never_cosigned(tmp_path: Path) -> None:
    log = Log(leaves=10)
    witness = _witness(tmp_path, log)
    assert witness.add_checkpoint(log.request(0)).status == 200
    # Smaller: as a successor of what it holds (old > size) or from zero (old is not its size).
    assert witness.add_checkpoint(request_body(10, [], log.note(6))).status == 400
    assert witness.add_checkpoint(log.request(0, 6)).status == 409
    # A fork at the same size: another root.
    fork = Log(leaves=0)
    fork.signer = log.signer
    fork.grow(10, tag="x")
    assert witness.add_checkpoint(fork.request(10)).status == 409
    # A fork that grew: its proof from the witness's checkpoint does not verify.
    fork.grow(3, tag="x")
    assert witness.add_checkpoint(fork.request(10)).status == 422
    assert witness.add_checkpoint(request_body(10, [], fork.note())).status == 422
    # Nothing moved: the honest log goes on from 10, even after a restart.
    log.grow(2)
    restarted = _witness(tmp_path, log)
    assert restarted.add_checkpoint(log.request(0)) == Answer(409, "10\n", SIZE_TYPE)
    assert restarted.add_checkpoint(fork.request(10)).status == 422
    assert restarted.add_checkpoint(log.request(10)).status == 200


def test_unknown_logs_and_bad_signatures(tmp_path: Path) -> None:
    log = Log(leaves=3)
    witness = _witness(tmp_path, log)
    stranger = Log("other.example/log", leaves=3)
    assert witness.add_checkpoint(stranger.request(0)).status == 404
    impostor = Log(leaves=3)  # our origin, another key
    assert witness.add_checkpoint(impostor.request(0)).status == 403
    tampered = log.request(0).replace(b"\n3\n", b"\n4\n")
    assert witness.add_checkpoint(tampered).status == 403
    assert witness.add_checkpoint(b"old 0\n\nnot a note\n").status == 400
    assert witness.add_checkpoint(log.request(0)).status == 200


def test_log_options(tmp_path: Path) -> None:
    log = Log()
    assert list(parse_logs([log.vkey()])) == [ORIGIN]
    for bad in ([], ["no-equals"], [f"{ORIGIN}=garbage"], [f"={log.signer.verifier.key_string()}"]):
        with pytest.raises(ConfigError):
            parse_logs(bad)


def test_racing_submissions_never_roll_back(tmp_path: Path) -> None:
    """The spec's race: checks and the update are atomic, so the kept size only grows."""
    log = Log(leaves=1)
    witness = _witness(tmp_path, log)
    assert witness.add_checkpoint(log.request(0)).status == 200
    sizes = list(range(2, 40))
    log.grow(sizes[-1] - 1)
    answers: list[int] = []

    def submit(size: int) -> None:
        answers.append(witness.add_checkpoint(log.request(1, size)).status)

    threads = [threading.Thread(target=submit, args=(n,)) for n in sizes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers.count(200) == 1 and answers.count(409) == len(sizes) - 1
    state = witness.latest(ORIGIN)
    assert state is not None
    kept = tlog.Checkpoint.parse(tlog.split_note(state)[0]).size
    assert kept in sizes


def test_the_witness_over_http(tmp_path: Path) -> None:
    log = Log(leaves=4)
    witness = _witness(tmp_path, log)
    with TestClient(create_witness_app(witness)) as client:
        answer = client.post("/add-checkpoint", content=log.request(0))
        assert answer.status_code == 200 and answer.text.startswith("\u2014 ")
        log.grow(1)
        conflict = client.post("/add-checkpoint", content=log.request(0))
        assert conflict.status_code == 409 and conflict.text == "4\n"
        assert conflict.headers["content-type"] == SIZE_TYPE
        assert client.post("/add-checkpoint", content=b"junk").status_code == 400
        assert client.post("/add-checkpoint", content=b"x" * 70_000).status_code == 413
        latest = client.get("/latest-checkpoint", params={"origin": ORIGIN})
        assert latest.status_code == 200
        key = CosignatureVerifier.from_key_string(witness.verifier_key())
        assert tlog.Checkpoint.parse(tlog.open_note(latest.text, [key])).size == 4
        assert client.get("/latest-checkpoint", params={"origin": "x/y"}).status_code == 404
        assert client.get("/latest-checkpoint").status_code == 422
    # The state file holds no private key, and is private.
    [state] = (tmp_path / "wit" / "witness").glob("*.json")
    assert state.stat().st_mode & 0o077 == 0
    assert json.loads(state.read_text())["size"] == 4
    # PRIVATE+KEY+name+id+base64: the base64 itself may hold a "+".
    secret = (tmp_path / "wit" / "keys" / "witness.key").read_text().strip().split("+", 4)[4]
    assert secret not in state.read_text()
