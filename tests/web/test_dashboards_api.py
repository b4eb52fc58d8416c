"""The dashboards against independent counts on the fixture's store and results file."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from fpcredit.evaluate.active import active_policy
from fpcredit.monitoring import THRESHOLDS, Dashboards
from fpcredit.standard.elements import load_standard
from fpcredit.store import schema as s
from fpcredit.store.db import utc_now
from tests.web.conftest import Web

SUPERVISION = {"purpose": "supervision"}
QUALITY = {"purpose": "data_quality"}


@pytest.fixture
def fresh(web: Web) -> Iterator[None]:
    """A new cache, so that nothing kept by an earlier test answers (the alerts live 10 s)."""
    services = web.client.app.state.services  # type: ignore[attr-defined]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(services, "dashboards", Dashboards())
        yield


def _latest(web: Web) -> Any:
    e = s.evaluations
    query = sa.select(e).where(e.c.kind == "official").order_by(e.c.id.desc()).limit(1)
    with web.store.engine.connect() as conn:
        return conn.execute(query).mappings().one()


def _close(a: float | None, b: float) -> bool:
    return a is not None and abs(a - b) < 1e-5


def test_grades_are_the_results_files_counts(web: Web, fresh: None) -> None:
    run = _latest(web)
    rows = pq.read_table(web.settings.home / run["path"], columns=["grade", "group"]).to_pylist()
    r = web.client.get("/v1/dashboards/grades", params=SUPERVISION, headers=web.auth("county_in"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["evaluation"] == run["id"] and body["as_of"] == run["as_of"].isoformat()
    assert body["policy_version"] == run["policy_version"] and body["scope"] == "province"
    counted = Counter(row["grade"] for row in rows)
    assert {g["grade"]: g["persons"] for g in body["grades"]} == {
        g: counted.get(g, 0) for g in (x["grade"] for x in body["grades"])
    }
    assert body["persons"] == len(rows)
    best = body["best_grade"]
    rates = {}
    for group in {row["group"] or "unknown" for row in rows}:
        members = [row for row in rows if (row["group"] or "unknown") == group]
        rates[group] = sum(row["grade"] == best for row in members) / len(members)
    top = max(rates.values())
    shown = {g["code"]: g for g in body["by_region_type"]}
    assert set(shown) == set(rates)
    for group, rate in rates.items():
        assert _close(shown[group]["best_rate"], rate)
        assert shown[group]["four_fifths"] == (top == 0 or rate / top >= 0.8)
        if top:
            assert _close(shown[group]["ratio_to_best"], rate / top)
    assert shown.get("rural", {"label": "农村"})["label"] == "农村"


def test_grades_in_english_label_occupations_from_the_standard(web: Web) -> None:
    r = web.client.get(
        "/v1/dashboards/grades",
        params=SUPERVISION,
        headers={**web.auth("national"), "Accept-Language": "en"},
    )
    assert r.status_code == 200
    standard = load_standard()
    for row in r.json()["by_occupation"]:
        if row["code"] != "unknown":
            assert row["label"] == standard.label("occupation", row["code"], "en")
    labels = {g["code"]: g["label"] for g in r.json()["by_region_type"]}
    assert labels.get("urban", "urban") == "urban"


def _records(web: Web) -> list[Any]:
    r = s.records
    with web.store.engine.connect() as conn:
        return list(conn.execute(sa.select(r.c.source, r.c.kind, r.c.event_date, r.c.recorded_at)))


def test_quality_is_counted_from_the_records(web: Web, fresh: None) -> None:
    r = web.client.get("/v1/dashboards/quality", params=QUALITY, headers=web.auth("city_in"))
    assert r.status_code == 200, r.text
    body = r.json()
    q, m, rec = s.quality_issues, s.mentions, s.records
    with web.store.engine.connect() as conn:
        issues = conn.execute(
            sa.select(q.c.source, q.c.field, q.c.ingestion_id, q.c.row_number).where(
                q.c.action == "flagged"
            )
        ).all()
        mothers = conn.execute(
            sa.select(m.c.id_number_enc).join(rec, rec.c.id == m.c.record_id)
            .where(rec.c.source == "cdc", m.c.role == "mother")
        ).all()  # fmt: skip
        quarantined = Counter(conn.scalars(sa.select(s.quarantine.c.source)))
    records = _records(web)
    accepted = Counter(row.source for row in records)
    datasets = load_standard().datasets
    days = {"realtime": 1, "weekly": 7, "monthly": 31}
    departments = {d["source"]: d for d in body["departments"]}
    for source, n in accepted.items():
        d = departments[source]
        assert d["accepted"] == n
        assert d["quarantined"] == quarantined.get(source, 0)
        flagged = {(i.ingestion_id, i.row_number) for i in issues if i.source == source}
        assert _close(d["accuracy"]["value"], (n - len(flagged)) / n)
        assert d["accuracy"]["target"] == 0.95
        assert d["accuracy"]["meets"] == ((n - len(flagged)) / n >= 0.95)
        mine = [row for row in records if row.source == source]
        timely = sum(
            (row.recorded_at - dt.datetime.combine(row.event_date, dt.time())).total_seconds()
            <= days[datasets[row.kind].frequency] * 86400
            for row in mine
        )
        assert _close(d["timeliness"]["value"], timely / len(mine)), source
        by_field = {f["field"]: f for f in d["fields"]}
        for field in {i.field for i in issues if i.source == source}:
            rows = {(i.ingestion_id, i.row_number) for i in issues
                    if i.source == source and i.field == field}  # fmt: skip
            assert _close(by_field[field]["accuracy"]["value"], (n - len(rows)) / n)
    cdc = {f["field"]: f for f in departments["cdc"]["fields"]}["mother.id_number"]
    filled = sum(row.id_number_enc is not None for row in mothers) / len(mothers)
    assert _close(cdc["completeness"]["value"], filled)
    assert cdc["completeness"]["target"] == 0.9 and cdc["completeness"]["meets"] == (filled >= 0.9)
    reasons = departments["hrss"]["quarantine_reasons"]
    assert reasons and reasons[0]["rows"] >= reasons[-1]["rows"] and reasons[0]["message"]


def _feedback(web: Web, ratings: list[int]) -> None:
    f = s.feedback
    with web.store.engine.begin() as conn:
        for rating in ratings:
            conn.execute(
                f.insert().values(person_id=web.inside.id, about="case", ref="dash",
                                  satisfaction=rating, created_at=utc_now())
            )  # fmt: skip


def test_monitoring_indicators_and_alerts_are_counted_from_the_store(web: Web, fresh: None) -> None:
    _feedback(web, [5, 4, 2])
    r = web.client.get(
        "/v1/dashboards/monitoring",
        params=SUPERVISION,
        headers={**web.auth("province_in"), "Accept-Language": "en"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    shown = {i["indicator"]: i for i in body["indicators"]}
    with web.store.engine.connect() as conn:
        ratings = list(conn.scalars(sa.select(s.feedback.c.satisfaction)))
        verified = set(
            conn.scalars(
                sa.select(s.verifications.c.person_id).where(s.verifications.c.eligible.is_(True))
            )
        )
        redeemed = set(conn.scalars(sa.select(s.points_redemptions.c.person_id)))
        open_cases = conn.execute(sa.select(s.cases.c.state, s.cases.c.due_on)).all()
        dead = conn.scalar(sa.select(sa.func.count()).where(s.notifications.c.state == "dead"))
    satisfied = sum(x >= 4 for x in ratings)
    assert (shown["satisfaction"]["count"], shown["satisfaction"]["of"]) == (
        satisfied,
        len(ratings),
    )
    assert _close(shown["satisfaction"]["value"], satisfied / len(ratings))
    assert shown["satisfaction"]["target"] == 0.85
    assert shown["satisfaction"]["label"] == "citizens' satisfaction"
    run = _latest(web)
    on = run["as_of"]
    admitted = {
        g for i in active_policy(web.store).policy.incentives if i.valid_on(on) for g in i.grades
    }
    rows = pq.read_table(web.settings.home / run["path"], columns=["person_id", "grade"])
    eligible = {row["person_id"] for row in rows.to_pylist() if row["grade"] in admitted}
    reached = eligible & (verified | redeemed)
    assert (shown["reach"]["count"], shown["reach"]["of"]) == (len(reached), len(eligible))
    assert shown["reach"]["target"] == 0.8
    quality = web.client.get(
        "/v1/dashboards/quality", params=QUALITY, headers=web.auth("national")
    ).json()
    assert shown["accuracy"]["value"] == quality["accuracy"]["value"]
    alerts = {a["alert"]: a for a in body["alerts"]}
    today = web.client.app.state.services.cases.today()  # type: ignore[attr-defined]
    overdue = sum(state == "open" and due < today for state, due in open_cases)
    assert alerts["overdue_cases"]["value"] == overdue
    assert alerts["dead_notifications"]["value"] == dead
    assert body["thresholds"] == THRESHOLDS
    assert set(alerts) == set(THRESHOLDS)


def test_refused_accesses_are_counted_from_the_trail(web: Web, fresh: None) -> None:
    refused = web.client.get("/v1/dashboards/grades", params={"purpose": "audit"},
                             headers=web.auth("national"))  # fmt: skip
    assert refused.status_code == 403
    e = s.ledger_entries
    since = utc_now() - dt.timedelta(hours=24)
    r = web.client.get(
        "/v1/dashboards/monitoring", params=SUPERVISION, headers=web.auth("national")
    )
    with web.store.engine.connect() as conn:
        outcomes = conn.execute(sa.select(e.c.outcome, e.c.at).where(e.c.at >= since)).all()
    count = sum(o.startswith("refused") for o, _ in outcomes)
    alert = {a["alert"]: a for a in r.json()["alerts"]}["refused_accesses_24h"]
    assert alert["value"] == count and count >= 1


def test_a_repeat_call_is_kept(web: Web, fresh: None) -> None:
    services = web.client.app.state.services  # type: ignore[attr-defined]
    for route, params in (("grades", SUPERVISION), ("quality", QUALITY),
                          ("monitoring", SUPERVISION)):  # fmt: skip
        first = web.client.get(f"/v1/dashboards/{route}", params=params,
                               headers=web.auth("national"))  # fmt: skip
        again = web.client.get(f"/v1/dashboards/{route}", params=params,
                               headers=web.auth("national"))  # fmt: skip
        assert first.json() == again.json()
    assert len(services.dashboards._kept) >= 3


@pytest.mark.parametrize(
    ("label", "purpose", "status"),
    [
        ("citizen", "self_service", 403),
        ("department", "data_quality", 403),
        ("auditor", "supervision", 403),
        ("sysadmin", "supervision", 403),
        ("national", "audit", 403),
        ("county_out", "supervision", 200),
    ],
)
def test_who_may_see_the_dashboards(web: Web, label: str, purpose: str, status: int) -> None:
    for route in ("grades", "quality", "monitoring"):
        r = web.client.get(
            f"/v1/dashboards/{route}", params={"purpose": purpose}, headers=web.auth(label)
        )
        assert r.status_code == status, (route, r.text)


def test_a_feedback_changes_the_figures(web: Web, fresh: None) -> None:
    def satisfaction() -> dict[str, Any]:
        r = web.client.get("/v1/dashboards/monitoring", params=SUPERVISION,
                           headers=web.auth("national"))  # fmt: skip
        found: dict[str, Any] = {i["indicator"]: i for i in r.json()["indicators"]}
        return dict(found["satisfaction"])

    before = satisfaction()
    _feedback(web, [1])
    after = satisfaction()
    assert after["of"] == before["of"] + 1
    assert json.dumps(after) != json.dumps(before)
