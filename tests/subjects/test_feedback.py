"""Feedback intake and its report: satisfaction rates exact, complaints sealed and never shown."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from fpcredit.cli import app
from fpcredit.config import Settings
from fpcredit.guard.keys.crypto import Vault
from fpcredit.store import schema as s
from fpcredit.store.db import Store, utc_now
from fpcredit.subjects.feedback import FeedbackError, feedback_report, submit

COMPLAINT = "窗口工作人员态度很差，材料被退回三次"


def _person(store: Store, urban_rural: str | None) -> int:
    with store.engine.begin() as conn:
        return int(
            conn.execute(
                s.persons.insert()
                .returning(s.persons.c.id)
                .values(created_at=utc_now(), urban_rural=urban_rural)
            ).scalar_one()
        )


def test_feedback_is_stored_with_the_complaint_sealed(store: Store, vault: Vault) -> None:
    pid = _person(store, "urban")
    made = submit(store, vault, pid, about="incentive", ref="school_priority", satisfaction=2,
                  complaint=f"  {COMPLAINT} ")  # fmt: skip
    assert made.complaint and made.satisfaction == 2
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(s.feedback)).one()
    assert row.region_type == "urban" and row.person_id == pid
    assert COMPLAINT.encode() not in bytes(row.complaint_enc)
    assert vault.decrypt(row.complaint_enc, "complaint") == COMPLAINT


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"about": "shop"}, "about"),
        ({"satisfaction": 0}, "satisfaction"),
        ({"satisfaction": 6}, "satisfaction"),
        ({"complaint": "x" * 501}, "complaint"),
        ({"complaint": "   "}, "complaint"),
    ],
)
def test_bad_feedback_is_refused_with_the_field_at_fault(
    store: Store, vault: Vault, kwargs: dict[str, object], field: str
) -> None:
    pid = _person(store, None)
    values: dict[str, object] = {"about": "case", "ref": "12", "satisfaction": 3, **kwargs}
    with pytest.raises(FeedbackError) as e:
        submit(store, vault, pid, **values)  # type: ignore[arg-type]
    assert e.value.field == field


def test_an_unknown_reference_is_refused(store: Store, vault: Vault) -> None:
    pid = _person(store, None)
    with pytest.raises(FeedbackError) as e:
        submit(store, vault, pid, about="incentive", ref="nothing", satisfaction=5,
               known=lambda about, ref: False)  # fmt: skip
    assert e.value.field == "ref"


def test_the_report_rates_by_reference_and_region_type(store: Store, vault: Vault) -> None:
    urban, rural = _person(store, "urban"), _person(store, "rural")
    day = dt.datetime(2026, 11, 3, 9)
    for pid, sat, complaint in [
        (urban, 5, None), (urban, 4, None), (urban, 2, COMPLAINT),
        (rural, 5, None), (rural, 3, COMPLAINT),
    ]:  # fmt: skip
        submit(store, vault, pid, about="incentive", ref="checkup", satisfaction=sat,
               complaint=complaint, now=day)  # fmt: skip
    submit(store, vault, urban, about="case", ref="7", satisfaction=1, now=day.replace(month=12))
    report = feedback_report(store, until=dt.date(2026, 11, 30))
    assert report["count"] == 5 and report["satisfied"] == 3
    assert report["rate"] == "0.6000" and report["meets_target"] is False
    assert report["complaints"] == 2
    by = {(x["ref"], x["region_type"]): x for x in report["lines"]}
    assert by[("checkup", "urban")]["rate"] == "0.6667"
    assert by[("checkup", "rural")]["satisfied"] == 1
    assert COMPLAINT not in json.dumps(report, ensure_ascii=False)
    assert feedback_report(store, since=dt.date(2026, 12, 1))["count"] == 1


def test_the_command_prints_rates_and_never_a_complaint(
    settings: Settings, store: Store, vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = _person(store, "rural")
    submit(store, vault, pid, about="incentive", ref="checkup", satisfaction=4,
           complaint=COMPLAINT)  # fmt: skip
    monkeypatch.setenv("FPCREDIT_HOME", str(settings.home))
    if settings.database_url:
        monkeypatch.setenv("FPCREDIT_DATABASE_URL", settings.database_url)
    runner = CliRunner()
    shown = runner.invoke(app, ["feedback", "report"])
    assert shown.exit_code == 0, shown.output
    assert "100.0 %" in shown.output and COMPLAINT not in shown.output
    as_json = runner.invoke(app, ["feedback", "report", "--json"])
    assert json.loads(as_json.output)["complaints"] == 1
