"""Entry MACs and leaf formats (guard/trail/entries.py, guard/trail/verify.py), on every backend: an
entry cannot be forged or rewritten with database access alone; format 1 and 2 entries both verify;
entries written before MACs get theirs only once they verify."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from typing import Any

import pytest
import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.errors import TrailError
from fpcredit.guard.trail import tlog
from fpcredit.guard.trail.log import Event, Trail, leaf_data
from fpcredit.guard.trail.verify import seal, verify
from fpcredit.service import _note_adoption, initialise
from fpcredit.store import schema as s
from fpcredit.store.db import Store
from tests.guard.insider import forge, rebuild_nodes

E, N = s.ledger_entries, s.ledger_nodes
T0 = dt.datetime(2026, 3, 1, 8, 0, 0)
FIELDS = [c.name for c in E.columns][:13]  # idx … state


@pytest.fixture
def trail(store: Store, settings: Settings) -> Trail:
    return Trail(store, settings)


def _rows(store: Store) -> list[Any]:
    with store.engine.connect() as conn:
        return list(conn.execute(sa.select(E).order_by(E.c.idx)))


def _mac_key(settings: Settings) -> bytes:
    return base64.b64decode((settings.keys_dir / "trail-mac.key").read_bytes())


def _check(trail: Trail, first_bad: int | None) -> dict[str, Any]:
    report = verify(trail.store, trail.settings)
    assert report["first_bad"] == first_bad, report
    return report


def test_every_entry_carries_the_hmac_of_its_leaf(
    store: Store, trail: Trail, settings: Settings
) -> None:
    trail.append("clerk:1", "read", subject="7", purpose="credit_evaluation", address="10.1.2.3")
    trail.append_many([Event("svc:hb", "query", "denied", str(i)) for i in range(30)])
    trail.append_many([Event("svc:hb", "query", address="::1"), Event("svc:hb", "query")])
    trail.record_fact_state(1, True, "clerk:2", "objection_handling")
    key = _mac_key(settings)
    rows = _rows(store)
    assert len(rows) == 34
    for row in rows:  # the MAC, recomputed with the standard library's HMAC
        assert bytes(row.mac) == hmac.digest(key, bytes(row.leaf_hash), "sha256")
        assert row.v == 2
    assert (settings.keys_dir / "trail-mac.key").stat().st_mode & 0o077 == 0
    encoded = base64.b64encode(key).decode()
    with store.engine.connect() as conn:
        for table in (E, N, s.ledger_checkpoints):
            for row in conn.execute(sa.select(table)):
                assert encoded not in repr(row) and key not in repr(row).encode()
    _check(trail, None)


def test_leaf_format_2_holds_the_address() -> None:
    values = [7, T0, "a", "b", "c", "d" * 64, None, None, None, None, None, None, None]
    doc = dict(zip(FIELDS, values, strict=True))
    for address in ("10.1.2.3", "::1", None):
        doc.update(at="2026-03-01T08:00:00.000000Z", v=2, address=address)
        expected = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert leaf_data(*values, address=address, v=2) == expected.encode()  # type: ignore[arg-type]
    with pytest.raises(TrailError):
        leaf_data(*values, address="10.1.2.3", v=1)  # type: ignore[arg-type]
    with pytest.raises(TrailError):
        leaf_data(*values, v=3)  # type: ignore[arg-type]


def test_appended_leaves_are_format_2_json(store: Store, trail: Trail) -> None:
    events = [
        Event("clerk:1", "read", "ok", "p1", "credit_evaluation", "10.0.0.9"),
        Event("clerk:1", "read", "ok", None, None, None),
        Event("svc:x", "login", "denied", None, None, "fe80::1"),
        Event("clerk:1", "read", "ok", "p2", "credit_evaluation", "10.0.0.9"),
    ]
    trail.append_many(events)
    for row, event in zip(_rows(store), events, strict=True):
        doc = {name: getattr(row, name) for name in FIELDS}
        doc.update(at=row.at.isoformat(timespec="microseconds") + "Z", v=2)
        doc["address"] = event.address
        data = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert bytes(row.leaf_hash) == hashlib.sha256(b"\x00" + data.encode()).digest()
        assert row.address == event.address


@pytest.mark.parametrize("address", ["10.0.0.1 ", "王芳", "a" * 65, "13800138000123", ""])
def test_an_address_is_a_code(trail: Trail, address: str) -> None:
    with pytest.raises(TrailError):
        trail.append("clerk:1", "read", address=address)
    assert trail.size() == 0


@pytest.mark.parametrize("mac", [None, b"\x00" * 32, "copied"], ids=["none", "made_up", "copied"])
def test_a_forged_entry_fails_and_is_never_signed_over(
    store: Store, trail: Trail, mac: bytes | str | None
) -> None:
    trail.append_many([Event("clerk:1", "read", subject=str(i)) for i in range(20)])
    trail.checkpoint()
    copied = trail.entry(19).mac  # a valid MAC, of another entry
    made = copied if mac == "copied" else mac
    forge(store, 20, made, actor="clerk:9", action="read")  # type: ignore[arg-type]
    report = _check(trail, 20)
    assert "MAC" in str(report["reason"])
    with pytest.raises(TrailError):
        trail.checkpoint()


def test_a_rewritten_last_entry_fails(store: Store, trail: Trail) -> None:
    trail.append_many([Event("clerk:1", "read", subject=str(i)) for i in range(17)])
    forge(store, 16, b"\x01" * 32, actor="clerk:9")
    _check(trail, 16)


def test_a_verifier_without_the_mac_key_fails(trail: Trail, settings: Settings) -> None:
    trail.append("clerk:1", "read")
    (settings.keys_dir / "trail-mac.key").unlink()
    report = _check(trail, 0)
    assert "trail-mac.key" in str(report["reason"])


def _legacy(store: Store, trail: Trail, count: int) -> None:
    """Entries as the code before MACs wrote them: format 1, no address, no MAC."""
    hashed = trail.subject_hash("4242")
    leaves = []
    with store.engine.begin() as conn:
        for idx in range(count):
            row = (idx, T0, "clerk:1", "read", "ok", hashed, "credit_evaluation", *(None,) * 6)
            leaf = tlog.leaf_hash(leaf_data(*row))
            leaves.append(leaf)
            values = dict(zip(FIELDS, row, strict=True), subject_tag=int(hashed[:15], 16))
            conn.execute(E.insert().values(**values, leaf_hash=leaf, v=1))
        rebuild_nodes(conn, leaves)


def test_format_1_and_2_entries_verify_together_once_sealed(
    store: Store, trail: Trail, settings: Settings
) -> None:
    _legacy(store, trail, 20)
    assert "trail-mac.key" in str(_check(trail, 0)["reason"])  # no MAC key yet
    trail.entry_mac()  # made on first use
    report = _check(trail, 0)  # no MAC yet: not trusted
    assert "init" in str(report["reason"])
    with pytest.raises(TrailError):  # nor signed over
        trail.checkpoint()
    _note_adoption(settings, "0007")  # what `fpcredit init` notes when it migrates from 0007
    initialise(settings)  # … and, after the migration: verifies, then seals
    assert [r.mac is not None for r in _rows(store)] == [True] * 20
    trail.append_many([Event("clerk:2", "read", address="10.9.8.7") for _ in range(5)])
    trail.checkpoint()
    assert [r.v for r in _rows(store)] == [1] * 20 + [2] * 5
    for_subject = trail.for_subject("4242")
    assert [p.entry.idx for p in for_subject.entries] == list(range(20))
    _check(trail, None)
    assert seal(store, settings) == 0  # nothing left to seal


def test_init_on_a_current_store_seals_nothing_an_insider_slipped_in(
    store: Store, trail: Trail, settings: Settings
) -> None:
    trail.append("clerk:1", "read")
    # Entries without MACs, as an insider with database access alone could add them.
    with store.engine.begin() as conn:
        conn.execute(E.delete())
        conn.execute(s.ledger_nodes.delete())
    _legacy(store, trail, 3)
    initialise(settings)  # no migration ran: nothing is adopted
    assert all(r.mac is None for r in _rows(store))
    assert "init" in str(_check(trail, 0)["reason"])


def test_a_damaged_legacy_trail_is_not_sealed(
    store: Store, trail: Trail, settings: Settings
) -> None:
    _legacy(store, trail, 20)
    with store.engine.begin() as conn:
        conn.execute(E.update().where(E.c.idx == 9).values(actor="clerk:9"))
    with pytest.raises(TrailError, match="20"):
        seal(store, settings)
    assert all(r.mac is None for r in _rows(store))
    _check(trail, 0)  # the entries still have no MAC
