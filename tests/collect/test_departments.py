"""A department is one mapping file: discovered, taken by `fpcredit ingest` and `fpcredit demo`
with no other change, and a broken one is a one-line error naming it (issue 15)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest

from fpcredit.collect.adapters import ADAPTERS, Adapter, get_adapter
from fpcredit.collect.mapping import load_mapping, sources
from fpcredit.config import Settings
from fpcredit.errors import ConfigError
from fpcredit.standard.elements import load_standard
from tests.collect.feeds import make_id, write_csv
from tests.test_cli import _run as run_cli

PACKAGED = ["cdc", "civil", "credit", "health", "hrss", "mch", "police"]
ADAPTER_CLASSES = {
    "cdc": "CdcAdapter",
    "civil": "CivilAdapter",
    "credit": "CreditAdapter",
    "health": "HealthAdapter",
    "hrss": "HrssAdapter",
    "mch": "MchAdapter",
    "police": "PoliceAdapter",
}
# A family-doctor service's postnatal visits; no `source:` key: the file's name is the source.
FAMILY_DOCTOR = """\
# 家庭医生签约服务 产后访视 → postnatal_check
format: csv
encoding: utf-8
record_key: 服务编号
kind: postnatal_check
subject: self
columns:
  服务编号: {to: null}
  姓名: {to: self.name}
  身份证号: {to: self.id_number}
  出生日期: {to: self.birth_date, format: "%Y-%m-%d"}
  访视日期: {to: fact.event_date, format: "%Y-%m-%d"}
  访视次数: {to: fact.check_sequence}
  录入时间: {to: fact.recorded_at, format: "%Y-%m-%d %H:%M:%S"}
"""
WOMAN = make_id("330106", "19920415", "024")


def _row(key: str, visit: str = "2023-03-02", sequence: str = "1") -> dict[str, str]:
    return {
        "服务编号": key,
        "姓名": "李娜",
        "身份证号": WOMAN,
        "出生日期": "1992-04-15",
        "访视日期": visit,
        "访视次数": sequence,
        "录入时间": "2023-03-09 10:15:00",
        "收入": "8000",  # outside the standard: refused at the door (R6)
    }


def _department(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "family_doctor.yaml").write_text(FAMILY_DOCTOR, encoding="utf-8")
    return folder


def _feed(path: Path) -> Path:
    """Four rows: two visits, one sent twice, one on a day that does not exist."""
    rows = [
        _row("FD001"),
        _row("FD002", "2023-03-20", "2"),
        _row("FD001"),
        _row("FD003", "2023-02-30"),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_csv(path, rows, "utf-8")


def _run(home: Path, mappings: Path | None, *args: str) -> subprocess.CompletedProcess[str]:
    """The real command line, in English, with FPCREDIT_MAPPINGS_DIR set when `mappings` is."""
    more = {"FPCREDIT_MAPPINGS_DIR": str(mappings)} if mappings is not None else {}
    return run_cli(home, *args, lang="en", **more)


def _json(result: subprocess.CompletedProcess[str]) -> object:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_packaged_departments_are_discovered_in_order_each_with_its_adapter() -> None:
    assert sources() == PACKAGED
    assert {s: type(get_adapter(s)).__name__ for s in sources()} == ADAPTER_CLASSES
    assert {s: cls.__name__ for s, cls in ADAPTERS.items()} == ADAPTER_CLASSES
    for source in PACKAGED:
        assert get_adapter(source).mapping == load_mapping(source)


def test_a_mapping_file_alone_is_a_department_after_the_packaged_ones(tmp_path: Path) -> None:
    folder = _department(tmp_path / "mappings")
    assert sources(folder) == [*PACKAGED, "family_doctor"]
    adapter = get_adapter("family_doctor", folder)
    assert type(adapter) is Adapter and adapter.source == "family_doctor"
    assert adapter.checks(dt.date(2024, 1, 1)) == []  # no class: no cross-field rules
    assert adapter.required_columns(load_standard()) == ["服务编号", "访视日期", "录入时间", "姓名"]


def test_ingest_takes_the_new_department_and_its_counts_add_up(tmp_path: Path) -> None:
    home, folder = tmp_path / "home", _department(tmp_path / "mappings")
    feed = _feed(tmp_path / "family_doctor.csv")
    assert _run(home, folder, "init").returncode == 0
    unknown = _run(home, None, "ingest", "family_doctor", str(feed))
    assert unknown.returncode == 1 and "unknown source 'family_doctor'" in unknown.stderr
    report = _json(_run(home, folder, "ingest", "family_doctor", str(feed), "--json"))
    assert isinstance(report, dict)
    (file,) = report["files"]
    assert file["source"] == "family_doctor" and file["dropped_fields"] == ["收入"]
    assert (file["rows"], file["accepted"], file["duplicates"], file["quarantined"]) == (4, 2, 1, 1)
    quality = ("quality", "list", "--source", "family_doctor", "--purpose", "data_quality")
    issues = _json(_run(home, folder, *quality, "--json"))
    assert isinstance(issues, list)
    quarantined = [i for i in issues if i["action"] == "quarantined"]
    assert [(i["record_key"], i["field"], i["rule"]) for i in quarantined] == [
        ("FD003", "fact.event_date", "date_impossible")
    ]
    assert "date" in quarantined[0]["message"]
    status = _json(_run(home, folder, "status", "--json"))
    assert isinstance(status, dict)
    assert status["by_source"]["family_doctor"] == {"records": 2, "facts": 2, "quarantined": 1}


@pytest.mark.slow
def test_demo_ingests_the_new_department_and_names_one_without_a_feed(tmp_path: Path) -> None:
    home, folder = tmp_path / "home", _department(tmp_path / "mappings")
    # A second new department whose feed the operator has not put in the demo's folder.
    (folder / "school_clinic.yaml").write_text(
        FAMILY_DOCTOR.replace("postnatal_check", "child_health_check"), encoding="utf-8"
    )
    _feed(home / "demo" / "feeds" / "family_doctor.csv")
    result = _run(home, folder, "demo", "--people", "100", "--seed", "2", "--no-serve")
    assert result.returncode == 0, result.stderr
    assert "family_doctor.csv: 4 = 2 + 1 + 1 ✓" in result.stdout
    assert "not ingested: school_clinic" in result.stdout
    status = _json(_run(home, folder, "status", "--json"))
    assert isinstance(status, dict)
    assert status["by_source"]["family_doctor"] == {"records": 2, "facts": 2, "quarantined": 1}
    assert set(PACKAGED) < set(status["by_source"])


FD = "family_doctor.yaml"
BROKEN = [
    pytest.param(FD, FAMILY_DOCTOR.replace("kind: post", "kind post"), "line 6", id="yaml"),
    pytest.param(
        FD, FAMILY_DOCTOR.replace("self.birth_date", "self.religion"), "religion", id="R6"
    ),
    pytest.param(FD, FAMILY_DOCTOR.replace("format: csv", "format: xls"), "format", id="format"),
    pytest.param(FD, "source: family_dr\n" + FAMILY_DOCTOR, "family_dr", id="other-source"),
    pytest.param("health.yaml", FAMILY_DOCTOR, "packaged source 'health'", id="packaged"),
    pytest.param("Family-Doctor.yaml", FAMILY_DOCTOR, "cannot be a source name", id="name"),
]


@pytest.mark.parametrize(("name", "content", "why"), BROKEN)
def test_a_broken_mapping_file_is_one_line_naming_it(
    tmp_path: Path, name: str, content: str, why: str
) -> None:
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / name).write_text(content, encoding="utf-8")
    feed = _feed(tmp_path / "feed.csv")
    assert _run(tmp_path / "home", folder, "init").returncode == 0
    result = _run(tmp_path / "home", folder, "ingest", "family_doctor", str(feed))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert name in result.stderr and why in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_mappings_folder_is_a_bad_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="FPCREDIT_MAPPINGS_DIR"):
        Settings(home=tmp_path, mappings_dir=tmp_path / "nowhere")
