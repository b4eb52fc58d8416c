"""The `redeemables:` catalogue of the policy file: the default's, and `policy check`'s refusals."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fpcredit.cli import app
from fpcredit.errors import PolicyError
from fpcredit.evaluate.policy import default_policy_path, load_policy, parse_policy
from fpcredit.messages import using_language

DEFAULT = default_policy_path().read_text(encoding="utf-8")
FIRST = "  - {id: prepregnancy_check_plus, "
REPO_COPY = Path(__file__).parents[2] / "policies" / "default.yaml"


def _with(entry: str) -> bytes:
    return (DEFAULT.rstrip("\n") + "\n" + entry + "\n").encode()


def _problems(data: bytes) -> list[str]:
    with using_language("en"), pytest.raises(PolicyError) as caught:
        parse_policy(data, "p.yaml")
    return [why for _line, why in caught.value.problems]


def test_the_default_catalogue() -> None:
    items = load_policy().policy.redeemables
    assert len(items) >= 5 and all(r.price > 0 for r in items)
    assert {r.department for r in items} <= {"health", "police", "civil", "hrss", "cdc", "mch"}
    assert all(r.open_on(dt.date(2026, 7, 1)) for r in items)
    assert REPO_COPY.read_bytes() == default_policy_path().read_bytes()


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ("department: health, price: 0, valid_from: 2026-01-01}", "greater than 0"),
        ("department: health, price: -5, valid_from: 2026-01-01}", "greater than 0"),
        ("department: health, price: 1.5, valid_from: 2026-01-01}", "integer"),
        ("department: health, price: 10}", "required"),
        ("department: Health!, price: 10, valid_from: 2026-01-01}", "required form"),
        (
            "department: health, price: 10, valid_from: 2026-06-01, valid_until: 2026-05-31}",
            "ends (2026-05-31) before it starts (2026-06-01)",
        ),
        ("department: health, price: 10, valid_from: 2026-01-01, colour: red}", "unknown field"),
    ],
)
def test_policy_check_refuses_a_bad_redeemable(entry: str, says: str) -> None:
    head = "  - {id: bad_item, name: {zh: 坏, en: bad}, "
    problems = _problems(_with(head + entry))
    assert any(says in why and "redeemables" in why for why in problems), problems


def test_policy_check_refuses_a_duplicate_id() -> None:
    line = DEFAULT[DEFAULT.index(FIRST) :].split("\n", 1)[0]
    problems = _problems(_with(line))
    assert any("prepregnancy_check_plus appears more than once" in why for why in problems)


def test_cli_policy_check_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(_with("  - {id: free_item, name: {zh: 免费, en: free}, department: health, "
                          "price: 0, valid_from: 2026-01-01}"))  # fmt: skip
    result = CliRunner().invoke(app, ["policy", "check", str(bad)], env={"FPCREDIT_LANGUAGE": "en"})
    assert result.exit_code == 1 and "redeemables" in result.output
    assert "Traceback" not in result.output
