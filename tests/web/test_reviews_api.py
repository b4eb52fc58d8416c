"""Clerical review over HTTP: the queue and the pairs scoped by region, masked, decided once."""

from __future__ import annotations

import itertools
from typing import Any

import sqlalchemy as sa

from fpcredit.guard.access import Role
from fpcredit.guard.masking import mask_name
from fpcredit.store import schema as s
from tests.web.conftest import Web, _login_staff
from tests.web.reviews_data import review_of

LINKAGE = {"purpose": "record_linkage"}
_SERIAL = itertools.count()


def _county(web: Web, region: str) -> str:
    """A county clerk of `region`, logged in; returns the label."""
    label = f"reviewer.{region}.{next(_SERIAL)}"
    _login_staff(web, label, Role.COUNTY, region)
    return label


def _pairs(web: Web) -> list[Any]:
    r, m, p = s.link_reviews, s.mentions, s.persons
    query = (
        sa.select(r.c.id, r.c.status, p.c.hukou_region, p.c.residence_region,
                  m.c.hukou_region.label("m_hukou"), m.c.residence_region.label("m_residence"))
        .join(m, m.c.id == r.c.mention_id)
        .join(p, p.c.id == r.c.candidate_person_id)
        .order_by(r.c.id)
    )  # fmt: skip
    with web.store.engine.connect() as conn:
        return list(conn.execute(query))


def _regions(row: Any) -> set[str]:
    return {x for x in (row.hukou_region, row.residence_region, row.m_hukou, row.m_residence) if x}


def _trail(web: Web, actor: str, action: str) -> list[tuple[str, str | None]]:
    e = s.ledger_entries
    query = (
        sa.select(e.c.outcome, e.c.purpose)
        .where(e.c.actor == actor, e.c.action == action)
        .order_by(e.c.idx)
    )
    with web.store.engine.connect() as conn:
        return [(o, p) for o, p in conn.execute(query)]


def test_a_county_clerk_sees_only_the_pairs_of_the_county(web: Web) -> None:
    review_of(web)  # at least one pair in the inside county
    pairs = [p for p in _pairs(web) if p.status == "pending"]
    county = web.inside.county
    label = _county(web, county)
    r = web.client.get("/v1/reviews", params={**LINKAGE, "limit": 200}, headers=web.auth(label))
    assert r.status_code == 200, r.text
    shown = {item["id"] for item in r.json()["reviews"]}
    inside = {p.id for p in pairs if any(x == county for x in _regions(p))}
    assert shown == inside and r.json()["total"] == len(inside)
    everyone = web.client.get(
        "/v1/reviews", params={**LINKAGE, "limit": 200}, headers=web.auth("national")
    )
    assert {i["id"] for i in everyone.json()["reviews"]} == {p.id for p in pairs}
    probabilities = [i["probability"] for i in everyone.json()["reviews"]]
    assert probabilities == sorted(probabilities, reverse=True)
    page = web.client.get(
        "/v1/reviews", params={**LINKAGE, "limit": 1, "offset": 1}, headers=web.auth("national")
    )
    assert [i["id"] for i in page.json()["reviews"]] == [everyone.json()["reviews"][1]["id"]]


def test_a_pair_of_another_region_is_not_found_and_the_refusal_is_on_the_trail(web: Web) -> None:
    review = review_of(web)
    label = _county(web, web.outside.county)
    r = web.client.get(f"/v1/reviews/{review}", params=LINKAGE, headers=web.auth(label))
    assert r.status_code == 404, r.text
    decided = web.client.post(
        f"/v1/reviews/{review}/decision",
        params=LINKAGE,
        json={"action": "reject", "reason": "not theirs"},
        headers=web.auth(label),
    )
    assert decided.status_code == 404
    assert ("refused_region", "record_linkage") in _trail(web, f"county:{label}", "review_show")
    assert ("refused_region", "record_linkage") in _trail(web, f"county:{label}", "review_decide")
    missing = web.client.get("/v1/reviews/999999999", params=LINKAGE, headers=web.auth("national"))
    assert missing.status_code == 404


def test_the_pair_is_masked_with_each_fields_weight(web: Web) -> None:
    review = review_of(web)
    r = web.client.get(f"/v1/reviews/{review}", params=LINKAGE, headers=web.auth("county_in"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["masked"] is True
    fields = {f["field"]: f for f in body["fields"]}
    assert fields["name"]["person"] == mask_name(web.inside.name)
    assert fields["name"]["weight"] == 8.0 and fields["name"]["comparison"] == "name"
    assert fields["hukou_region"]["weight"] == 2.5
    assert fields["residence_region"]["comparison"] == "region"
    assert fields["sex"]["weight"] is None  # no such comparison in this pair's evidence
    birth = fields["birth_date"]["person"]
    assert birth is None or isinstance(birth, int)  # a year, never the day
    assert body["evidence"] == [{"comparison": "kin", "weight": 0.0}]
    shown = web.client.get(
        f"/v1/reviews/{review}", params={**LINKAGE, "reveal": "true"}, headers=web.auth("county_in")
    )
    clear = {f["field"]: f for f in shown.json()["fields"]}
    assert shown.json()["masked"] is False and clear["name"]["person"] == web.inside.name
    assert ("unmasked", "record_linkage") in _trail(web, "county:county_in", "review_show")
    # National staff never see names in clear, reveal or not (guard/masking.py REVEAL_ROLES).
    national = web.client.get(
        f"/v1/reviews/{review}", params={**LINKAGE, "reveal": "true"}, headers=web.auth("national")
    )
    assert national.json()["masked"] is True
    assert {f["field"]: f for f in national.json()["fields"]}["name"]["person"] == mask_name(
        web.inside.name
    )


def test_the_queue_masks_names(web: Web) -> None:
    review_of(web)
    r = web.client.get("/v1/reviews", params=LINKAGE, headers=web.auth("county_in"))
    names = [i["name"] for i in r.json()["reviews"] if i["candidate_person_id"] == web.inside.id]
    assert names and all(n is None or "*" in n for n in names)


def test_a_decision_is_kept_with_clerk_and_reason_and_a_second_is_refused(web: Web) -> None:
    review = review_of(web)
    label = _county(web, web.inside.county)
    body = {"action": "reject", "reason": "different mother"}
    r = web.client.post(
        f"/v1/reviews/{review}/decision", params=LINKAGE, json=body, headers=web.auth(label)
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "rejected" and r.json()["decided_by"] == f"county:{label}"
    lr, ld = s.link_reviews, s.link_decisions
    with web.store.engine.connect() as conn:
        row = conn.execute(sa.select(lr).where(lr.c.id == review)).one()
        decision = conn.execute(sa.select(ld).where(ld.c.review_id == review)).one()
        change = conn.scalar(
            sa.select(sa.func.count())
            .select_from(s.ledger_entries)
            .where(
                s.ledger_entries.c.table_name == "link_decisions",
                s.ledger_entries.c.first_id <= decision.id,
                s.ledger_entries.c.last_id >= decision.id,
            )
        )
    assert (row.status, row.decided_by, row.reason) == (
        "rejected",
        f"county:{label}",
        body["reason"],
    )
    assert (decision.action, decision.decided_by, decision.reason) == (
        "reject", f"county:{label}", body["reason"],
    )  # fmt: skip
    assert change == 1
    assert ("allowed", "record_linkage") in _trail(web, f"county:{label}", "review_decide")
    again = web.client.post(
        f"/v1/reviews/{review}/decision",
        params=LINKAGE,
        json={"action": "accept", "reason": "changed my mind"},
        headers=web.auth(label),
    )
    assert again.status_code == 409 and str(review) in again.json()["detail"]


def test_a_decision_needs_a_reason(web: Web) -> None:
    review = review_of(web)
    for body in ({"action": "reject"}, {"action": "reject", "reason": "x"},
                 {"action": "maybe", "reason": "why not"}):  # fmt: skip
        r = web.client.post(
            f"/v1/reviews/{review}/decision",
            params=LINKAGE,
            json=body,
            headers=web.auth("county_in"),
        )
        assert r.status_code == 422, body


def test_merge_and_unmerge_refuse_what_they_cannot_do(web: Web) -> None:
    headers = web.auth("county_in")
    outside = web.client.post(
        f"/v1/persons/{web.inside.id}/merge",
        params=LINKAGE,
        json={"other": web.outside.id, "reason": "same woman"},
        headers=headers,
    )
    assert outside.status_code == 404  # the other person is not in my county
    assert ("refused_region", "record_linkage") in _trail(web, "county:county_in", "person_merge")
    itself = web.client.post(
        f"/v1/persons/{web.inside.id}/merge",
        params=LINKAGE,
        json={"other": web.inside.id, "reason": "same woman"},
        headers=headers,
    )
    assert itself.status_code == 400
    lk = s.links
    with web.store.engine.connect() as conn:
        another = conn.scalar(sa.select(lk.c.mention_id).where(lk.c.person_id != web.inside.id))
    not_hers = web.client.post(
        f"/v1/persons/{web.inside.id}/unmerge",
        params=LINKAGE,
        json={"mention_ids": [another], "reason": "another woman"},
        headers=headers,
    )
    assert not_hers.status_code == 400 and str(another) in not_hers.json()["detail"]


def test_staff_only(web: Web) -> None:
    for label in ("citizen", "department", "auditor", "sysadmin"):
        r = web.client.get("/v1/reviews", params=LINKAGE, headers=web.auth(label))
        assert r.status_code == 403, label
