"""The command line: help everywhere, one-line errors, JSON shapes, documented settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

import fpcredit
from fpcredit.cli import app
from fpcredit.config import Settings
from fpcredit.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _commands() -> list[list[str]]:
    group = get_command(app)
    names: list[list[str]] = []
    for name, cmd in group.commands.items():  # type: ignore[attr-defined]
        sub = getattr(cmd, "commands", None)
        names += [[name, s] for s in sub] if sub else [[name]]
    return names


@pytest.mark.parametrize("command", _commands(), ids=" ".join)
def test_every_command_has_help_and_is_in_the_readme(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output
    assert f"fpcredit {' '.join(command)}" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for name, field in Settings.model_fields.items():
        assert field.description
        assert f"FPCREDIT_{name.upper()}" in doc


def test_public_api_is_sorted_and_importable() -> None:
    assert fpcredit.__all__ == sorted(fpcredit.__all__)
    for name in fpcredit.__all__:
        assert hasattr(fpcredit, name)


def _run(home: Path, *args: str, lang: str = "zh", **more: str) -> subprocess.CompletedProcess[str]:
    env = {"FPCREDIT_HOME": str(home), "PATH": "/usr/bin:/bin", "FPCREDIT_LANGUAGE": lang, **more}
    return subprocess.run(
        [sys.executable, "-m", "fpcredit", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_status_before_init_fails_with_one_line(tmp_path: Path) -> None:
    result = _run(tmp_path, "status", "--json")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "fpcredit init" in result.stderr
    assert "Traceback" not in result.stderr


def test_init_status_and_bad_ingest(tmp_path: Path) -> None:
    assert _run(tmp_path, "init").returncode == 0
    status = json.loads(_run(tmp_path, "status", "--json").stdout)
    assert {"persons", "records", "facts", "quarantined", "by_source"} <= set(status)
    missing = _run(tmp_path, "ingest", "health", str(tmp_path / "nope.csv"), "--json")
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    unknown = _run(tmp_path, "ingest", "insurer", str(tmp_path / "x.csv"))
    assert unknown.returncode == 1 and "未知的数据来源" in unknown.stderr
    english = _run(tmp_path, "ingest", "insurer", str(tmp_path / "x.csv"), lang="en")
    assert "unknown source 'insurer'; known sources: cdc, civil" in english.stderr


def test_link_and_review_on_an_empty_store_are_one_line(tmp_path: Path) -> None:
    assert _run(tmp_path, "init").returncode == 0
    empty = _run(tmp_path, "link", "--json", lang="en")
    assert empty.returncode == 1 and empty.stderr.strip().count("\n") == 0
    assert "fpcredit ingest" in empty.stderr and "Traceback" not in empty.stderr
    unknown = _run(tmp_path, "review", "accept", "7", "--reason", "x", lang="en")
    assert unknown.returncode == 1 and "there is no review 7" in unknown.stderr


@pytest.mark.parametrize(
    "command", [("status",), ("serve",), ("keys", "status"), ("witness", "key"), ("demo",)]
)
def test_a_bad_setting_is_one_line_naming_its_variable(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    result = _run(
        tmp_path,
        *command,
        FPCREDIT_LOCK_TIMEOUT_S="-1",
        FPCREDIT_WITNESSES='[{"url": "http://w.example", "key": 7, "x": "s3cr3t"}]',
    )
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "FPCREDIT_LOCK_TIMEOUT_S" in result.stderr
    assert "FPCREDIT_WITNESSES" in result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("lock_timeout_s", -1),
        ("language", "fr"),
        ("trusted_proxies", "10.0.0.1,not-an-address"),
        ("code_queue_size", 0),
        ("database_url", ["postgresql://user:s3cr3t@db/x"]),
    ],
)
def test_settings_refuse_a_bad_value_by_its_variable_without_echoing_it(
    tmp_path: Path, variable: str, value: object
) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings(home=tmp_path, **{variable: value})
    message = str(caught.value)
    assert f"FPCREDIT_{variable.upper()}" in message
    assert "s3cr3t" not in message
    if variable == "trusted_proxies":  # our own validator's words, not pydantic's wrapping
        assert "not-an-address" in message and "Value error" not in message


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    env = {
        "FPCREDIT_HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
        "FPCREDIT_DATABASE_URL": "postgresql+psycopg://nobody:secret@127.0.0.1:1/none",
    }
    result = subprocess.run(
        [sys.executable, "-m", "fpcredit", "status"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 1
    assert "无法连接数据库" in result.stderr and "secret" not in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_demo_links_the_province_it_ingests_and_prints_no_library_noise(tmp_path: Path) -> None:
    result = _run(tmp_path, "demo", "--people", "300", "--seed", "2", "--no-serve")
    assert result.returncode == 0, result.stderr
    assert "4. 已将每条记录关联到一个人" in result.stdout
    assert "quality vs truth" in result.stdout
    assert "5. 已按现行政策评价每个人" in result.stdout
    assert "6. 演示账号" in result.stdout  # and the accounts: tests/test_demo_accounts.py
    # The fairness tables in the run's language, occupations by what they mean (GB/T 6565).
    assert "按户籍/居住类型的 A 级比例" in result.stdout and "A-rate" not in result.stdout
    assert "灵活就业人员（自由职业） (F)" in result.stdout.replace("\n", "")
    # Splink's notebook warnings (e.g. untrained levels in a small province) stay out of sight.
    assert "WARNING" not in result.stderr and "predict()" not in result.stderr
    status = json.loads(_run(tmp_path, "status", "--json").stdout)
    assert status["persons"] > 300
