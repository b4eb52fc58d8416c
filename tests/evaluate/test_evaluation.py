"""Evaluating a linked store: point-in-time truth, late facts, explanations, exports, the CLI."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from fpcredit.cli import app
from fpcredit.collect.ingest import ingest_file
from fpcredit.collect.mapping import sources
from fpcredit.config import Settings
from fpcredit.evaluate.changes import changes_since_last
from fpcredit.evaluate.compile import birth_month_end
from fpcredit.evaluate.cuts import FutureDateError, cut_dates, not_in_future
from fpcredit.evaluate.explain import explain
from fpcredit.evaluate.load import load_frame
from fpcredit.evaluate.policy import load_policy
from fpcredit.evaluate.province import Province
from fpcredit.evaluate.report import export_scores
from fpcredit.evaluate.run import evaluate, latest
from fpcredit.guard.keys.crypto import Vault, create_keys, load_vault
from fpcredit.link import review
from fpcredit.link.config import load_config
from fpcredit.link.export import links_frame
from fpcredit.link.index import link
from fpcredit.service import feed_path
from fpcredit.store import schema as s
from fpcredit.store.db import Store, local_day, open_store
from fpcredit.synth import generate

pytestmark = pytest.mark.slow
PEOPLE = 1500
AS_OF = dt.date(2026, 6, 30)
LATER = dt.date(2026, 9, 30)


@dataclass
class Home:
    settings: Settings
    store: Store
    vault: Vault
    first: pl.DataFrame  # the export as of AS_OF, right after the early feeds
    again: pl.DataFrame  # the export as of AS_OF, after the later feeds arrived


def _ingest(store: Store, vault: Vault, folder: Path) -> None:
    for source in sources():
        ingest_file(store, vault, source, feed_path(folder, source))


def _export(home: Home | Settings, store: Store, out: Path) -> pl.DataFrame:
    settings = home if isinstance(home, Settings) else home.settings
    export_scores(latest(store, settings.home, AS_OF), out)
    return pl.read_csv(out, infer_schema_length=0)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def home(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Home]:
    tmp = tmp_path_factory.mktemp(f"asof-{request.param}")
    early, late = tmp / "early", tmp / "late"
    generate(people=PEOPLE, seed=11, out=early, until=AS_OF)
    generate(people=PEOPLE, seed=11, out=late, until=LATER)
    url = request.getfixturevalue("pg_database") if request.param == "postgres" else None
    settings = Settings(home=tmp / "home", database_url=url)
    create_keys(settings.keys_dir)
    store = open_store(settings)
    if url:
        with store.engine.begin() as conn:
            s.metadata.drop_all(conn)
            conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    store.upgrade()
    vault = load_vault(settings.keys_dir)
    policy = load_policy()
    _ingest(store, vault, early)
    link(store, vault, load_config())
    evaluate(store, settings.home, policy, AS_OF)
    first = _export(settings, store, tmp / "first.csv")
    _ingest(store, vault, late)
    link(store, vault, load_config())
    evaluate(store, settings.home, policy, AS_OF)
    again = _export(settings, store, tmp / "again.csv")
    yield Home(settings, store, vault, first, again)
    store.engine.dispose()


def test_as_of_is_identical_after_later_data_arrives(home: Home) -> None:
    assert home.first.height > PEOPLE * 0.8
    assert home.first.columns == home.again.columns
    assert home.first.equals(home.again), "exports as of the same date differ"


def test_export_has_the_fixed_columns_first(home: Home) -> None:
    assert home.first.columns[:5] == ["person_id", "total", "grade", "points", "policy_version"]
    assert {"dim_basic", "dim_fertility", "B01_score", "S03_score"} <= set(home.first.columns)
    grades = set(home.first["grade"].unique().to_list())
    assert grades <= {"A", "B", "C", "D"} and "A" in grades
    assert home.first["total"].str.contains(r"^\d{1,3}\.\d\d$").all()


def test_late_facts_restate_the_past_and_are_listed(home: Home) -> None:
    policy = load_policy()
    report = changes_since_last(home.store, home.settings.home, policy, AS_OF)
    assert report["previous"] < report["evaluation"]
    changed = report["changes"]
    assert changed, "the later feeds hold facts about the first half-year"
    with_facts = [c for c in changed if c["late_facts"]]
    assert len(with_facts) >= 0.9 * len(changed)
    for c in with_facts:
        for f in c["late_facts"]:
            assert f["event_date"] <= AS_OF.isoformat() < f["recorded_at"][:10]
    # The official as-of result is untouched: export still picks the official run.
    assert _export(home, home.store, home.settings.home / "third.csv").equals(home.first)


def _registration_before_its_month_end(store: Store) -> tuple[int, dt.date]:
    """A mother and a birth, registered before its month was over, not on its last day."""
    sql = sa.text(
        "SELECT l.person_id, f.event_date, f.recorded_at FROM facts f"
        " JOIN links l ON l.mention_id = f.subject_mention_id"
        " WHERE f.kind = 'birth_registration' AND f.superseded_at IS NULL"
        " AND f.disputed = false AND f.event_date < :cut ORDER BY f.id"
    )
    with store.engine.connect() as conn:
        rows = conn.execute(sql, {"cut": AS_OF}).all()
    for mother, event, recorded in rows:
        born = dt.date.fromisoformat(str(event)[:10])
        at = dt.datetime.fromisoformat(str(recorded)[:19])
        if born < birth_month_end(born) and at.date() < birth_month_end(born):
            return int(mother), born
    raise AssertionError("no birth registered within its month")


def test_a_birth_registration_counts_from_the_end_of_its_month(home: Home) -> None:
    """docs/policy.md §1.1: its event date is the birth date, read by the month: at a cut on the
    birth day it is not known yet, at the month's end it is, dated that day."""
    mother, born = _registration_before_its_month_end(home.store)
    attributes = load_policy().policy.attributes()

    def registrations(cut: dt.date) -> list[dt.date]:
        facts = load_frame(home.store, cut, attributes, persons=[mother]).facts.to_pylist()
        return [f["event_date"] for f in facts if f["kind"] == "birth_registration"]

    assert all(day < born.replace(day=1) for day in registrations(born))
    at_end = registrations(birth_month_end(born))
    assert birth_month_end(born) in at_end
    assert all(day == birth_month_end(day) for day in at_end)


def test_explanation_matches_the_batch_and_adds_up(home: Home) -> None:
    policy = load_policy()
    rows = home.again.sample(12, seed=1).to_dicts()
    non_best = home.again.filter(pl.col("grade") != "A").head(3).to_dicts()
    for row in rows + non_best:
        report = explain(home.store, policy, int(row["person_id"]), AS_OF)
        assert report["total"] == row["total"]
        assert report["grade"] == row["grade"]
        assert int(report["points"]) == int(row["points"])
        by_id = {line["indicator"]: line for line in report["indicators"]}
        assert str(by_id["B01"]["points"]) == row["B01_score"]
        contribution = sum(line["contribution"] for line in report["indicators"])
        assert contribution == pytest.approx(float(row["total"]), abs=0.02)
        nxt = report["to_raise_grade"]
        if row["grade"] == "A":
            assert nxt["already_best"]
        elif nxt.get("reachable"):
            order = policy.policy.grade_order
            assert order.index(nxt["grade"]) < order.index(row["grade"])
            assert float(nxt["total"]) > float(row["total"])
            assert nxt["actions"]
        for d in report["dimensions"]:  # full marks beside full marks is not "left out"
            if d["score"] == "100.00" and report["total"] == "100.00":
                assert d["included"], (row["person_id"], d)


def test_every_person_below_the_best_grade_has_actions_or_a_dated_path(home: Home) -> None:
    """What a citizen reads: for every person below A, what to do or when time does it; no
    line of a dimension left out of the total; checks of the file cited as checks."""
    policy = load_policy()
    order = policy.policy.grade_order
    below = home.again.filter(pl.col("grade") != order[0])["person_id"].to_list()
    assert len(below) >= 3
    paths = 0
    for pid in below:
        report = explain(home.store, policy, int(pid), AS_OF)
        nxt = report["to_raise_grade"]
        if report["score_grade"] == order[0]:
            assert nxt["already_best"]
            continue
        assert nxt.get("reachable") or nxt.get("path"), (pid, report["indicators"])
        if not nxt.get("reachable"):
            paths += 1
            path = nxt["path"]
            assert dt.date.fromisoformat(path["from_date"]) > AS_OF
            assert order.index(path["grade"]) < order.index(report["score_grade"])
            costing = {
                line["indicator"]
                for line in report["indicators"]
                if line["included"] and line["status"] == "scored" and line["points"] < 100
            }
            assert path["indicators"] and set(path["indicators"]) <= costing, (pid, path)
            assert path["from_date"] in path["text"] and path["grade"] in path["text"]
        counted = {d["dimension"] for d in report["dimensions"] if d["included"]}
        assert {line["dimension"] for line in report["indicators"]} <= counted
        for line in report["indicators"]:
            if line["indicator"] in ("B01", "B02", "B03"):
                (check,) = line["facts"]
                assert check["kind"] == "check" and check["passed"] == (line["points"] == 100)
    assert paths, "no person of the province needed a dated path: the test proves nothing"


def test_an_unmerge_is_seen_by_re_evaluation(home: Home, tmp_path: Path) -> None:
    links = links_frame(home.store).filter(pl.col("role") == "self")
    adults = home.again.select(pl.col("person_id").cast(pl.Int64))
    counts = (
        links.group_by("person_id").len().filter(pl.col("len") >= 4).join(adults, on="person_id")
    )
    person = int(counts.sort("person_id")["person_id"][0])
    mine = links.filter(pl.col("person_id") == person).sort("source", "record_key")
    split = [(r["source"], r["record_key"]) for r in mine.head(2).iter_rows(named=True)]
    out = review.unmerge(home.store, home.vault, person, split, "clerk", "two people, one file")
    run = evaluate(home.store, home.settings.home, load_policy(), LATER)
    ids = set(pl.read_parquet(run.path)["person_id"].to_list())
    assert out["new_person_id"] in ids and person in ids


def test_cli_evaluate_explain_and_errors(home: Home, tmp_path: Path) -> None:
    if home.settings.database_url:
        pytest.skip("the CLI is exercised on the embedded store")
    env = {"FPCREDIT_HOME": str(home.settings.home), "FPCREDIT_LANGUAGE": "en"}
    runner = CliRunner()
    done = runner.invoke(app, ["evaluate", "--as-of", "2026-08-15", "--json"], env=env)
    assert done.exit_code == 0, done.output
    assert '"score_date": "2026-07-31"' in done.output
    assert '"grade_date": "2026-06-30"' in done.output
    assert '"ratio_to_best"' in done.output
    person = home.again["person_id"][0]
    shown = runner.invoke(
        app, ["explain", person, "--as-of", "2026-06-30", "--purpose", "credit_evaluation"], env=env
    )
    assert shown.exit_code == 0, shown.output
    assert "B01" in shown.output
    missing = runner.invoke(
        app, ["explain", "999999999", "--as-of", "2026-06-30", "--purpose", "supervision"], env=env
    )
    assert missing.exit_code == 1 and "no person 999999999" in missing.output
    none = runner.invoke(
        app, ["export", "scores", "--as-of", "2020-01-31", "--out", str(tmp_path / "x.csv"),
              "--purpose", "supervision"],
        env=env,
    )  # fmt: skip
    assert none.exit_code == 1 and "evaluate --as-of 2020-01-31" in none.output
    bad = runner.invoke(app, ["evaluate", "--as-of", "30/06/2026"], env=env)
    assert bad.exit_code == 1 and "Traceback" not in bad.output


def test_a_day_that_has_not_come_is_refused_and_nothing_is_stored(home: Home) -> None:
    tomorrow = local_day() + dt.timedelta(days=1)
    policy = load_policy()
    with home.store.engine.connect() as conn:
        before = conn.scalar(sa.select(sa.func.count()).select_from(s.evaluations))
    with pytest.raises(FutureDateError, match="尚未到来"):
        evaluate(home.store, home.settings.home, policy, tomorrow)
    with pytest.raises(FutureDateError):
        explain(home.store, policy, int(home.again["person_id"][0]), tomorrow)
    with home.store.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(s.evaluations)) == before
    not_in_future(local_day())  # today itself is a day that has come
    if home.settings.database_url is None:
        env = {"FPCREDIT_HOME": str(home.settings.home), "FPCREDIT_LANGUAGE": "zh"}
        done = CliRunner().invoke(app, ["evaluate", "--as-of", tomorrow.isoformat()], env=env)
        assert done.exit_code == 1 and "尚未到来" in done.output and "Traceback" not in done.output


def test_a_province_evaluated_once_explains_as_the_engine_does_and_sees_a_change(
    home: Home,
) -> None:
    """The service's explanations take a family's outcome from the whole province evaluated
    once at the cut (evaluate/province.py): the same report as the engine on the family alone,
    for persons of every grade; a family changed since (a fact disputed) is evaluated anew."""
    policy = load_policy()
    cuts = set(cut_dates(policy, AS_OF))
    provinces = {cut: Province.evaluate(home.store, policy, cut) for cut in cuts}

    def kept(cut: dt.date, loaded: object) -> Province | None:
        return provinces.get(cut)

    order = policy.policy.grade_order
    below = home.again.filter(pl.col("grade") != order[0])["person_id"].to_list()
    best = home.again.filter(pl.col("grade") == order[0])["person_id"].to_list()[:40]
    for pid in [*below, *best]:
        alone = explain(home.store, policy, int(pid), AS_OF)
        assert explain(home.store, policy, int(pid), AS_OF, provinces=kept) == alone, pid
    assert all(p.misses == 0 for p in provinces.values())
    # A dispute leaves the fact out: the province no longer holds this family's frame.
    pid, fact_id = next(
        (int(p), e["fact_id"])
        for p in [*below, *best]
        for i in explain(home.store, policy, int(p), AS_OF)["indicators"]
        for e in i["facts"]
        if "fact_id" in e
    )
    f = s.facts
    with home.store.engine.begin() as conn:
        changed = conn.execute(sa.update(f).where(f.c.id == fact_id).values(disputed=True))
        assert changed.rowcount == 1
    try:
        alone = explain(home.store, policy, pid, AS_OF)
        assert explain(home.store, policy, pid, AS_OF, provinces=kept) == alone
        assert sum(p.misses for p in provinces.values()) >= 1
    finally:
        with home.store.engine.begin() as conn:
            conn.execute(sa.update(f).where(f.c.id == fact_id).values(disputed=False))
