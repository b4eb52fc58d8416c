"""Ingestion: reconciliation, idempotence, quarantine, minimum necessary, unreadable files."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from fpcredit.collect.ingest import ingest_file
from fpcredit.collect.quality import list_issues
from fpcredit.config import Settings
from fpcredit.errors import FeedError, StoreError
from fpcredit.guard.keys.crypto import Vault, create_keys, load_vault
from fpcredit.messages import text
from fpcredit.store import schema as s
from fpcredit.store.db import Store, open_store
from tests.collect.feeds import (
    MOTHER,
    corrupt,
    health_row,
    make_id,
    write_csv,
    write_jsonl,
    write_parquet,
)


def _health_feed(tmp_path: Path) -> Path:
    rows = [
        health_row("330106000001"),
        health_row("330106000002", 母亲身份证号=corrupt(MOTHER), 母亲姓名="李娜"),
        health_row("330106000003", 出生日期="2021-02-30"),
        health_row("330106000004", 新生儿性别="X"),
        health_row("330106000005", 孩次="3", 孕次="2"),
        health_row("330106000006", 登记证编号=""),
        health_row("330106000001"),  # verbatim re-send
    ]
    return write_csv(tmp_path / "health.csv", rows)


def test_rows_reconcile_and_reingest_accepts_nothing(
    store: Store, vault: Vault, tmp_path: Path
) -> None:
    path = _health_feed(tmp_path)
    first = ingest_file(store, vault, "health", path)
    assert (first.rows, first.accepted, first.duplicates, first.quarantined) == (7, 3, 1, 3)
    assert first.flagged == 2  # wrong check digit; births > pregnancies
    again = ingest_file(store, vault, "health", path)
    assert again.accepted == 0
    assert again.rows == again.accepted + again.duplicates + again.quarantined
    counts = store.status()
    assert counts["records"] == 3 and counts["facts"] == 3 and counts["quarantined"] == 3


def test_quality_list_names_field_rule_and_action(
    store: Store, vault: Vault, tmp_path: Path
) -> None:
    ingest_file(store, vault, "health", _health_feed(tmp_path))
    issues = {(i["record_key"], i["field"], i["rule"], i["action"]) for i in list_issues(store)}
    assert ("330106000002", "mother.id_number", "id_check_digit", "flagged") in issues
    assert ("330106000003", "fact.event_date", "date_impossible", "quarantined") in issues
    assert ("330106000004", "fact.child_sex", "code_unknown", "quarantined") in issues
    assert ("330106000005", "fact.birth_order", "births_gt_pregnancies", "flagged") in issues
    assert (None, "record_key", "required_missing", "quarantined") in issues
    assert not any(key == "330106000001" for key, *_ in issues)
    english = list_issues(store, "health", lang="en")
    assert any(
        "check digit" in i["message"] and "mother.id_number" in i["message"] for i in english
    )


def test_invalid_id_keeps_record_and_marks_it_unusable(
    store: Store, vault: Vault, tmp_path: Path
) -> None:
    ingest_file(store, vault, "health", _health_feed(tmp_path))
    with store.engine.connect() as conn:
        row = conn.execute(
            sa.select(s.mentions.c.id_status, s.mentions.c.id_reason, s.mentions.c.name_enc)
            .join(s.records, s.records.c.id == s.mentions.c.record_id)
            .where(s.records.c.record_key == "330106000002", s.mentions.c.role == "mother")
        ).one()
    assert row.id_status == "invalid" and row.id_reason == "check_digit"
    assert vault.decrypt(row.name_enc, "name") == "李娜"


def _dump(settings: Settings, store: Store) -> bytes:
    if store.dialect == "sqlite":
        store.engine.dispose()
        db = settings.home / "fpcredit.db"
        return b"".join(p.read_bytes() for p in db.parent.glob("fpcredit.db*"))
    url = settings.url.replace("postgresql+psycopg", "postgresql")
    return subprocess.run(["pg_dump", url], capture_output=True, check=True).stdout


def test_fields_outside_the_standard_are_dropped_and_never_stored(
    store: Store, vault: Vault, settings: Settings, tmp_path: Path
) -> None:
    markers = {
        "religion": "MARKER-RELIGION-7731",
        "income": "MARKER-INCOME-7732",
        "vehicle": "MARKER-VEHICLE-7733",
    }
    path = write_csv(tmp_path / "h.csv", [health_row("330106000001", **markers)])
    report = ingest_file(store, vault, "health", path)
    assert report.dropped_fields == ["income", "religion", "vehicle"]
    dump = _dump(settings, store)
    for marker in markers.values():
        assert marker.encode() not in dump
    for plain in (MOTHER, "王芳", "13812345678"):
        for encoding in ("utf-8", "gb18030", "utf-16-le"):
            assert plain.encode(encoding) not in dump


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.csv", b"", "文件为空"),
        ("header.csv", "登记证编号,母亲姓名\n1,王芳\n".encode("gb18030"), "缺少必需列"),
        ("nodata.csv", "登记证编号,母亲姓名\n".encode("gb18030"), "没有数据行"),
        ("utf8.csv", "登记证编号\n\udcff".encode("utf-8", "surrogateescape"), "GB18030"),
    ],
)
def test_unreadable_file_fails_and_leaves_store_unchanged(
    store: Store, vault: Vault, tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    before = store.status()
    with pytest.raises(FeedError, match=reason):
        ingest_file(store, vault, "health", path)
    assert store.status() == before


def test_truncated_parquet_fails_cleanly(store: Store, vault: Vault, tmp_path: Path) -> None:
    good = write_parquet(tmp_path / "civil.parquet", [{"cert_no": "3301060001"}])
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(good.read_bytes()[:-20])
    with pytest.raises(FeedError, match="Parquet"):
        ingest_file(store, vault, "civil", cut)
    assert store.status()["records"] == 0


def test_parquet_column_without_a_text_form_is_named(
    store: Store, vault: Vault, tmp_path: Path
) -> None:
    path = tmp_path / "civil.parquet"
    pq.write_table(pa.table({"cert_no": ["3301060001"], "reg_type": [[1, 2]]}), path)
    with pytest.raises(FeedError) as caught:
        ingest_file(store, vault, "civil", path)
    assert caught.value.reason == text("feed.column_not_text", column="reg_type")
    assert store.status()["records"] == 0


def test_jsonl_broken_line_is_quarantined_verbatim(
    store: Store, vault: Vault, tmp_path: Path
) -> None:
    person = make_id("330106", "19900307", "002")
    good = {
        "rkbm": "R00000000001",
        "hh": "12345678",
        "gmsfhm": person,
        "xm": "王芳",
        "xb": "2",
        "csrq": "19900307",
        "yhzgx": "02",
        "hkxz": "1",
        "hjdz_xzqh": "330106",
        "jzd_xzqh": "330106",
        "zy": "F",
        "lxdh": "",
        "zz": "西湖区",
        "bdrq": "20100101",
        "djsj": "2010-01-05T09:00:00",
    }
    path = write_jsonl(tmp_path / "police.jsonl", [good])
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"rkbm": "R00000000002", "xm": \n')
    report = ingest_file(store, vault, "police", path)
    assert (report.rows, report.accepted, report.quarantined) == (2, 1, 1)
    with store.engine.connect() as conn:
        blob = conn.execute(sa.select(s.quarantine.c.row_enc)).scalar_one()
        facts = conn.execute(
            sa.select(s.facts.c.attrs, s.mentions.c.urban_rural, s.mentions.c.occupation).join(
                s.mentions, s.mentions.c.id == s.facts.c.subject_mention_id
            )
        ).one()
    assert "R00000000002" in (vault.decrypt(blob, "quarantine_row") or "")
    assert '"household_code":"12345678"' in facts.attrs
    assert (facts.urban_rural, facts.occupation) == ("urban", "F")


def test_correction_supersedes_the_older_version(
    store: Store, vault: Vault, tmp_path: Path
) -> None:
    ingest_file(store, vault, "health", write_csv(tmp_path / "a.csv", [health_row("330106000001")]))
    fixed = health_row("330106000001", 孕次="2", 登记时间="2021-06-01 08:00:00")
    report = ingest_file(store, vault, "health", write_csv(tmp_path / "b.csv", [fixed]))
    assert report.accepted == 1
    with store.engine.connect() as conn:
        rows = (
            conn.execute(sa.select(s.facts.c.superseded_at).order_by(s.facts.c.id)).scalars().all()
        )
    assert rows[0] is not None and rows[1] is None


def test_busy_store_fails_with_a_reason_and_stores_nothing(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", lock_timeout_s=0.2)
    st = open_store(settings)
    st.upgrade()
    create_keys(settings.keys_dir)
    holder = sqlite3.connect(settings.home / "fpcredit.db")
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    path = write_csv(tmp_path / "h.csv", [health_row("330106000001")])
    with pytest.raises(StoreError, match="本文件未入库") as info:
        ingest_file(st, load_vault(settings.keys_dir), "health", path)
    assert "\n" not in str(info.value) and MOTHER not in str(info.value)
    holder.rollback()
    assert st.status()["records"] == 0


def test_every_rule_is_documented_for_clerks() -> None:
    from fpcredit.messages import RULES

    doc = (Path(__file__).resolve().parents[2] / "docs" / "ingestion.md").read_text("utf-8")
    for rule in RULES:
        assert f"`{rule}`" in doc, rule
