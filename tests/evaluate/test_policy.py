"""The policy file: the default policy, validation with lines, and `fpcredit policy check`."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fpcredit.cli import app
from fpcredit.errors import PolicyError
from fpcredit.evaluate.policy import default_policy_path, load_policy, parse_policy
from fpcredit.evaluate.policy_checks import derive
from fpcredit.messages import using_language

DEFAULT = default_policy_path().read_text(encoding="utf-8")


@pytest.fixture
def english() -> Iterator[None]:
    with using_language("en"):
        yield


def _broken(old: str, new: str) -> bytes:
    assert old in DEFAULT, old
    return DEFAULT.replace(old, new, 1).encode()


def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def test_default_policy_implements_the_seed() -> None:
    loaded = load_policy()
    p = loaded.policy
    assert [(d.id, d.weight) for d in p.dimensions] == [
        ("basic", Fraction(1, 5)),
        ("fertility", Fraction(2, 5)),
        ("service", Fraction(3, 10)),
        ("regional", Fraction(1, 10)),
    ]
    assert len(p.indicators) == 28
    assert len(p.incentives) == 12
    weights = {i.id: i.weight for i in p.indicators}
    assert weights["F01"] == Fraction(15, 100)  # timeliness lowered to 15 % (§4.2)
    assert weights["S03"] == Fraction(20, 100)  # infant care raised to 20 % (§4.2)
    assert p.coefficients["rural"] == p.coefficients["migrant"] == Fraction(9, 10)
    assert all(i.rationale.zh and i.rationale.en for i in p.indicators)
    assert len(loaded.sha256) == 64


def test_default_weights_follow_from_the_stored_matrices() -> None:
    p = load_policy().policy
    assert p.ahp is not None
    derived, expert, public = derive(p.ahp)
    assert derived == pytest.approx([float(d.weight) for d in p.dimensions], abs=1.5e-4)
    assert expert.cr < 0.1 and public.cr < 0.1
    for d in p.dimensions:
        assert d.ahp is not None
        weights, _, _ = derive(d.ahp)
        assert weights == pytest.approx([float(i.weight) for i in p.indicators_of(d.id)], abs=2e-4)


def test_the_packaged_policy_is_the_repository_file() -> None:
    repo = Path(__file__).parents[2] / "policies" / "default.yaml"
    assert repo.read_bytes() == default_policy_path().read_bytes()


@pytest.mark.parametrize(
    ("old", "new", "needle", "words"),
    [
        ("    weight: 0.20\n", "    wieght: 0.20\n", "wieght", "unknown field"),
        ("  - id: B07\n", "  - id: B06\n", "id: B06\n    name: {zh: 无数据造假", "appears twice"),
        ("    dimension: regional\n    weight: 0.20", "    dimension: regional\n    weight: 0.25",
         "id: regional", "sum to"),
        ("kinds: [prenatal_check], window_months: 24", "kinds: [prenatal_chek], window_months: 24",
         "prenatal_chek", "not a data set"),
        ("{type: flag, field: id_valid}", "{type: flagg, field: id_valid}", "flagg",
         "unknown measure type"),
        ("  cutoffs: {A: 95,", "  cutoffs: {A: 95.555,", "95.555", "two decimals"),
    ],
)  # fmt: skip
def test_errors_name_their_line(old: str, new: str, needle: str, words: str, english: None) -> None:
    data = _broken(old, new)
    with pytest.raises(PolicyError) as caught:
        parse_policy(data, "p.yaml")
    lines = {line for line, _ in caught.value.problems}
    assert _line_of(data.decode(), needle) in lines, caught.value.problems
    assert words in str(caught.value)


def test_inconsistent_judgements_are_rejected_with_their_cr(
    english: None,
) -> None:
    data = _broken(
        'public: [["2/3", "8/11", "3"], ["12/11", "9/2"], ["33/8"]]',
        'public: [["9", "1/9", "3"], ["1/9", "9"], ["1/9"]]',
    )
    with pytest.raises(PolicyError, match=r"CR"):
        parse_policy(data, "p.yaml")


def test_a_yaml_syntax_error_has_a_line() -> None:
    data = _broken("  min_age: 18", "  min_age: [18")
    with pytest.raises(PolicyError) as caught:
        parse_policy(data, "p.yaml")
    assert caught.value.problems[0][0] is not None


def test_cli_policy_check(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["policy", "check", str(default_policy_path()), "--json"])
    assert ok.exit_code == 0, ok.output
    assert '"indicators": 28' in ok.output and '"cr"' in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(_broken("    weight: 0.20\n", "    wieght: 0.20\n"))
    failed = runner.invoke(app, ["policy", "check", str(bad)], env={"FPCREDIT_LANGUAGE": "en"})
    assert failed.exit_code == 1
    line = _line_of(bad.read_text(encoding="utf-8"), "wieght")
    assert f"bad.yaml:{line}:" in failed.output
    assert "Traceback" not in failed.output


def test_docs_list_every_default_indicator() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "policy.md").read_text(encoding="utf-8")
    for ind in load_policy().policy.indicators:
        assert f"| {ind.id} | {ind.name.zh} / {ind.name.en} |" in docs, ind.id
