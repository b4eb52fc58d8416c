"""Ingestion appends its records and facts to the trail; editing them afterwards is caught."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from fpcredit.collect.ingest import ingest_file
from fpcredit.config import Settings
from fpcredit.guard.keys.crypto import Vault
from fpcredit.guard.trail.verify import verify
from fpcredit.service import feed_path
from fpcredit.store.db import Store
from fpcredit.synth import generate


@pytest.fixture
def ingested(store: Store, vault: Vault, settings: Settings, tmp_path: Path) -> Store:
    feeds = tmp_path / "feeds"
    generate(people=120, seed=4, out=feeds)
    for source in ("police", "health", "cdc"):
        ingest_file(store, vault, source, feed_path(feeds, source))
    return store


def test_an_ingested_store_verifies(ingested: Store, settings: Settings) -> None:
    report = verify(ingested, settings)
    assert report["ok"], report
    assert report["entries"] == 6  # records and facts of three files
    assert {"records", "facts"} <= set(report["covered_tables"])


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE facts SET attrs = '{}' WHERE id = (SELECT max(id) FROM facts)",
        "UPDATE records SET event_date = '1999-01-01' WHERE id = 1",
        "DELETE FROM facts WHERE id = (SELECT max(id) FROM facts WHERE source = 'health')",
    ],
)
def test_an_edit_after_ingestion_fails_verification(
    ingested: Store, settings: Settings, tamper: str
) -> None:
    with ingested.engine.begin() as conn:
        conn.execute(sa.text(tamper))
    report = verify(ingested, settings)
    assert not report["ok"]
    assert report["first_bad"] is not None and 0 <= report["first_bad"] < report["entries"]
