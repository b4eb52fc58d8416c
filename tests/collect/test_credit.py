"""The credit office's feed: credit events and objective difficulties, by hand and synthesised."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from fpcredit.collect.ingest import ingest_file
from fpcredit.collect.quality import list_issues
from fpcredit.guard.keys.crypto import Vault
from fpcredit.store import schema as s
from fpcredit.store.db import Store
from fpcredit.synth import generate
from tests.collect.feeds import MOTHER, make_id, write_csv

PERSON = make_id("520502", "19850405", "637")  # a migrant from 贵州


def credit_row(key: str, category: str = "信用事件", **over: str) -> dict[str, str]:
    row = {
        "记录编号": key,
        "类别": category,
        "姓名": "王芳",
        "身份证号": MOTHER,
        "性别": "女",
        "出生日期": "1990-03-07",
        "事件类型": "虚假申报" if category == "信用事件" else "",
        "严重程度": "一般" if category == "信用事件" else "",
        "困难范围": "避孕节育" if category == "客观困难" else "",
        "困难原因": "外出务工" if category == "客观困难" else "",
        "有效期至": "2024-09-30" if category == "客观困难" else "",
        "认定日期": "2023-09-30",
        "认定地区划": "330106",
        "录入时间": "2023-10-08 10:00:00",
    }
    row.update(over)
    return row


def _facts(store: Store) -> dict[str, tuple[str, dict[str, str | None]]]:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(s.facts.c.record_key, s.facts.c.kind, s.facts.c.attrs)).all()
    return {r.record_key: (r.kind, json.loads(r.attrs)) for r in rows}


def test_events_and_difficulties_become_facts_of_their_kind(
    store: Store, vault: Vault, tmp_path: Path
) -> None:
    rows = [
        credit_row("C000000000001"),
        credit_row("C000000000002", 事件类型="冒用身份", 严重程度="严重", 身份证号=""),
        credit_row("C000000000003", "客观困难", 姓名="邓祥辉", 身份证号=PERSON, 性别="男",
                   出生日期="1985-04-05"),
        credit_row("C000000000004", "客观困难", 有效期至="2023-09-30"),  # the last day is the day
    ]  # fmt: skip
    report = ingest_file(store, vault, "credit", write_csv(tmp_path / "c.csv", rows, "utf-8"))
    assert (report.rows, report.accepted, report.quarantined, report.flagged) == (4, 4, 0, 0)
    facts = _facts(store)
    kind, attrs = facts["C000000000002"]
    assert kind == "credit_event"
    assert (attrs["credit_event_type"], attrs["severity"]) == ("data_fraud", "serious")
    assert attrs["difficulty_scope"] is None
    kind, attrs = facts["C000000000003"]
    assert kind == "difficulty"
    assert (attrs["difficulty_scope"], attrs["difficulty_reason"]) == (
        "contraception",
        "migrant_work",
    )
    assert attrs["valid_until"] == "2024-09-30" and attrs["region"] == "330106"


def test_unusable_decisions_are_quarantined_with_their_reason(
    store: Store, vault: Vault, tmp_path: Path
) -> None:
    rows = [
        credit_row("C000000000001", "客观困难", 有效期至="2023-09-29"),
        credit_row("C000000000002", 严重程度=""),
        credit_row("C000000000003", 严重程度="很严重"),
        credit_row("C000000000004", "其他"),
        credit_row("C000000000005", "客观困难", 有效期至=""),
        credit_row("C000000000006", 有效期至="2023-01-01"),  # not part of an event: flagged
    ]
    report = ingest_file(store, vault, "credit", write_csv(tmp_path / "c.csv", rows, "utf-8"))
    assert (report.rows, report.accepted, report.quarantined) == (6, 1, 5)
    issues = {(i["record_key"], i["field"], i["rule"], i["action"]) for i in list_issues(store)}
    assert issues == {
        ("C000000000001", "fact.valid_until", "valid_until_before_event", "quarantined"),
        ("C000000000002", "fact.severity", "required_missing", "quarantined"),
        ("C000000000003", "fact.severity", "code_unknown", "quarantined"),
        ("C000000000004", "kind", "code_unknown", "quarantined"),
        ("C000000000005", "fact.valid_until", "required_missing", "quarantined"),
        ("C000000000006", "fact.valid_until", "valid_until_before_event", "flagged"),
    }
    zh = {i["record_key"]: i["message"] for i in list_issues(store, "credit")}
    assert "有效期截止日期早于认定日期" in zh["C000000000001"]


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("credit_province")
    generate(people=6000, seed=8, out=out)
    return out


def _with_broken_row(province: Path, out: Path) -> tuple[Path, str]:
    """The synthesised feed and one more difficulty whose validity ends before its decision."""
    feed = pl.read_csv(province / "credit.csv", infer_schema=False)
    source = feed.filter(pl.col("类别") == "客观困难").row(0, named=True)
    broken = {**source, "记录编号": "C999999999999", "有效期至": "2016-01-01"}
    broken["认定日期"] = "2016-01-02"
    rows = [*feed.fill_null("").iter_rows(named=True), broken]
    return write_csv(out / "credit.csv", rows, "utf-8"), broken["记录编号"]


def _truth(province: Path) -> dict[str, str]:
    with (province / "truth" / "records.csv").open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["source"] == "credit"]
    return {r["record_key"]: r["error_kind"] for r in rows if r["error_kind"] != "duplicate"}


def test_a_synthesised_feed_is_accepted_and_a_broken_row_quarantined(
    store: Store, vault: Vault, province: Path, tmp_path: Path
) -> None:
    path, broken = _with_broken_row(province, tmp_path)
    report = ingest_file(store, vault, "credit", path)
    truth = _truth(province)
    assert report.rows == report.accepted + report.duplicates + report.quarantined
    assert report.rows > 100
    issues = list_issues(store, "credit", lang="en")
    quarantined = {i["record_key"]: i for i in issues if i["action"] == "quarantined"}
    unusable = {"event_date_impossible", "code_unknown"}
    assert set(quarantined) == {broken} | {k for k, kind in truth.items() if kind in unusable}
    assert quarantined[broken]["rule"] == "valid_until_before_event"
    assert "validity ends before the date of the decision" in quarantined[broken]["message"]
    clean = [k for k, kind in truth.items() if kind in ("", "id_15")]
    flagged = {i["record_key"] for i in issues}
    assert not flagged & set(clean)
    assert report.accepted == len(truth) - len(quarantined) + 1
    kinds = {kind for kind, _ in _facts(store).values()}
    assert kinds == {"credit_event", "difficulty"}
