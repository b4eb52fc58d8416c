"""Eligibility: the grade and every condition, each failure named; many persons at once."""

from __future__ import annotations

import datetime as dt

from fpcredit.evaluate.policy import load_policy
from fpcredit.incentives.catalogue import find
from fpcredit.incentives.eligibility import Profile, age_on, judge, qualifying
from fpcredit.messages import using_language

POLICY = load_policy()
DAY = dt.date(2026, 9, 1)


def _incentive(incentive_id: str):  # type: ignore[no-untyped-def]
    found = find(POLICY, incentive_id)
    assert found is not None
    return found


def test_age_in_whole_years() -> None:
    assert age_on(dt.date(2020, 9, 1), DAY) == 6
    assert age_on(dt.date(2020, 9, 2), DAY) == 5
    assert age_on(dt.date(2027, 1, 1), DAY) < 0


def test_grade_and_child_age_both_hold() -> None:
    school = _incentive("school_enrolment_priority")  # A, a child of 5 to 15
    ok = Profile(1, "A", children=(dt.date(2019, 3, 1),))
    assert judge(school, ok, DAY).eligible
    with using_language("en"):
        low = judge(school, Profile(2, "B", children=(dt.date(2024, 1, 1),)), DAY)
    assert not low.eligible
    assert [f.kind for f in low.failures] == ["grade", "child_age"]
    assert "the grade is B" in low.failures[0].reason
    assert "no child aged 5 to 15" in low.failures[1].reason


def test_region_occupation_and_no_grade() -> None:
    delivery = _incentive("hospital_delivery_subsidy")  # A/B, rural or migrant, a child ≤ 1
    urban = Profile(3, "A", group="urban", children=(dt.date(2026, 3, 1),))
    assert [f.kind for f in judge(delivery, urban, DAY).failures] == ["region"]
    rural = Profile(4, "B", group="rural", children=(dt.date(2026, 3, 1),))
    assert judge(delivery, rural, DAY).eligible
    grace = _incentive("maternity_insurance_grace")  # A/B/C, freelancers
    assert judge(grace, Profile(5, "C", occupation="F"), DAY).eligible
    kinds = [f.kind for f in judge(grace, Profile(6, None, occupation="2"), DAY).failures]
    assert kinds == ["not_graded", "occupation"]


def test_outside_the_validity_window() -> None:
    green = _incentive("maternity_green_channel")
    assert judge(green, Profile(7, "A"), DAY).eligible
    late = judge(green, Profile(7, "A"), dt.date(2029, 1, 1))
    assert [f.kind for f in late.failures] == ["window"]


def test_qualifying_keeps_every_person_in_order() -> None:
    green = _incentive("maternity_green_channel")
    people = [Profile(i, "A" if i % 3 else "B") for i in range(1, 1001)]
    verdicts = qualifying(green, people, DAY)
    assert [v.person_id for v in verdicts] == list(range(1, 1001))
    assert sum(v.eligible for v in verdicts) == sum(1 for i in range(1, 1001) if i % 3)
