"""The attacker test of masking (R28): no role narrows anyone's ID number below 10,000.

For each role but the citizen (who reads only their own file and knows their number), every
route that answers about persons is called for every person of the `web` province, as the role
may; everything each answer shows is gathered per person — also what a parent's answers say
about a child and a child's about a parent — and the ID numbers that fit it all are counted
(`tests/reidentify.py`). The scores the answers show are attacked in `test_reidentify_scores.py`.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from fpcredit.evaluate.cuts import month_end
from fpcredit.evaluate.policy import load_policy
from fpcredit.guard.access import ROLE_PURPOSES, Role
from fpcredit.guard.keys.crypto import load_vault
from fpcredit.guard.masking import mask_id_number, today
from fpcredit.link.file import PersonFile
from fpcredit.standard import idcard
from fpcredit.store import schema as s
from fpcredit.web import api, reads
from fpcredit.web.api.views import PersonView, person_view
from fpcredit.web.rules import RULES
from tests.reidentify import FLOOR, Clues, candidates, cells
from tests.standard.test_idcard import valid_ids
from tests.web.conftest import STAFF_CALLERS, Web
from tests.web.reviews_data import review_of

# The readers: every staff role, each as the matrix logs it in. A department reads no person
# route (verification is its only door, tests/incentives/test_verification_api.py); a citizen
# reads only their own file.
READERS = [label for label, (_, where) in STAFF_CALLERS.items() if where == "in"]
ROLES = {**{k: v[0] for k, v in STAFF_CALLERS.items()}, "department": Role.DEPARTMENT}


# -- the counting itself ------------------------------------------------------------------


def test_an_unmasked_number_fits_itself_only() -> None:
    number = "11010519491231002X"
    born = idcard.birth_date(number)
    assert candidates(number, 2, dt.date(1900, 1, 1), dt.date(2026, 1, 1)) == 1
    assert candidates(number, None, born, born) == 1


def test_the_old_mask_beside_the_birth_date_gives_the_number_away() -> None:
    """`331022********6496` with `birth_date: 1990-08-31` (the issue's example)."""
    number = "331022" + "19900831" + "649"
    number += idcard.check_digit(number)
    old = number[:6] + "*" * 8 + number[-4:]
    born = dt.date(1990, 8, 31)
    assert candidates(old, idcard.sex(number), born, born) == 1
    # Even with only the birth year known, the last four leave one number in about 11 days.
    assert candidates(old, None, dt.date(1990, 1, 1), dt.date(1990, 12, 31)) < 50


def test_the_new_mask_leaves_500_per_day_for_a_known_sex() -> None:
    number = "11010519491231002X"
    shown = mask_id_number(number)
    year = (dt.date(1949, 1, 1), dt.date(1949, 12, 31))
    assert candidates(shown, 2, *year) == 365 * 500
    assert candidates(shown, None, *year) == 365 * 1000
    feb = (dt.date(2024, 2, 1), dt.date(2024, 2, 29))
    assert candidates(shown, 1, *feb) == 29 * 500 >= FLOOR
    assert candidates(shown, 1, *feb, limit=FLOOR) == FLOOR
    # The check digit alone divides by eleven, the last four leave about one a day.
    assert candidates(number[:6] + "*" * 11 + number[-1], 2, *year) in range(16_000, 17_500)
    assert candidates(number[:6] + "*" * 8 + number[-4:], 2, *year) < 50


def test_legacy_numbers() -> None:
    legacy = "110105491231002"
    born = dt.date(1949, 12, 31)
    assert candidates(legacy, 2, born, born) == 1
    assert candidates(mask_id_number(legacy), 2, born, born) == 500


@given(valid_ids(), st.integers(0, 40), st.integers(0, 40), st.sampled_from([None, "region"]))
def test_the_truth_always_fits_and_the_count_is_exact(
    number: str, before: int, after: int, sex_shown: str | None
) -> None:
    born = idcard.birth_date(number)
    lo, hi = born - dt.timedelta(days=before), born + dt.timedelta(days=after)
    sex = idcard.sex(number) if sex_shown else None
    days = (hi - lo).days + 1
    assert candidates(mask_id_number(number), sex, lo, hi) == days * (500 if sex else 1000)
    # Any shown digit still lets the truth through, and only divides what is left.
    for keep in (14, 17, 18):
        partly = number[:keep] + "*" * (18 - keep)
        assert 1 <= candidates(partly, sex, lo, hi) <= days * 1000


def test_the_strongest_reader_bounds_the_birth_by_the_nearest_dates() -> None:
    clues = Clues(today=dt.date(2026, 12, 6), shown=mask_id_number("11010519491231002X"), sex=2)
    clues.add(cells({"birth_year": 1949, "facts": [{"event_month": "1950-01"}]}), "view")
    assert clues.birth_range(dt.date(1949, 12, 31))[0] == (
        dt.date(1949, 1, 1),
        dt.date(1949, 12, 31),
    )
    clues.add(cells({"label": "for the child born 1949-12"}), "explanation")
    assert clues.birth_range(dt.date(1949, 12, 31))[0] == (
        dt.date(1949, 12, 1),
        dt.date(1949, 12, 31),
    )
    assert clues.count(dt.date(1949, 12, 31))[0] == 31 * 500
    clues.add(cells({"at": "1949-12-31T08:00:00Z", "as_of": "1949-12-30"}), "old view")
    assert clues.count(dt.date(1949, 12, 31))[0] == 500
    assert list(cells({"score_date": "2026-06-30", "x": "20260105 and 2026-13"})) == [
        (dt.date(2026, 1, 5), dt.date(2026, 1, 5))
    ]


# -- the people of the province, as the store knows them ----------------------------------


@dataclass(frozen=True)
class Truth:
    id_number: str
    born: dt.date
    name: str
    region: str | None  # hukou


def _truth(web: Web) -> dict[int, Truth]:
    vault = load_vault(web.settings.keys_dir)
    p = s.persons
    with web.store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(p.c.id, p.c.id_number_enc, p.c.name_enc, p.c.birth_date, p.c.hukou_region)
            .where(p.c.merged_into.is_(None), p.c.id_number_enc.is_not(None))
            .order_by(p.c.id)
        ).all()
    out = {}
    for r in rows:
        number = vault.decrypt(r.id_number_enc, "id_number") or ""
        name = vault.decrypt(r.name_enc, "name") or ""
        out[int(r.id)] = Truth(number, r.birth_date, name, r.hukou_region)
    return out


def _births(web: Web) -> list[tuple[int, int]]:
    """(parent, child) of every birth registration."""
    sql = sa.text(
        "SELECT DISTINCT pl.person_id, cl.person_id FROM facts f"
        " JOIN mentions p ON p.record_id = f.record_id AND p.role IN ('mother', 'father')"
        " JOIN links pl ON pl.mention_id = p.id"
        " JOIN mentions c ON c.record_id = f.record_id AND c.role = 'child'"
        " JOIN links cl ON cl.mention_id = c.id"
        " WHERE f.kind = 'birth_registration'"
    )
    with web.store.engine.connect() as conn:
        return sorted((int(parent), int(child)) for parent, child in conn.execute(sql))


def _families(web: Web) -> dict[int, set[int]]:
    """Each person's parents and children."""
    kin: dict[int, set[int]] = defaultdict(set)
    for parent, child in _births(web):
        kin[parent].add(child)
        kin[child].add(parent)
    return kin


def _parent(web: Web) -> int:
    """The parent with the most children, of the province the staff callers serve."""
    truth, province = _truth(web), web.inside.county[:2]
    children: dict[int, int] = defaultdict(int)
    for parent, _ in _births(web):
        if parent in truth and (truth[parent].region or "").startswith(province):
            children[parent] += 1
    return max(sorted(children), key=lambda p: children[p])


# -- the sweep ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    route: str
    about: int | None  # the person the answer is about; None: about nobody in particular
    body: Any


Caller = Callable[[Web, str, str, int, Truth], Iterator[Answer]]


def _get(web: Web, label: str, route: str, url: str, pid: int) -> Iterator[Answer]:
    r = web.client.get(url, params={"purpose": _purpose(label)}, headers=web.auth(label))
    if r.status_code == 200:
        yield Answer(route, pid, r.json())


def _search(web: Web, label: str, route: str, pid: int, truth: Truth) -> Iterator[Answer]:
    r = web.client.post(
        "/v1/persons/search",
        params={"purpose": _purpose(label)},
        json={"name": truth.name},
        headers=web.auth(label),
    )
    if r.status_code == 200:
        for view in r.json()["persons"]:
            yield Answer(route, view["person_id"], view)


def _entries(web: Web, label: str, route: str, pid: int, truth: Truth) -> Iterator[Answer]:
    """The first and the newest entries (the trail is about nobody in particular)."""
    params = {"purpose": _purpose(label), "limit": 200}
    first = web.client.get("/v1/audit/entries", params=params, headers=web.auth(label))
    if first.status_code != 200:
        return
    yield Answer(route, None, first.json())
    start = max(0, first.json()["tree_size"] - 200)
    newest = web.client.get(
        "/v1/audit/entries", params={**params, "start": start}, headers=web.auth(label)
    )
    yield Answer(route, None, newest.json())


def _decision(web: Web, label: str, route: str, pid: int, truth: Truth) -> Iterator[Answer]:
    """A review case opened for the person (as the citizen would), decided by the reader: the
    decided case's view. A review touches no fact, so the province's scores stay as they were."""
    cases = web.client.app.state.services.cases  # type: ignore[attr-defined]
    case = cases.review(pid, "请复核我的信用等级", {}, "citizen:sweep")
    r = web.client.post(
        f"/v1/cases/{case.id}/decision",
        params={"purpose": _purpose(label)},
        json={"outcome": "confirm", "reason": "复核维持原等级"},
        headers=web.auth(label),
    )
    if r.status_code == 200:
        yield Answer(route, pid, r.json())


def _queue(web: Web, label: str, route: str, pid: int, truth: Truth) -> Iterator[Answer]:
    """The reader's whole queue, once; each case is an answer about its person."""
    r = web.client.get(
        "/v1/cases", params={"purpose": _purpose(label), "limit": 500}, headers=web.auth(label)
    )
    if r.status_code == 200:
        for case in r.json()["cases"]:
            yield Answer(route, case["person_id"], case)


def _reviews(web: Web, label: str, route: str, pid: int, truth: Truth) -> Iterator[Answer]:
    """The reader's review queue, once; each pair is an answer about its candidate person."""
    params = {"purpose": _purpose(label), "limit": 200}
    r = web.client.get("/v1/reviews", params=params, headers=web.auth(label))
    if r.status_code == 200:
        for item in r.json()["reviews"]:
            yield Answer(route, item["candidate_person_id"], item)


def _review(web: Web, label: str, route: str, pid: int, truth: Truth) -> Iterator[Answer]:
    """Both sides of a pair about the person."""
    url = f"/v1/reviews/{review_of(web, 'accepted', pid)}"
    yield from _get(web, label, route, url, pid)


def _review_decision(web: Web, label: str, route: str, pid: int, truth: Truth) -> Iterator[Answer]:
    """A pair about the person accepted by the reader: the decision's answer."""
    pair = review_of(web, person=pid)  # accepting it moves nothing
    r = web.client.post(
        f"/v1/reviews/{pair}/decision",
        params={"purpose": _purpose(label)},
        json={"action": "accept", "reason": "同一人，记录一致"},
        headers=web.auth(label),
    )
    if r.status_code == 200:
        yield Answer(route, pid, r.json())
    else:  # refused (another region): the pair is the sweep's, not the queue's
        with web.store.engine.begin() as conn:
            conn.execute(sa.delete(s.link_reviews).where(s.link_reviews.c.id == pair))


def _merge(web: Web, label: str, route: str, pid: int, truth: Truth) -> Iterator[Answer]:
    """A merge of the person into themself (refused: a real merge would change the province
    the other tests read); a refusal must carry nothing about anyone."""
    r = web.client.post(
        f"/v1/persons/{pid}/merge",
        params={"purpose": _purpose(label)},
        json={"other": pid, "reason": "同一人"},
        headers=web.auth(label),
    )
    yield Answer(route, pid, r.json())


def _unmerge(web: Web, label: str, route: str, pid: int, truth: Truth) -> Iterator[Answer]:
    """An unmerge of a mention that is not the person's (refused, for the same reason)."""
    r = web.client.post(
        f"/v1/persons/{pid}/unmerge",
        params={"purpose": _purpose(label)},
        json={"mention_ids": [2**40], "reason": "不是同一人"},
        headers=web.auth(label),
    )
    yield Answer(route, pid, r.json())


def _dashboard(board: str) -> Caller:
    def call(web: Web, label: str, route: str, pid: int, truth: Truth) -> Iterator[Answer]:
        """A dashboard is about nobody in particular: what it tells, it tells about all."""
        params = {"purpose": _purpose(label)}
        r = web.client.get(f"/v1/dashboards/{board}", params=params, headers=web.auth(label))
        if r.status_code == 200:
            yield Answer(route, None, r.json())

    return call


def _person_route(suffix: str) -> Caller:
    def call(web: Web, label: str, route: str, pid: int, truth: Truth) -> Iterator[Answer]:
        return _get(web, label, route, f"/v1/persons/{pid}{suffix}", pid)

    return call


# Every route that answers about persons, and how the attacker asks it about one person.
ROUTES: dict[tuple[str, str], Caller] = {
    ("POST", "/v1/persons/search"): _search,
    ("GET", "/v1/persons/{person_id}"): _person_route(""),
    ("GET", "/v1/persons/{person_id}/credit"): _person_route("/credit"),
    ("GET", "/v1/persons/{person_id}/explanation"): _person_route("/explanation"),
    ("GET", "/v1/audit/entries"): _entries,
    ("POST", "/v1/cases/{case_id}/decision"): _decision,  # before the queue: it opens cases
    ("GET", "/v1/cases"): _queue,
    ("GET", "/v1/reviews"): _reviews,
    ("GET", "/v1/reviews/{review_id}"): _review,
    ("POST", "/v1/reviews/{review_id}/decision"): _review_decision,
    ("POST", "/v1/persons/{person_id}/merge"): _merge,
    ("POST", "/v1/persons/{person_id}/unmerge"): _unmerge,
    ("GET", "/v1/dashboards/grades"): _dashboard("grades"),
    ("GET", "/v1/dashboards/quality"): _dashboard("quality"),
    ("GET", "/v1/dashboards/monitoring"): _dashboard("monitoring"),
}


# Routes asked once per reader, not once per person: about nobody in particular, a list, or
# the decision (a write, each costing an explanation, whose answer is the queue's view of the
# case it decided).
ONCE = {
    ("GET", "/v1/audit/entries"),
    ("GET", "/v1/cases"),
    ("POST", "/v1/cases/{case_id}/decision"),
    ("GET", "/v1/reviews"),
    ("GET", "/v1/dashboards/grades"),
    ("GET", "/v1/dashboards/quality"),
    ("GET", "/v1/dashboards/monitoring"),
}


def _purpose(label: str) -> str:
    return sorted(p.value for p in ROLE_PURPOSES[ROLES[label]])[0]


def test_every_route_about_persons_is_attacked() -> None:
    """A new route that reads personal data must be added to the sweep (citizens' own are
    exempt: they read only themselves)."""
    about_persons = {key for key, rule in RULES.items() if rule.personal and rule.scope != "self"}
    assert set(ROUTES) == about_persons


def _evaluated_by(cut: dt.date, min_age: int) -> dt.date:
    """The latest birth date of a person evaluated on `cut`. A birth is read as the last day
    of its month (docs/policy.md §1.1), so this is the end of a month: of the month `min_age`
    years before the cut's when its last day is at most the cut's day, else of the one before."""
    year = cut.year - min_age
    last = calendar.monthrange(year, cut.month)[1]
    if cut.day >= last:
        return dt.date(year, cut.month, last)
    return dt.date(year, cut.month, 1) - dt.timedelta(days=1)


@dataclass(frozen=True)
class Finding:
    reader: str
    person: int
    count: int
    why: str

    def __str__(self) -> str:
        return f"{self.reader} · person {self.person} · {self.count} ID numbers fit · {self.why}"


def _ask(web: Web, reader: str, persons: list[int], routes: list[tuple[str, str]]) -> list[Answer]:
    """Every route about every person; a route about nobody in particular, or a list, once."""
    truth = _truth(web)
    answers = []
    for key in routes:
        about = persons[:1] if key in ONCE else persons
        for pid in about:
            answers += ROUTES[key](web, reader, f"{key[0]} {key[1]}", pid, truth[pid])
    return answers


def learn(answers: list[Answer], kin: dict[int, set[int]], everyone: set[int]) -> dict[int, Clues]:
    """What the answers tell about each person: their own answers, their parents' and their
    children's; an answer about nobody in particular tells about everyone."""
    min_age = load_policy().policy.population.min_age
    clues: dict[int, Clues] = defaultdict(lambda: Clues(today=today()))
    for a in answers:
        where = f"{a.route} of person {a.about}" if a.about else a.route
        found = list(cells(a.body))
        targets = everyone if a.about is None else {a.about} | kin.get(a.about, set())
        for pid in targets:
            clues[pid].add(iter(found), where)
        if a.about is None or not isinstance(a.body, dict):
            continue
        own = clues[a.about]
        own.add_scores(a.body, where)
        if "id_number" in a.body:
            own.shown, own.sex = a.body["id_number"], a.body["sex"]
            if a.body.get("birth_year", 0) is None:
                own.no_birth_year(where)
        if "score_date" in a.body:  # evaluated that day, so of age
            cut = dt.date.fromisoformat(str(a.body["score_date"]))
            own.bounds[_evaluated_by(cut, min_age)] = f"{where} (evaluated)"
    return clues


def sweep(
    web: Web, readers: list[str], persons: list[int], routes: list[tuple[str, str]]
) -> list[Finding]:
    """Every reader asks every route about every person; the persons they narrow too far."""
    truth, kin = _truth(web), _families(web)
    found = []
    for reader in readers:
        clues = learn(_ask(web, reader, persons, routes), kin, set(truth))
        for pid, clue in sorted(clues.items()):
            if pid in truth:
                count, why = clue.count(truth[pid].born, limit=FLOOR)
                if count < FLOOR:
                    found.append(Finding(reader, pid, count, why))
    return found


def check(findings: list[Finding]) -> None:
    """Fails naming every reader, person, count and the answers that narrowed the birth."""
    lines = [str(f) for f in findings]
    assert not findings, f"{len(lines)} ID numbers narrowed below {FLOOR}:\n" + "\n".join(
        lines[:40]
    )


def _old_person_view(file: PersonFile, role: Role, reveal: bool, **kw: Any) -> PersonView:
    """The masking before issue 21: region and last four shown, the birth date beside them."""
    view = person_view(file, role, reveal, **kw)
    if not view.masked and file.id_number:
        return view
    number = file.id_number or ""
    old = number[:6] + "*" * (len(number) - 10) + number[-4:]
    return view.model_copy(update={"id_number": old or None, "birth_date": file.birth_date})


def test_the_attacker_catches_the_old_masking(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api.persons, "person_view", _old_person_view)
    monkeypatch.setattr(reads, "person_view", _old_person_view)
    route = ("GET", "/v1/persons/{person_id}")
    findings = sweep(web, ["county_in"], [web.inside.id], [route])
    assert [(f.reader, f.person, f.count) for f in findings] == [("county_in", web.inside.id, 1)]
    with pytest.raises(AssertionError) as failed:
        check(findings)
    message = str(failed.value)
    assert f"county_in · person {web.inside.id} · 1 ID numbers fit" in message
    assert f"GET /v1/persons/{{person_id}} of person {web.inside.id}" in message


def test_no_reader_narrows_the_family_of_the_person_every_route_reads(web: Web) -> None:
    """The fast sweep: every reader and route, over the person the matrix reads, the parent
    of most children and their families (whose answers mention each other's dates)."""
    kin = _families(web)
    family = {web.inside.id, _parent(web)}
    family |= {k for p in family for k in kin.get(p, set())}
    check(sweep(web, READERS, sorted(family & set(_truth(web))), list(ROUTES)))


def test_the_case_routes_answer_the_sweep(web: Web) -> None:
    """The sweep of the case routes is not empty: the decision answers about the person, and
    the queue then lists that person's case."""
    routes = [("POST", "/v1/cases/{case_id}/decision"), ("GET", "/v1/cases")]
    answers = _ask(web, "county_in", [web.inside.id], routes)
    got = {(a.route, a.about) for a in answers}
    assert ("POST /v1/cases/{case_id}/decision", web.inside.id) in got
    assert ("GET /v1/cases", web.inside.id) in got
    assert not _ask(web, "county_out", [web.inside.id], routes[:1])  # another county's: 404


@pytest.mark.slow
@pytest.mark.parametrize("reader", READERS)
def test_no_reader_narrows_any_id_number_below_10000(web: Web, reader: str) -> None:
    """The whole province: every reader, every route, every person with an ID number."""
    check(sweep(web, [reader], sorted(_truth(web)), list(ROUTES)))


# -- the masked explanation ----------------------------------------------------------------


def _explanation(web: Web, label: str, **params: Any) -> Any:
    """The explanation of the parent of most children (province staff may read anyone's)."""
    params = {"purpose": "credit_evaluation", **params}
    return web.client.get(
        f"/v1/persons/{_parent(web)}/explanation", params=params, headers=web.auth(label)
    )


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def _unmasked_reads(web: Web) -> int:
    with web.store.engine.connect() as conn:
        return int(
            conn.scalar(
                sa.select(sa.func.count())
                .select_from(s.ledger_entries)
                .where(
                    s.ledger_entries.c.action == "explanation_read",
                    s.ledger_entries.c.outcome == "unmasked",
                )
            )
        )


def test_staff_explanations_are_masked_unless_revealed(web: Web) -> None:
    masked = _explanation(web, "national", reveal="true")  # national may not reveal
    assert masked.status_code == 200, masked.text
    assert masked.json()["date_precision"] == "month"
    keys = _keys(masked.json()["indicators"])
    assert not {k for k in keys if k.endswith(("_date", "_at"))}, keys
    assert {"event_month", "birth_month", "registered_month"} <= keys
    for start, end in cells(masked.json()):  # in texts too: months or longer, never a day
        assert start.day == 1 and (end + dt.timedelta(days=1)).day == 1, (start, end)
    before = _unmasked_reads(web)
    shown = _explanation(web, "province_in", reveal="true")
    assert shown.status_code == 200, shown.text
    assert shown.json()["date_precision"] == "day" and "event_date" in _keys(shown.json())
    assert _unmasked_reads(web) == before + 1
    own = web.client.get("/v1/me/explanation", headers=web.auth("citizen"))
    assert own.json()["date_precision"] == "day"


def test_a_masked_explanation_is_of_a_month_that_is_over(web: Web) -> None:
    # As of today, the score date is the last month end: a month that is over. Only on the
    # last day of a month is the score date today itself, and its masked view refused.
    running = today()
    masked = _explanation(web, "province_in", as_of=running.isoformat())
    if month_end(running) == running:
        assert masked.status_code == 422, masked.text
        assert masked.json()["detail"][0]["loc"] == ["query", "as_of"]
    else:
        assert masked.status_code == 200, masked.text
        assert dt.date.fromisoformat(masked.json()["score_date"]) < running.replace(day=1)
    shown = _explanation(web, "province_in", as_of=running.isoformat(), reveal="true")
    assert shown.status_code == 200, shown.text
    # A day that has not come is refused however the dates are shown.
    later = (today() + dt.timedelta(days=40)).isoformat()
    for reveal in ("false", "true"):
        ahead = _explanation(web, "province_in", as_of=later, reveal=reveal)
        assert ahead.status_code == 422 and ahead.json()["detail"][0]["loc"] == ["query", "as_of"]


def test_the_citizen_reads_their_own_dates_to_the_day(web: Web) -> None:
    own = web.client.get("/v1/me", headers=web.auth("citizen")).json()
    assert own["masked"] is True and own["date_precision"] == "day"
    assert own["birth_date"] == idcard.birth_date(web.inside.id_number).isoformat()
    assert own["id_number"] == mask_id_number(web.inside.id_number)


def test_the_attacker_catches_a_childs_dates_in_a_parents_explanation(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the explanation's dates exact, reading the parent narrows the children."""
    monkeypatch.setattr(reads, "exact_dates", lambda role, reveal: True)
    parent = _parent(web)
    children = {c for p, c in _births(web) if p == parent} & set(_truth(web))
    routes = [("GET", "/v1/persons/{person_id}"), ("GET", "/v1/persons/{person_id}/explanation")]
    findings = sweep(web, ["national"], sorted({parent} | children), routes)
    assert children and {f.person for f in findings} >= children
    narrowed = [f for f in findings if f.person in children]
    assert all(f.count <= 500 and f"of person {parent}" in f.why for f in narrowed), narrowed
