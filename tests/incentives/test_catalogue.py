"""The incentive catalogue of the policy file: the default's 12, and `policy check`'s refusals."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from fpcredit.errors import PolicyError
from fpcredit.evaluate.policy import default_policy_path, load_policy, parse_policy
from fpcredit.messages import using_language

DEFAULT = default_policy_path().read_text(encoding="utf-8")


@pytest.fixture
def english() -> Iterator[None]:
    with using_language("en"):
        yield


def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def test_the_default_catalogue_has_the_seeds_twelve() -> None:
    incentives = load_policy().policy.incentives
    assert len(incentives) == 12
    ids = {i.id for i in incentives}
    assert {"school_enrolment_priority", "maternity_green_channel", "birth_subsidy_priority",
            "free_prepregnancy_check", "free_reproductive_check", "hospital_delivery_subsidy",
            "infant_care_voucher"} <= ids  # fmt: skip
    for inc in incentives:
        assert isinstance(inc.cost_per_beneficiary, Decimal)
        assert inc.cost_per_beneficiary.as_tuple().exponent == -2
        assert inc.annual_budget >= 0 and inc.valid_from <= inc.valid_to
        assert inc.name.zh and inc.name.en and inc.benefit.zh and inc.description.en
    birth = next(i for i in incentives if i.id == "birth_subsidy_priority")
    assert birth.cost_per_beneficiary == Decimal("500.00")  # §8: 500 yuan a person a year


def test_money_is_exact_from_an_unquoted_yaml_number() -> None:
    data = DEFAULT.replace('cost_per_beneficiary: "120.00"', "cost_per_beneficiary: 0.1", 1)
    inc = parse_policy(data.encode()).policy.incentives[0]
    assert inc.cost_per_beneficiary == Decimal("0.10")


FIRST = "  - id: school_enrolment_priority\n"


@pytest.mark.parametrize(
    ("old", "new", "needle", "words"),
    [
        ("    grades: [A]\n    conditions: [{kind: child_age",
         "    grades: [AA]\n    conditions: [{kind: child_age", "grades: [AA]", "unknown grade"),
        ("  - id: maternity_green_channel\n", "  - id: school_enrolment_priority\n",
         "id: school_enrolment_priority\n    name: {zh: 医疗", "appears twice"),
        ("    valid_from: 2024-01-01\n    valid_to: 2028-12-31\n  - id: maternity",
         "    valid_from: 2029-01-01\n    valid_to: 2028-12-31\n  - id: maternity",
         "valid_from: 2029", "starts"),
        ('cost_per_beneficiary: "120.00"', 'cost_per_beneficiary: "-5.00"', '"-5.00"',
         "must not be negative"),
        ('annual_budget: "6000000.00"', 'annual_budget: "1.005"', '"1.005"',
         "more than two decimal places"),
        ("conditions: [{kind: child_age, min_years: 5",
         "conditions: [{kind: child_ages, min_years: 5", "child_ages", "unknown condition kind"),
        ("{kind: child_age, min_years: 5, max_years: 15}",
         "{kind: child_age, min_years: 15, max_years: 5}", "min_years: 15", "above the maximum"),
        ("{kind: child_age, min_years: 5, max_years: 15}", "{kind: region, min_years: 5}",
         "kind: region, min_years", "needs the field groups"),
    ],
)  # fmt: skip
def test_catalogue_errors_name_their_line(
    old: str, new: str, needle: str, words: str, english: None
) -> None:
    assert old in DEFAULT, old
    data = DEFAULT.replace(old, new, 1)
    with pytest.raises(PolicyError) as caught:
        parse_policy(data.encode(), "p.yaml")
    lines = {line for line, _ in caught.value.problems}
    assert _line_of(data, needle) in lines, caught.value.problems
    assert words in str(caught.value)
