"""The public catalogue, a citizen's eligibility, and a disputed fact left out until evaluated."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from fpcredit.evaluate.active import active_policy
from fpcredit.incentives.eligibility import live_grade, profiles
from fpcredit.store import schema as s
from fpcredit.store.db import utc_now
from tests.web.conftest import Web


def test_the_catalogue_is_public_in_the_requests_language(web: Web) -> None:
    zh = web.client.get("/v1/incentives")
    en = web.client.get("/v1/incentives", headers={"Accept-Language": "en"})
    assert zh.status_code == en.status_code == 200
    assert len(zh.json()["incentives"]) == 12
    first_zh, first_en = zh.json()["incentives"][0], en.json()["incentives"][0]
    assert first_zh["name"] == "子女入学材料简化、优先审核"
    assert first_en["name"].startswith("School enrolment")
    assert first_en["cost_per_beneficiary"] == "120.00"
    assert first_en["conditions"] == [{"kind": "child_age", "min_years": 5, "max_years": 15}]


def test_a_citizen_sees_each_incentive_and_why_not(web: Web) -> None:
    r = web.client.get(
        "/v1/me/incentives", headers={**web.auth("citizen"), "Accept-Language": "en"}
    )
    assert r.status_code == 200, r.text
    mine = r.json()
    assert len(mine["incentives"]) == 12
    for item in mine["incentives"]:
        assert item["qualifies"] == (item["unmet"] == [])
        for unmet in item["unmet"]:
            assert unmet["reason"] and unmet["change"]
    grade = mine["grade"]
    green = next(i for i in mine["incentives"] if i["id"] == "maternity_green_channel")
    assert green["qualifies"] == (grade == "A")
    if grade != "A":
        assert green["unmet"][0]["kind"] == "grade"
        assert "reach grade A" in green["unmet"][0]["change"]


def test_a_disputed_fact_is_left_out_until_the_next_evaluation(web: Web) -> None:
    """A person with a disputed fact is judged on a live evaluation without it (as the
    explanation is), not on the official grade that still counts it."""
    store, policy = web.store, active_policy(web.store)
    today = utc_now().date()
    with store.engine.connect() as conn:
        fact = conn.execute(
            sa.select(s.facts.c.id)
            .join(s.links, s.links.c.mention_id == s.facts.c.subject_mention_id)
            .where(s.links.c.person_id == web.inside.id, s.facts.c.superseded_at.is_(None))
            .order_by(s.facts.c.id)
            .limit(1)
        ).scalar_one()
    official = {"grade": "D"}  # what the official row would say; the live one must replace it
    before = profiles(store, policy, {web.inside.id: official}, today)[0]
    assert before.grade == "D" and not before.live
    trail = web.client.app.state.services.trail  # type: ignore[attr-defined]
    try:
        with store.engine.begin() as conn:
            conn.execute(s.facts.update().where(s.facts.c.id == fact).values(disputed=True))
            trail.record_fact_state(fact, True, "system", "objection_handling", conn=conn)
        during = profiles(store, policy, {web.inside.id: official}, today)[0]
        assert during.live
        assert during.grade == live_grade(store, policy, web.inside.id, today)
        assert during.grade != "D" or during.grade is None
    finally:
        with store.engine.begin() as conn:
            conn.execute(s.facts.update().where(s.facts.c.id == fact).values(disputed=False))
            trail.record_fact_state(fact, False, "system", "objection_handling", conn=conn)
    assert not profiles(store, policy, {web.inside.id: official}, dt.date.today())[0].live
