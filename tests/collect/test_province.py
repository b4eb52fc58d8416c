"""Ingesting the whole synthetic province: reconciliation, error detection, nothing in plaintext."""

from __future__ import annotations

import csv
import os
import re
from collections import defaultdict
from pathlib import Path

import pytest

from fpcredit.collect.ingest import FileReport, ingest_file
from fpcredit.collect.quality import list_issues
from fpcredit.config import Settings
from fpcredit.guard.keys.crypto import Vault
from fpcredit.service import feed_path
from fpcredit.store.db import Store
from fpcredit.synth import generate
from tests.collect.test_ingest import _dump

pytestmark = pytest.mark.slow
# The acceptance size of the foundation issue; set lower for a quick local run.
PEOPLE = int(os.environ.get("FPCREDIT_PROVINCE_PEOPLE", "20000"))
SOURCES = ("police", "civil", "health", "hrss", "cdc", "mch", "credit")
CJK_UTF8 = re.compile(rb"(?:[\xe4-\xe9][\x80-\xbf]{2}){2,}")
DETECTABLE = {"id_check_digit", "event_date_impossible", "code_unknown", "births_gt_pregnancies"}


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("province")
    generate(people=PEOPLE, seed=1, out=out)
    return out


def _ingest_all(store: Store, vault: Vault, province: Path) -> list[FileReport]:
    return [ingest_file(store, vault, s, feed_path(province, s)) for s in SOURCES]


def _truth(province: Path) -> dict[tuple[str, str], set[str]]:
    kinds: dict[tuple[str, str], set[str]] = defaultdict(set)
    with (province / "truth" / "records.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            kinds[(row["source"], row["record_key"])].add(row["error_kind"])
    return kinds


def test_province_ingests_completely_and_safely(
    store: Store, vault: Vault, settings: Settings, province: Path
) -> None:
    """One ingestion per backend, checked for every acceptance point (the ingest is the cost)."""
    reports = _ingest_all(store, vault, province)
    for r in reports:
        assert r.rows == r.accepted + r.duplicates + r.quarantined, r
        assert r.accepted > 0
    assert all(r.accepted == 0 for r in _ingest_all(store, vault, province))
    truth = _truth(province)
    issues = list_issues(store)
    found = {(i["source"], i["record_key"]) for i in issues}
    quarantined = {(i["source"], i["record_key"]) for i in issues if i["action"] == "quarantined"}
    injected = [k for k, kinds in truth.items() if kinds & DETECTABLE]
    hit = sum(1 for k in injected if k in found)
    assert injected and hit / len(injected) >= 0.95, (hit, len(injected))
    clean = {k for k, kinds in truth.items() if kinds <= {"", "duplicate"}}
    assert not (quarantined & clean), sorted(quarantined & clean)[:5]
    dump = _dump(settings, store)
    with (province / "truth" / "persons.csv").open(encoding="utf-8") as handle:
        persons = list(csv.DictReader(handle))
    # One pass over the dump: every digit run that could be an ID, every run of CJK text.
    windows = {m.group(1).decode() for m in re.finditer(rb"(?=(\d{17}[\dXx]))", dump)}
    cjk_runs = [m.group().decode() for m in re.finditer(CJK_UTF8, dump)]
    fragments = {r[i:j] for r in cjk_runs for i in range(len(r)) for j in range(i + 2, len(r) + 1)}
    leaked = [
        p["person_key"] for p in persons if p["id_number"] in windows or p["name"] in fragments
    ]
    assert not leaked, leaked[:5]
