"""The trail on the store (guard/trail/log.py), on every backend: proofs, checkpoints, tampering."""

from __future__ import annotations

import datetime as dt
import json
import os
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.errors import TrailError
from fpcredit.guard.trail import tlog
from fpcredit.guard.trail.log import Event, Trail, leaf_data, record_rows
from fpcredit.guard.trail.verify import verify
from fpcredit.store import schema as s
from fpcredit.store.bulk import bulk_insert
from fpcredit.store.db import Store
from tests.guard.killed import acknowledged_before_kill

E, N, C = s.ledger_entries, s.ledger_nodes, s.ledger_checkpoints
T0 = dt.datetime(2026, 3, 1, 8, 0, 0)


@pytest.fixture
def trail(store: Store, settings: Settings) -> Trail:
    return Trail(store, settings)


LEAF_FIELDS = [c.name for c in E.columns][:13]  # idx … state: the leaf's columns before v


def _leaf(row: Any) -> bytes:
    fields = [row._mapping[name] for name in LEAF_FIELDS]
    return tlog.leaf_hash(leaf_data(*fields, address=row.address, v=row.v))


def _entries(store: Store) -> list[Any]:
    with store.engine.connect() as conn:
        return list(conn.execute(sa.select(E).order_by(E.c.idx)))


def test_append_and_proofs_round_trip(store: Store, trail: Trail) -> None:
    heads = []
    for i in range(21):
        trail.append("clerk:330102:7", "read", subject=f"{i % 4}", purpose="credit_evaluation")
        heads.append(trail.head())
    added = trail.append_many(
        [Event("svc:hb", "query", "denied" if i % 5 else "ok", str(i)) for i in range(40)]
    )
    assert added == range(21, 61)
    head = trail.head()
    rows = _entries(store)
    leaves = [_leaf(r) for r in rows]
    assert [r.idx for r in rows] == list(range(61))
    assert leaves == [bytes(r.leaf_hash) for r in rows]
    assert head.size == 61 and head.root == tlog.root_hash(leaves)
    for index in range(head.size):
        proof = trail.inclusion_proof(index)
        assert tlog.verify_inclusion(index, head.size, leaves[index], proof, head.root)
    for old in heads:
        proof = trail.consistency_proof(old.size)
        assert tlog.verify_consistency(old.size, head.size, proof, old.root, head.root)
        back = trail.inclusion_proof(0, old.size)
        assert tlog.verify_inclusion(0, old.size, leaves[0], back, old.root)
    with pytest.raises(TrailError):
        trail.inclusion_proof(61)
    with pytest.raises(TrailError):
        trail.consistency_proof(3, 62)
    # Stored nodes are the complete subtrees from level 4 up (lower ones are recomputed).
    with store.engine.connect() as conn:
        nodes = {(lv, i): bytes(h) for lv, i, h in conn.execute(sa.select(N))}
    tree = tlog.MemoryTree(leaves)
    assert nodes == {
        (lv, i): h for lv in range(4, len(tree.levels)) for i, h in enumerate(tree.levels[lv])
    }
    assert verify(store, trail.settings, verifier_key=trail.verifier_key())["ok"]


def test_checkpoints_are_signed_notes(store: Store, trail: Trail, settings: Settings) -> None:
    trail.append_many([Event("clerk:1", "read", subject="p") for _ in range(5)])
    note = trail.checkpoint()
    verifier = tlog.NoteVerifier.from_key_string(trail.verifier_key())
    head = tlog.Checkpoint.parse(tlog.open_note(note, [verifier]))
    assert (head.origin, head.size, head.root) == ("fpcredit/trail", 5, trail.head().root)
    assert trail.checkpoint() == note == trail.latest_checkpoint()  # nothing new: same note
    trail.append("clerk:1", "read")
    second = trail.checkpoint()
    assert tlog.Checkpoint.parse(tlog.open_note(second, [verifier])).size == 6
    key = settings.keys_dir / "ledger-signing.key"
    assert key.stat().st_mode & 0o077 == 0
    # PRIVATE+KEY+name+id+base64: the base64 itself may hold a "+".
    secret = key.read_text().strip().split("+", 4)[4]
    with store.engine.connect() as conn:
        for table in (E, N, C):
            for row in conn.execute(sa.select(table)):
                assert secret not in repr(row)
    assert secret not in repr(trail) and secret not in repr(trail.signer())
    # A second Trail (another process) reads the same key.
    assert Trail(store, settings).verifier_key() == trail.verifier_key()


def _damage_node(conn: sa.Connection) -> None:
    conn.execute(N.update().where(N.c.level == 4, N.c.idx == 0).values(hash=b"\x01" * 32))


def _damage_leaf(conn: sa.Connection) -> None:
    conn.execute(E.update().where(E.c.idx == 22).values(leaf_hash=b"\x02" * 32))


def _damage_entry(conn: sa.Connection) -> None:
    conn.execute(E.update().where(E.c.idx == 23).values(action="write"))


def _forge_checkpoint(conn: sa.Connection) -> None:
    conn.execute(C.update().values(root=b"\x03" * 32))


@pytest.mark.parametrize("damage", [_damage_node, _damage_leaf, _damage_entry, _forge_checkpoint])
def test_checkpoint_refuses_an_inconsistent_tree(
    store: Store, trail: Trail, damage: Callable[[sa.Connection], None]
) -> None:
    trail.append_many([Event("clerk:1", "read") for _ in range(20)])
    trail.checkpoint()
    # Appended by another process: the signer reads these back before it signs over them
    # (its own appends it vouches for by the tree they grew, `Trail.vouches`).
    Trail(store, trail.settings).append_many([Event("clerk:1", "read") for _ in range(5)])
    with store.engine.begin() as conn:
        damage(conn)
    with pytest.raises(TrailError):
        trail.checkpoint()
    assert not verify(store, trail.settings, verifier_key=trail.verifier_key())["ok"]
    with store.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(C)) == 1


def test_the_signer_vouches_for_an_earlier_size_of_its_run(store: Store, trail: Trail) -> None:
    # A checkpoint reads the tree from a snapshot while appends go on: the size it read is
    # usually not the newest append's, and is vouched for all the same (no read-back).
    trail.append_many([Event("clerk:1", "read") for _ in range(20)])
    trail.checkpoint()
    trail.append_many([Event("clerk:1", "read") for _ in range(5)])
    earlier = trail.head()
    trail.append_many([Event("clerk:1", "read") for _ in range(7)])
    assert trail.vouches(20, earlier.size, earlier.root)
    assert not trail.vouches(20, earlier.size, trail.head().root)  # not the tree it grew
    assert not trail.vouches(20, earlier.size - 1, earlier.root)  # no append ended there
    Trail(store, trail.settings).append("clerk:2", "read")
    trail.append("clerk:1", "read")  # a new run: the old one's sizes are forgotten
    assert not trail.vouches(20, earlier.size, earlier.root)


def test_the_signer_vouches_for_its_own_appends_by_their_tree(store: Store, trail: Trail) -> None:
    trail.append_many([Event("clerk:1", "read") for _ in range(20)])
    trail.checkpoint()
    trail.append_many([Event("clerk:1", "read") for _ in range(5)])
    size, root = trail.head().size, trail.head().root
    assert trail.vouches(20, size, root) and not trail.vouches(20, size, b"\x00" * 32)
    Trail(store, trail.settings).append("clerk:2", "read")  # another's entry in between
    head = trail.head()
    assert not trail.vouches(20, head.size, head.root)
    trail.append("clerk:1", "read")
    after = trail.head()
    assert not trail.vouches(20, after.size, after.root)  # the run restarted after it
    assert trail.vouches(after.size - 1, after.size, after.root)
    # A row changed between append and checkpoint is not read back: `verify` finds it.
    with store.engine.begin() as conn:
        _damage_entry(conn)
    assert not verify(store, trail.settings, verifier_key=trail.verifier_key())["ok"]


def test_checkpoint_refuses_a_shrunk_log(store: Store, trail: Trail) -> None:
    trail.append_many([Event("clerk:1", "read") for _ in range(9)])
    trail.checkpoint()
    with store.engine.begin() as conn:
        conn.execute(E.delete().where(E.c.idx == 8))
    with pytest.raises(TrailError):
        trail.checkpoint()
    report = verify(store, trail.settings, verifier_key=trail.verifier_key())
    assert (report["ok"], report["first_bad"]) == (False, 0)


def test_subject_entries_come_with_proofs(store: Store, trail: Trail) -> None:
    subject = "110105194912310021"
    for i in range(30):
        who = subject if i % 7 == 0 else f"other{i}"
        trail.append(f"clerk:{i}", "read", subject=who, purpose="incentive_verification")
    page = trail.for_subject(subject)
    assert [p.entry.idx for p in page.entries] == [0, 7, 14, 21, 28]
    assert page.size == 30 and page.root == trail.head().root
    for proven in page.entries:
        e = proven.entry
        assert e.subject_hash == trail.subject_hash(subject)
        assert e.purpose == "incentive_verification"
        assert tlog.verify_inclusion(e.idx, page.size, e.leaf_hash, proven.proof, page.root)
        assert json.loads(json.dumps(e.as_json()))["idx"] == e.idx
    assert trail.for_subject("nobody").entries == []
    # Entries are found by their indexed tag, then checked against the whole hash.
    tag = int(trail.subject_hash(subject)[:15], 16)
    with store.engine.connect() as conn:
        tags = conn.scalars(sa.select(E.c.subject_tag).where(E.c.idx.in_([0, 7]))).all()
        assert tags == [tag, tag]
    # The subject itself is stored nowhere: only its keyed hash.
    with store.engine.connect() as conn:
        for row in conn.execute(sa.select(E)):
            assert subject not in repr(row)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("actor", "王芳"),
        ("actor", "clerk 7"),
        ("action", "read:110105194912310021"),
        ("purpose", "13800138000"),
        ("outcome", ""),
        ("actor", "x" * 65),
    ],
)
def test_personal_data_is_refused(trail: Trail, field: str, value: str) -> None:
    event = {"actor": "clerk:1", "action": "read", "outcome": "ok", "purpose": None}
    event[field] = value
    with pytest.raises(TrailError):
        trail.append_many([Event(**event)])  # type: ignore[arg-type]
    assert trail.head().size == 0


def test_leaf_data_is_sorted_compact_json() -> None:
    values = [7, T0, "a", "b", "c", "d" * 64, None, "facts", 1, 9, 9, "e" * 64, "disputed"]
    names = "idx at actor action outcome subject_hash purpose table_name first_id last_id"
    names += " row_count rows_sha256 state"
    doc = dict(zip(names.split(), values, strict=True))
    doc.update(at="2026-03-01T08:00:00.000000Z", v=1)
    expected = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert leaf_data(*values) == expected.encode()  # type: ignore[arg-type]


# --- covered tables ------------------------------------------------------------------------------


def _ingest(
    conn: sa.Connection, keys: Path, first: int, count: int, key_of: Callable[[int], str]
) -> None:
    """What ingestion writes for `count` rows (records, mentions, facts with ids from `first`),
    then the two change entries it will append."""
    if conn.scalar(sa.select(sa.func.count()).select_from(s.ingestions)) == 0:
        conn.execute(
            s.ingestions.insert().values(
                id=1,
                source="mch",
                path="f.csv",
                file_sha256="0" * 64,
                standard_version="1",
                rows=0,
                accepted=0,
                duplicates=0,
                quarantined=0,
                flagged=0,
                dropped_fields="[]",
                started_at=T0,
                finished_at=T0,
            )
        )
    ids = range(first, first + count)
    common = [
        {
            "id": i,
            "source": "mch",
            "record_key": key_of(i),
            "row_hash": f"{i:064x}",
            "kind": "prenatal_check",
            "event_date": dt.date(2026, 1, 1) + dt.timedelta(days=i),
            "recorded_at": T0 + dt.timedelta(hours=i, microseconds=i),
        }
        for i in ids
    ]
    conn.execute(
        s.records.insert(), [{**c, "ingestion_id": 1, "row_number": c["id"]} for c in common]
    )
    conn.execute(
        s.mentions.insert(),
        [{"id": i, "record_id": i, "role": "self", "id_status": "valid"} for i in ids],
    )
    facts = [
        {
            **c,
            "record_id": c["id"],
            "subject_mention_id": c["id"],
            "attrs": '{"天数":"3"}',
            "disputed": False,
        }
        for c in common
    ]
    conn.execute(s.facts.insert(), facts)
    last = first + count - 1
    record_rows(conn, "records", first, last, "ingest:mch", "ingest", keys_dir=keys)
    record_rows(conn, "facts", first, last, "ingest:mch", "ingest", keys_dir=keys)


@pytest.fixture
def scenario(store: Store, trail: Trail) -> Trail:
    """Entries: 0 access, 1 records 1–3, 2 facts 1–3, 3 access, 4 records 4–6, 5 facts 4–6,
    6–24 access (so a stored node exists), and a checkpoint at 25."""
    trail.append("clerk:1", "read", subject="1", purpose="credit_evaluation")
    with store.engine.begin() as conn:
        _ingest(conn, trail.keys_dir, 1, 3, lambda i: f"K{i}")
    trail.append("clerk:2", "read", subject="2", purpose="credit_evaluation")
    with store.engine.begin() as conn:
        _ingest(conn, trail.keys_dir, 4, 3, lambda i: f"K{i}")
    trail.append_many([Event("clerk:3", "read", subject=str(i)) for i in range(19)])
    trail.checkpoint()
    return trail


def _check(store: Store, trail: Trail, first_bad: int | None) -> dict[str, Any]:
    report = verify(store, trail.settings, verifier_key=trail.verifier_key())
    assert report["first_bad"] == first_bad, report
    assert report["ok"] is (first_bad is None)
    return report


def test_untouched_store_verifies(store: Store, scenario: Trail) -> None:
    report = _check(store, scenario, None)
    assert report["entries"] == 25
    assert {"ledger_entries", "records", "facts"} <= set(report["covered_tables"])
    entries = _entries(store)
    assert [(e.table_name, e.first_id, e.last_id, e.row_count) for e in entries[1:3]] == [
        ("records", 1, 3, 3),
        ("facts", 1, 3, 3),
    ]


def _set(table: sa.Table, row_id: int, **values: Any) -> Callable[[sa.Connection], object]:
    return lambda conn: conn.execute(table.update().where(table.c.id == row_id).values(**values))


def _swap_records(conn: sa.Connection) -> None:
    r = s.records
    a, b = (conn.execute(sa.select(r).where(r.c.id == i)).one()._asdict() for i in (1, 2))
    conn.execute(r.update().where(r.c.id == 1).values(record_key="tmp"))
    conn.execute(r.update().where(r.c.id == 2).values({k: v for k, v in a.items() if k != "id"}))
    conn.execute(r.update().where(r.c.id == 1).values({k: v for k, v in b.items() if k != "id"}))


def _swap_facts_across_entries(conn: sa.Connection) -> None:
    f = s.facts
    a, b = (conn.execute(sa.select(f.c.attrs, f.c.kind).where(f.c.id == i)).one() for i in (2, 5))
    conn.execute(f.update().where(f.c.id == 2).values(attrs=b.attrs + " ", kind=b.kind))
    conn.execute(f.update().where(f.c.id == 5).values(attrs=a.attrs + " ", kind=a.kind))


def _delete_record(conn: sa.Connection) -> None:
    # With what refers to it: the fact (entry 5) and the mention; the record's entry comes first.
    for table in (s.facts, s.mentions):
        conn.execute(table.delete().where(table.c.record_id == 6))
    conn.execute(s.records.delete().where(s.records.c.id == 6))


def _insert_fact(conn: sa.Connection) -> None:
    row = conn.execute(sa.select(s.facts).where(s.facts.c.id == 6)).one()._asdict()
    conn.execute(s.facts.insert().values({**row, "id": 7, "record_key": "K7"}))


def _swap_entries(conn: sa.Connection) -> None:
    for old, new in ((3, 1000), (6, 3), (1000, 6)):
        conn.execute(E.update().where(E.c.idx == old).values(idx=new))


TAMPERING = {
    "records: update a column": (_set(s.records, 5, kind="contraception"), 4),
    "records: update the id-range edge": (_set(s.records, 3, row_number=99), 1),
    "records: delete a row": (_delete_record, 4),
    "records: insert a row": (
        lambda c: c.execute(
            s.records.insert().values(
                id=7,
                source="mch",
                record_key="K7",
                row_hash="7" * 64,
                kind="x",
                event_date=dt.date(2026, 1, 1),
                recorded_at=T0,
                ingestion_id=1,
                row_number=7,
            )
        ),
        25,
    ),
    "records: swap two rows": (_swap_records, 1),
    "facts: update attrs": (_set(s.facts, 2, attrs='{"天数":"4"}'), 2),
    "facts: update recorded_at": (_set(s.facts, 4, recorded_at=T0), 5),
    "facts: set disputed": (_set(s.facts, 6, disputed=True), 5),
    "facts: set superseded_at": (_set(s.facts, 1, superseded_at=T0), 2),
    "facts: delete a row": (lambda c: c.execute(s.facts.delete().where(s.facts.c.id == 6)), 5),
    "facts: insert a row": (_insert_fact, 25),
    "facts: swap contents across entries": (_swap_facts_across_entries, 2),
    "trail: alter an entry": (
        lambda c: c.execute(E.update().where(E.c.idx == 3).values(actor="clerk:9")),
        3,
    ),
    "trail: alter a change entry's digest": (
        lambda c: c.execute(E.update().where(E.c.idx == 4).values(rows_sha256="0" * 64)),
        4,
    ),
    # A wrong tag hides the entry from its subject's access log without touching the leaf.
    "trail: alter an entry's subject tag": (
        lambda c: c.execute(E.update().where(E.c.idx == 3).values(subject_tag=7)),
        3,
    ),
    "trail: clear an entry's subject tag": (
        lambda c: c.execute(E.update().where(E.c.idx == 3).values(subject_tag=None)),
        3,
    ),
    "trail: delete an entry": (lambda c: c.execute(E.delete().where(E.c.idx == 3)), 3),
    "trail: reorder entries": (_swap_entries, 3),
    "trail: insert an entry past the end": (
        lambda c: c.execute(
            E.insert().values(
                idx=25, at=T0, actor="x", action="y", outcome="ok", leaf_hash=b"\0" * 32
            )
        ),
        25,
    ),
    "trail: alter a node": (lambda c: c.execute(N.update().values(hash=b"\x05" * 32)), 15),
    "trail: delete a node": (lambda c: c.execute(N.delete()), 15),
    "trail: forge the checkpoint's root": (
        lambda c: c.execute(C.update().values(root=b"\x06" * 32)),
        0,
    ),
}


@pytest.mark.parametrize("case", TAMPERING, ids=list(TAMPERING))
def test_tampering_is_found(store: Store, scenario: Trail, case: str) -> None:
    damage, first_bad = TAMPERING[case]
    with store.engine.begin() as conn:
        damage(conn)
    report = _check(store, scenario, first_bad)
    assert report["reason"]


def rewrite(
    store: Store, idx: int, mac: Callable[[bytes], bytes] | None = None, **values: Any
) -> None:
    """An insider's rewrite of an entry: its columns, its leaf hash and every stored node
    recomputed, and a MAC — a valid one only with the MAC key (`mac`), else a made-up one."""
    with store.engine.begin() as conn:
        conn.execute(E.update().where(E.c.idx == idx).values(**values))
        row = conn.execute(sa.select(E).where(E.c.idx == idx)).one()
        leaf = _leaf(row)
        made = b"\x07" * 32 if mac is None else mac(leaf)
        conn.execute(E.update().where(E.c.idx == idx).values(leaf_hash=leaf, mac=made))
        leaves = [bytes(h) for h in conn.scalars(sa.select(E.c.leaf_hash).order_by(E.c.idx))]
        tree = tlog.MemoryTree(leaves)
        conn.execute(N.delete())
        conn.execute(
            N.insert(),
            [
                {"level": lv, "idx": i, "hash": h}
                for lv in range(4, len(tree.levels))
                for i, h in enumerate(tree.levels[lv])
            ],
        )


@pytest.mark.parametrize("has_mac_key", [False, True], ids=["insider", "insider_with_mac_key"])
def test_a_consistent_rewrite_is_caught(store: Store, scenario: Trail, has_mac_key: bool) -> None:
    """An attacker who rewrites an entry, its leaf hash and every node, but cannot sign: the
    entry's MAC gives it away; with the MAC key too, the signed checkpoints still do."""
    scenario.append_many([Event("clerk:4", "read") for _ in range(10)])
    scenario.checkpoint()  # at 35; the entry rewritten below is past the first one at 25
    rewrite(store, 30, scenario.entry_mac() if has_mac_key else None, actor="clerk:9")
    if has_mac_key:
        report = _check(store, scenario, 25)  # entries before the matching checkpoint are proven
        assert "35" in str(report["reason"])
    else:
        report = _check(store, scenario, 30)
        assert "MAC" in str(report["reason"])
    with pytest.raises(TrailError):
        scenario.checkpoint()


def test_fact_states_are_replayed(store: Store, scenario: Trail) -> None:
    idx = scenario.record_fact_state(2, True, "clerk:5", "objection_handling")
    _check(store, scenario, idx)  # the column was not updated with it
    with store.engine.begin() as conn:
        conn.execute(s.facts.update().where(s.facts.c.id == 2).values(disputed=True))
    _check(store, scenario, None)
    with store.engine.begin() as conn:
        conn.execute(s.facts.update().where(s.facts.c.id == 2).values(disputed=False))
        scenario.record_fact_state(2, False, "clerk:5", "objection_handling", conn=conn)
    _check(store, scenario, None)


def test_corrections_supersede_by_later_ingestions_only(store: Store, trail: Trail) -> None:
    with store.engine.begin() as conn:
        # One file with two versions of K1 (ingestion supersedes nothing within a file).
        _ingest(conn, trail.keys_dir, 1, 3, lambda i: "K1" if i < 3 else "K3")
    with store.engine.begin() as conn:
        _ingest(conn, trail.keys_dir, 4, 1, lambda i: "K1")  # a correction of K1 in a later file
        later = conn.scalar(sa.select(s.facts.c.recorded_at).where(s.facts.c.id == 4))
        conn.execute(s.facts.update().where(s.facts.c.id.in_([1, 2])).values(superseded_at=later))
    _check(store, trail, None)
    with store.engine.begin() as conn:
        conn.execute(s.facts.update().where(s.facts.c.id == 2).values(superseded_at=None))
    _check(store, trail, 1)


def test_record_rows_refuses_what_it_cannot_cover(store: Store, settings: Settings) -> None:
    keys = settings.keys_dir
    with store.engine.begin() as conn:
        with pytest.raises(TrailError):
            record_rows(conn, "persons", 1, 2, "ingest:mch", "ingest", keys_dir=keys)
        with pytest.raises(TrailError):
            record_rows(conn, "facts", 5, 4, "ingest:mch", "ingest", keys_dir=keys)
        with pytest.raises(TrailError):  # no MAC key, no entry
            record_rows(conn, "facts", 1, 1, "ingest:mch", "ingest", keys_dir=None)


@pytest.mark.slow
def test_verify_streams_a_large_store(store: Store, trail: Trail) -> None:
    """Covered tables of FPCREDIT_LEDGER_ROWS rows each (default 200,000), as bulk ingestion
    writes them: verified by streaming, and one altered fact in the middle is found."""
    rows = int(os.environ.get("FPCREDIT_LEDGER_ROWS", "200000"))
    sqlite = store.dialect == "sqlite"
    keys = trail.keys_dir

    def t(v: dt.date) -> Any:  # the driver's own form, as ingestion writes it
        return v.isoformat(sep=" ") if sqlite and isinstance(v, dt.datetime) else v

    common = ["id", "source", "record_key", "row_hash", "kind", "event_date", "recorded_at"]
    half = rows // 2
    with store.engine.begin() as conn:
        _ingest(conn, trail.keys_dir, 1, 1, lambda i: "K1")
        for first, last in ((2, half), (half + 1, rows)):
            ids = range(first, last + 1)

            def base(i: int) -> tuple[Any, ...]:
                day = dt.date(2026, 1, 1) + dt.timedelta(days=i % 300)
                return (i, "mch", f"K{i}", f"{i:064x}", "x", t(day), t(T0 + dt.timedelta(i)))

            bulk_insert(
                conn,
                s.records,
                [*common, "ingestion_id", "row_number"],
                ((*base(i), 1, i) for i in ids),
            )
            bulk_insert(
                conn,
                s.mentions,
                ["id", "record_id", "role", "id_status"],
                ((i, i, "self", "valid") for i in ids),
            )
            bulk_insert(
                conn,
                s.facts,
                [*common, "record_id", "subject_mention_id", "attrs", "disputed"],
                ((*base(i), i, i, '{"n":"1"}', False) for i in ids),
            )
            record_rows(conn, "records", first, last, "ingest:mch", "ingest", keys_dir=keys)
            record_rows(conn, "facts", first, last, "ingest:mch", "ingest", keys_dir=keys)
    trail.checkpoint()
    start = time.monotonic()
    report = _check(store, trail, None)
    assert report["entries"] == 6 and time.monotonic() - start < 120
    with store.engine.begin() as conn:
        conn.execute(s.facts.update().where(s.facts.c.id == half + 7).values(kind="y"))
    _check(store, trail, 5)


# --- durability ----------------------------------------------------------------------------------

_BURST = textwrap.dedent(
    """
    import sys
    from fpcredit.config import Settings
    from fpcredit.guard.trail.log import Trail
    from fpcredit.store.db import open_store

    settings = Settings(home=sys.argv[1], database_url=sys.argv[2] or None)
    trail = Trail(open_store(settings), settings)
    while True:
        idx = trail.append("svc:burst", "read", subject="p", purpose="credit_evaluation")
        print(idx, flush=True)
    """
)


def test_kill_9_loses_no_acknowledged_entry(store: Store, trail: Trail, settings: Settings) -> None:
    trail.append("svc:burst", "warm_up")
    acknowledged = acknowledged_before_kill(_BURST, settings, 300)
    with store.engine.connect() as conn:
        stored = set(conn.scalars(sa.select(E.c.idx)))
    assert set(acknowledged) <= stored
    _check(store, trail, None)
    trail.append("svc:after", "read")  # the log goes on where the killed writer stopped
    assert trail.checkpoint()
