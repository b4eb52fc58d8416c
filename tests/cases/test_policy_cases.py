"""The policy's `cases:` section: defaults, bounds, `fpcredit policy check` refusing bad ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fpcredit.cli import app
from fpcredit.errors import PolicyError
from fpcredit.evaluate.policy import default_policy_path, load_policy, parse_policy

ROOT = Path(__file__).resolve().parents[2]


def test_the_default_deadlines() -> None:
    cases = load_policy().policy.cases
    assert (cases.days("objection"), cases.days("repair")) == (20, 10)
    assert (cases.days("correction"), cases.days("review")) == (15, 15)
    assert (ROOT / "policies" / "default.yaml").read_bytes() == default_policy_path().read_bytes()


@pytest.mark.parametrize(
    ("line", "section"),
    [
        ("objection_days: 20", "objection_days: 0"),
        ("repair_days: 10", "repair_days: 121"),
        ("review_days: 15", "review_days: soon"),
        ("review_days: 15", "review_days: 15\n  appeal_days: 5"),
    ],
)
def test_a_bad_deadline_is_refused(line: str, section: str, tmp_path: Path) -> None:
    text = default_policy_path().read_text(encoding="utf-8")
    bad = text.replace(f"  {line}\n", f"  {section}\n", 1)
    assert bad != text
    with pytest.raises(PolicyError):
        parse_policy(bad.encode("utf-8"))
    path = tmp_path / "policy.yaml"
    path.write_text(bad, encoding="utf-8")
    result = CliRunner().invoke(app, ["policy", "check", str(path)])
    assert result.exit_code == 1
