"""The objection lifecycle end to end through the HTTP API, with the service's clock moved by hand.

A citizen disputes a fact: it leaves the score at once; the overdue alert fires after 20 working
days and not before, 国庆 inside the window moving it; a clerk of another region can neither see
nor decide the case; the clerk of the person's region decides; the grade is restated on closing;
the person sees every step. On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from fpcredit.guard.trail.verify import verify
from fpcredit.store import schema as s
from tests.cases.conftest import moving_facts
from tests.web.conftest import Web

PURPOSE = {"purpose": "objection_handling"}


class Clock:
    """The case service's clock, set by the test (naive UTC)."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock(served: Web) -> Iterator[Clock]:
    cases = served.client.app.state.services.cases  # type: ignore[attr-defined]
    before = cases.clock
    cases.clock = fixed = Clock(dt.datetime(2026, 9, 28, 2, 0))  # Monday 10:00 in Beijing
    yield fixed
    cases.clock = before


def _total(w: Web) -> str:
    response = w.client.get("/v1/me/explanation", headers=w.auth("citizen"))
    assert response.status_code == 200, response.text
    return str(response.json()["total"])


def _my_case(w: Web, case_id: int) -> dict[str, Any]:
    response = w.client.get("/v1/me/cases", headers=w.auth("citizen"))
    assert response.status_code == 200, response.text
    found = [c for c in response.json()["cases"] if c["id"] == case_id]
    assert len(found) == 1
    return dict(found[0])


def _queue(w: Web, label: str, **params: Any) -> list[dict[str, Any]]:
    response = w.client.get(
        "/v1/cases", params={**PURPOSE, "kind": "objection", **params}, headers=w.auth(label)
    )
    assert response.status_code == 200, response.text
    return list(response.json()["cases"])


def _alerts(w: Web, case_id: int) -> list[dict[str, Any]]:
    n = s.notifications
    with w.store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(n.c.kind, n.c.audience, n.c.params).where(n.c.kind == "case_step")
        ).all()
    return [
        {"audience": r.audience, **json.loads(r.params)}
        for r in rows
        if json.loads(r.params).get("case_id") == case_id
    ]


def test_an_objection_from_the_dispute_to_the_restated_grade(served: Web, clock: Clock) -> None:
    w = served
    moving = moving_facts(w)
    fact_id = moving[0]
    before = _total(w)

    opened = w.client.post(
        "/v1/me/objections",
        json={"fact_id": fact_id, "reason": "该记录不是我的"},
        headers=w.auth("citizen"),
    )
    assert opened.status_code == 201, opened.text
    case = opened.json()
    case_id = case["id"]
    # The SLA: 20 working days from Monday 28 September; 国庆 (1–7 October) is inside, and
    # Saturday 10 October is worked — so Friday 30 October, not Monday 26 October.
    assert case["due_on"] == "2026-10-30"
    assert case["state"] == "open" and case["steps"][0]["step"] == "opened"
    # The fact leaves the score at once.
    assert _total(w) != before

    again = w.client.post(
        "/v1/me/objections", json={"fact_id": fact_id, "reason": "再次"}, headers=w.auth("citizen")
    )
    assert again.status_code == 409, again.text

    # 20 weekdays after, ignoring holidays, would be 26 October: not overdue on the 27th.
    clock.now = dt.datetime(2026, 10, 27, 2, 0)
    assert not _my_case(w, case_id)["overdue"]
    assert not _queue(w, "clerk_in", overdue=True)
    clock.now = dt.datetime(2026, 10, 30, 15, 0)  # 23:00 on the due day in Beijing
    assert not _my_case(w, case_id)["overdue"]
    assert not _alerts(w, case_id)

    clock.now = dt.datetime(2026, 10, 30, 16, 30)  # 00:30 on 31 October in Beijing
    mine = _my_case(w, case_id)
    assert mine["overdue"]
    assert [st["step"] for st in mine["steps"]] == ["opened", "overdue"]
    queued = _queue(w, "clerk_in", overdue=True)
    assert [c["id"] for c in queued] == [case_id]
    _queue(w, "clerk_in")  # listing again raises no second alert
    alerts = _alerts(w, case_id)
    assert len(alerts) == 1 and alerts[0]["step"] == "overdue"
    assert alerts[0]["audience"] == case["source"]  # the providing department

    # A clerk of another region neither sees nor decides it.
    assert case_id not in [c["id"] for c in _queue(w, "clerk_out")]
    refused = w.client.post(
        f"/v1/cases/{case_id}/decision",
        params=PURPOSE,
        json={"outcome": "uphold", "reason": "核实"},
        headers=w.auth("clerk_out"),
    )
    assert refused.status_code == 404, refused.text

    wrong = w.client.post(
        f"/v1/cases/{case_id}/decision",
        params=PURPOSE,
        json={"outcome": "approve", "reason": "核实"},
        headers=w.auth("clerk_in"),
    )
    assert wrong.status_code == 422, wrong.text

    clock.now = dt.datetime(2026, 11, 2, 2, 0)
    decided = w.client.post(
        f"/v1/cases/{case_id}/decision",
        params=PURPOSE,
        json={"outcome": "uphold", "reason": "部门核实记录有误"},
        headers=w.auth("clerk_in"),
    )
    assert decided.status_code == 200, decided.text
    closed = decided.json()
    assert closed["state"] == "closed" and closed["outcome"] == "uphold"
    twice = w.client.post(
        f"/v1/cases/{case_id}/decision",
        params=PURPOSE,
        json={"outcome": "reject", "reason": "再议"},
        headers=w.auth("clerk_in"),
    )
    assert twice.status_code == 409, twice.text

    # The person sees every step; the restatement carries the total without the fact.
    mine = _my_case(w, case_id)
    assert [st["step"] for st in mine["steps"]] == [
        "opened", "overdue", "decided", "restated", "closed",
    ]  # fmt: skip
    restated = mine["steps"][3]["note"]
    assert restated["total"] == _total(w) != before
    assert restated["official_total"] == before
    assert mine["steps"][2]["note"]["reason"] == "部门核实记录有误"
    n = s.notifications
    with w.store.engine.connect() as conn:
        outcomes = conn.execute(
            sa.select(n.c.params).where(n.c.kind == "case_outcome", n.c.person_id == w.inside.id)
        ).scalars()
        assert any(json.loads(p)["case_id"] == case_id for p in outcomes)
    report = verify(w.store, w.settings)
    assert report["ok"], report


def test_a_rejected_objection_puts_the_fact_back(served: Web, clock: Clock) -> None:
    w = served
    moving = moving_facts(w)
    fact_id = moving[-1]
    before = _total(w)
    opened = w.client.post(
        "/v1/me/objections", json={"fact_id": fact_id, "reason": "有误"}, headers=w.auth("citizen")
    )
    assert opened.status_code == 201, opened.text
    assert _total(w) != before
    decided = w.client.post(
        f"/v1/cases/{opened.json()['id']}/decision",
        params=PURPOSE,
        json={"outcome": "reject", "reason": "记录属实"},
        headers=w.auth("clerk_in"),
    )
    assert decided.status_code == 200, decided.text
    assert _total(w) == before
    with w.store.engine.connect() as conn:
        disputed = conn.execute(
            sa.select(s.facts.c.disputed).where(s.facts.c.id == fact_id)
        ).scalar_one()
    assert not disputed
    report = verify(w.store, w.settings)
    assert report["ok"], report


def test_a_decision_whose_closing_was_lost_is_finished_by_the_same_decision(
    served: Web, clock: Clock
) -> None:
    w = served
    review = w.client.post("/v1/me/reviews", json={"reason": "请复核"}, headers=w.auth("citizen"))
    assert review.status_code == 201, review.text
    case_id = review.json()["id"]
    # The decision's transaction committed, the closing's did not (the process stopped).
    services = w.client.app.state.services  # type: ignore[attr-defined]
    services.cases.decide(case_id, "confirm", "复核无误", "county:clerk.in", {})
    assert _my_case(w, case_id)["state"] == "open"
    other = w.client.post(
        f"/v1/cases/{case_id}/decision", params=PURPOSE,
        json={"outcome": "revise", "reason": "改判"}, headers=w.auth("clerk_in"),
    )  # fmt: skip
    assert other.status_code == 409, other.text
    again = w.client.post(
        f"/v1/cases/{case_id}/decision", params=PURPOSE,
        json={"outcome": "confirm", "reason": "复核无误"}, headers=w.auth("clerk_in"),
    )  # fmt: skip
    assert again.status_code == 200, again.text
    assert again.json()["state"] == "closed"
    assert [s["step"] for s in _my_case(w, case_id)["steps"]].count("decided") == 1


def test_only_facts_of_ones_own_file(served: Web, clock: Clock) -> None:
    w = served
    with w.store.engine.connect() as conn:
        theirs = conn.execute(
            sa.select(s.facts.c.id)
            .join(s.links, s.links.c.mention_id == s.facts.c.subject_mention_id)
            .where(s.links.c.person_id == w.outside.id)
            .limit(1)
        ).scalar_one()
    for path, body in (
        ("/v1/me/objections", {"fact_id": theirs, "reason": "x"}),
        ("/v1/me/corrections", {"fact_id": theirs, "what_is_wrong": "x"}),
        ("/v1/me/repairs", {"fact_id": theirs, "evidence": "x"}),
        ("/v1/me/objections", {"fact_id": 2**61, "reason": "x"}),
    ):
        response = w.client.post(path, json=body, headers=w.auth("citizen"))
        assert response.status_code == 404, response.text


def test_corrections_and_reviews_are_cases_with_deadlines(served: Web, clock: Clock) -> None:
    w = served
    moving = moving_facts(w)
    correction = w.client.post(
        "/v1/me/corrections",
        json={"fact_id": moving[0], "what_is_wrong": "日期应为三月"},
        headers=w.auth("citizen"),
    )
    assert correction.status_code == 201, correction.text
    assert correction.json()["due_on"] == "2026-10-23"  # 15 working days, 国庆 inside
    review = w.client.post(
        "/v1/me/reviews", json={"reason": "请人工复核我的等级"}, headers=w.auth("citizen")
    )
    assert review.status_code == 201, review.text
    body = review.json()
    assert body["kind"] == "review" and body["source"] is None
    assert body["detail"]["explanation"]["total"] == _total(w)
    mine = w.client.get(f"/v1/me/cases/{body['id']}", headers=w.auth("citizen"))
    assert mine.status_code == 200 and mine.json()["id"] == body["id"]
    decided = w.client.post(
        f"/v1/cases/{body['id']}/decision",
        params=PURPOSE,
        json={"outcome": "confirm", "reason": "复核无误"},
        headers=w.auth("clerk_in"),
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["state"] == "closed"


def _negative_event(w: Web) -> tuple[int, int, dt.date, str]:
    """A negative event of some person: (person, fact, event date, severity)."""
    f, lk = s.facts, s.links
    with w.store.engine.connect() as conn:
        row = conn.execute(
            sa.select(lk.c.person_id, f.c.id, f.c.event_date, f.c.attrs)
            .join(lk, lk.c.mention_id == f.c.subject_mention_id)
            .where(f.c.kind == "credit_event", f.c.superseded_at.is_(None))
            .order_by(f.c.event_date.desc(), f.c.id)
            .limit(1)
        ).one()
    return int(row.person_id), int(row.id), row.event_date, json.loads(row.attrs)["severity"]


def test_credit_repair_after_the_minimum_period_ends_the_event_from_the_decision(
    served: Web, clock: Clock
) -> None:
    from fpcredit.cases.service import CaseError
    from fpcredit.evaluate.active import active_policy
    from fpcredit.evaluate.compile.dates import add_months
    from fpcredit.evaluate.load import load_frame

    w = served
    cases = w.client.app.state.services.cases  # type: ignore[attr-defined]
    person, fact, event, severity = _negative_event(w)
    rule = active_policy(w.store).policy.severities[severity]  # type: ignore[index]
    eligible = add_months(event, rule.min_months)
    actor = f"citizen:{person}"

    clock.now = dt.datetime.combine(eligible - dt.timedelta(days=1), dt.time(4))
    with pytest.raises(CaseError) as early:
        cases.repair(person, fact, "已履行", actor)
    assert early.value.status == 409 and eligible.isoformat() in str(early.value)
    clock.now = dt.datetime.combine(add_months(event, rule.max_months), dt.time(4))
    with pytest.raises(CaseError) as late:
        cases.repair(person, fact, "已履行", actor)
    assert late.value.status == 409

    applied = max(eligible, dt.date(2024, 1, 2))  # the calendar's data begins with 2024
    assert applied < add_months(event, rule.max_months)
    clock.now = dt.datetime.combine(applied, dt.time(4))
    case = cases.repair(person, fact, "已履行全部义务", actor)
    assert case.due_on == cases.calendar.add_working_days(applied, 10)
    assert [st.step for st in case.steps] == ["opened", "evidence"]
    decided_on = applied + dt.timedelta(days=3)
    clock.now = dt.datetime.combine(decided_on, dt.time(4))
    cases.decide(case.id, "approve", "材料齐全", "county:clerk.in", {})
    closed = cases.close(case.id, "county:clerk.in")
    assert closed.state == "closed" and closed.outcome() == "approve"

    attributes = active_policy(w.store).policy.attributes()

    def counted(cut: dt.date) -> bool:
        frame = load_frame(w.store, cut, attributes, persons=[person])
        return fact in frame.facts.column("fact_id").to_pylist()

    assert counted(decided_on - dt.timedelta(days=1))  # before the decision: it still counts
    assert not counted(decided_on)  # from the decision date on: its effect ends
    report = verify(w.store, w.settings)
    assert report["ok"], report


def test_a_repair_of_what_is_not_a_negative_event_is_refused(served: Web, clock: Clock) -> None:
    w = served
    f = s.facts
    with w.store.engine.connect() as conn:
        kinds = dict(
            conn.execute(sa.select(f.c.id, f.c.kind).where(f.c.id.in_(moving_facts(w)))).all()
        )
    plain = [i for i, kind in kinds.items() if kind != "credit_event"]
    assert plain
    response = w.client.post(
        "/v1/me/repairs", json={"fact_id": plain[0], "evidence": "x"}, headers=w.auth("citizen")
    )
    assert response.status_code == 422, response.text
