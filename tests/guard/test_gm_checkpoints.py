"""A 国密 store's checkpoints carry an SM2 signature line beside the Ed25519 one, and verify."""

from __future__ import annotations

import base64

import pytest
import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.errors import TrailError
from fpcredit.guard.keys import gm
from fpcredit.guard.keys.crypto import create_keys
from fpcredit.guard.trail import tlog
from fpcredit.guard.trail.log import Trail
from fpcredit.guard.trail.verify import verify
from fpcredit.store import schema as s
from fpcredit.store.db import Store


def _gm_trail(settings: Settings, store: Store) -> Trail:
    create_keys(settings.keys_dir, "gm")
    trail = Trail(store, settings)
    for i in range(5):
        trail.append(f"county:clerk{i}", "read", subject=str(i), purpose="credit_evaluation")
    return trail


def test_a_gm_checkpoint_is_signed_with_sm2_too_and_verifies(
    settings: Settings, store: Store
) -> None:
    trail = _gm_trail(settings, store)
    note = trail.checkpoint()
    lines = [line for line in note.splitlines() if line.startswith("\u2014 ")]
    assert len(lines) == 2  # Ed25519, then SM2
    [sm2] = gm.checkpoint_verifiers(settings.keys_dir)
    ed25519 = trail.signer().verifier
    # Each key alone opens the note; an Ed25519-only verifier ignores the SM2 line.
    assert tlog.open_note(note, [sm2]) == tlog.open_note(note, [ed25519])
    assert verify(store, settings)["ok"]


def test_a_forged_sm2_line_fails_verify(settings: Settings, store: Store) -> None:
    trail = _gm_trail(settings, store)
    note = trail.checkpoint()
    body, _, signatures = note.partition("\n\n")
    ed, sm2_line = signatures.strip("\n").split("\n")
    name, b64 = sm2_line.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(b64))
    raw[-1] ^= 1
    forged = f"{body}\n\n{ed}\n{name} {base64.b64encode(bytes(raw)).decode()}\n"
    with store.engine.begin() as conn:
        conn.execute(sa.update(s.ledger_checkpoints).values(note=forged))
    report = verify(store, settings)
    assert not report["ok"]


def test_the_sm2_line_is_what_a_forged_one_breaks(settings: Settings, store: Store) -> None:
    trail = _gm_trail(settings, store)
    note = trail.checkpoint()
    body, _, signatures = note.partition("\n\n")
    ed, sm2_line = signatures.strip("\n").split("\n")
    name, b64 = sm2_line.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(b64))
    raw[-1] ^= 1
    forged = f"{body}\n\n{ed}\n{name} {base64.b64encode(bytes(raw)).decode()}\n"
    [sm2] = gm.checkpoint_verifiers(settings.keys_dir)
    assert tlog.open_note(forged, [trail.signer().verifier])  # Ed25519 alone: still fine
    with pytest.raises(TrailError):
        tlog.open_note(forged, [trail.signer().verifier, sm2])
