"""Certificate crosswalks: the rules, the pairs they find in a store, how pairs place mentions,
the codes the synthetic police feed carries, and a linked province."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from fpcredit.collect.ingest import ingest_file
from fpcredit.config import Settings
from fpcredit.errors import ConfigError
from fpcredit.guard.keys.crypto import Vault, create_keys, load_vault
from fpcredit.link.config import DEFAULT_CONFIG, load_config
from fpcredit.link.crosswalk import PAIR_SCHEMA, Applied, apply_crosswalks, crosswalk_pairs
from fpcredit.link.export import links_frame
from fpcredit.link.index import LinkReport, link
from fpcredit.link.measure import measure
from fpcredit.link.write import PASS_XWALK
from fpcredit.service import feed_path
from fpcredit.store import schema as s
from fpcredit.store.db import Store, open_store
from fpcredit.synth import generate
from tests.collect.feeds import (
    FATHER,
    MOTHER,
    health_row,
    make_id,
    write_csv,
    write_jsonl,
    write_parquet,
)

SOURCES = ("police", "civil", "health", "hrss", "cdc", "mch")
MENTION_KEY = ["source", "record_key", "role"]

# --- the rules are data ------------------------------------------------------------------------


def _config_with(tmp_path: Path, crosswalks: list[dict[str, Any]]) -> Path:
    data = yaml.safe_load(DEFAULT_CONFIG.read_text("utf-8"))
    data["crosswalks"] = crosswalks
    path = tmp_path / "linkage.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return path


def test_default_rules_follow_birth_and_marriage_certificates() -> None:
    rules = {c.name: c for c in load_config().crosswalks}
    birth, marriage = rules["birth_certificate"], rules["marriage_certificate"]
    assert (birth.from_.source, birth.from_.attr, birth.to.source, birth.to.role) == (
        "police",
        "birth_certificate_no",
        "health",
        "child",
    )
    assert marriage.from_.attr == "marriage_certificate_no"
    assert marriage.to.role_by_sex == {1: "husband", 2: "wife"}


@pytest.mark.parametrize(
    "to",
    [
        {"source": "civil"},
        {"source": "civil", "role": "wife", "role_by_sex": {2: "wife"}},
        {"source": "civil", "role_by_sex": {3: "wife"}},
    ],
)
def test_a_target_needs_exactly_one_way_to_name_its_person(
    tmp_path: Path, to: dict[str, Any]
) -> None:
    rule = {"name": "x", "from": {"source": "police", "role": "self", "attr": "a"}, "to": to}
    with pytest.raises(ConfigError):
        load_config(_config_with(tmp_path, [rule]))


def test_rule_names_are_unique_and_attrs_plain(tmp_path: Path) -> None:
    rule: dict[str, Any] = {
        "name": "x",
        "from": {"source": "police", "role": "self", "attr": "birth_certificate_no"},
        "to": {"source": "health", "role": "child"},
    }
    with pytest.raises(ConfigError):
        load_config(_config_with(tmp_path, [rule, rule]))
    bad = {**rule, "from": {**rule["from"], "attr": "a'); DROP TABLE facts; --"}}
    with pytest.raises(ConfigError):
        load_config(_config_with(tmp_path, [bad]))


# --- placing mentions --------------------------------------------------------------------------


def _clusters(values: dict[int, int | None]) -> pl.DataFrame:
    return pl.DataFrame(
        {"id": list(values), "cluster": list(values.values())},
        schema={"id": pl.Int64, "cluster": pl.Int64},
    )


def _pairs(pairs: list[tuple[int, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"mention_a": [a for a, _ in pairs], "mention_b": [b for _, b in pairs], "rule": "r"},
        schema=PAIR_SCHEMA,
    )


def _apply(
    values: dict[int, int | None], pairs: list[tuple[int, int]], idless: set[int] | None = None
) -> Applied:
    got = apply_crosswalks(_clusters(values), _pairs(pairs), idless or set())
    assert set(got.placed["pass"]) <= {PASS_XWALK} and set(got.placed["probability"]) <= {1.0}
    return got


def _placed(got: Applied) -> dict[int, int]:
    return dict(zip(got.placed["id"].to_list(), got.placed["cluster"].to_list(), strict=True))


def test_a_mention_without_a_person_joins_its_counterparts() -> None:
    assert _placed(_apply({1: 7, 2: None}, [(1, 2)])) == {2: 7}
    assert _placed(_apply({1: None, 2: -3}, [(1, 2)])) == {1: -3}


def test_pairs_chain() -> None:
    # 1 (person 7) — 2 — 3: both 2 and 3 are that person.
    assert _placed(_apply({1: 7, 2: None, 3: None}, [(1, 2), (2, 3)])) == {2: 7, 3: 7}
    # Mentions of one person chain too: 3 and 4 are tied through person 7.
    assert _placed(_apply({1: 7, 2: 7, 3: None, 4: None}, [(1, 3), (2, 4)])) == {3: 7, 4: 7}


def test_the_id_number_wins_a_conflict() -> None:
    got = _apply({1: 7, 2: 9, 3: None}, [(1, 2), (2, 3)])
    assert got.placed.is_empty() and not got.adopted
    assert (got.conflicts, got.deferred) == (2, 0)
    # Two new ID numbers, or an existing person that has one: a conflict as well.
    assert _apply({1: -1, 2: -2}, [(1, 2)], {7}).conflicts == 1
    assert _apply({1: -1, 2: 7}, [(1, 2)]).conflicts == 1


def test_an_existing_person_without_an_id_adopts_the_new_number() -> None:
    # The child filed from its birth registration (person 7, no ID) and its 落户 with the ID
    # number, which the ID pass gave the fresh label -1: one person, 7.
    got = _apply({1: 7, 2: -1, 3: None}, [(1, 2), (2, 3)], {7})
    assert got.adopted == {-1: 7} and _placed(got) == {3: 7}
    assert got.conflicts == got.deferred == 0


def test_pairs_without_a_person_are_left_to_the_probabilistic_pass() -> None:
    got = _apply({1: None, 2: None, 3: 4}, [(1, 2)])
    assert got.placed.is_empty()
    assert (got.conflicts, got.deferred) == (0, 1)


def test_pairs_naming_other_mentions_are_ignored() -> None:
    got = _apply({1: 7, 2: None}, [(1, 99), (2, 2), (99, 2)])
    assert got.placed.is_empty() and got.conflicts == got.deferred == 0


@dataclass(frozen=True)
class _Case:
    clusters: dict[int, int | None]
    pairs: list[tuple[int, int]]
    idless: set[int]


@st.composite
def _cases(draw: st.DrawFn) -> _Case:
    n = draw(st.integers(1, 14))
    # Negative labels: persons this run would create; positive: existing persons.
    label = st.one_of(st.none(), st.sampled_from([-2, -1, 3, 5, 8]))
    clusters = {i: draw(label) for i in range(1, n + 1)}
    ends = st.integers(1, n + 2)  # n + 1, n + 2 are mentions the run does not know
    pairs = draw(st.lists(st.tuples(ends, ends), max_size=20))
    idless = draw(st.sets(st.sampled_from([3, 5, 8])))
    return _Case(clusters, pairs, idless)


def _groups(case: _Case) -> tuple[list[tuple[int, int]], dict[int, set[int | None]]]:
    """Reference: the usable pairs and, per mention in one, the persons its group holds (the
    group is closed over the pairs and over sharing a person)."""
    usable = [(a, b) for a, b in case.pairs if a != b and a in case.clusters and b in case.clusters]
    edges: defaultdict[tuple[str, int], set[tuple[str, int]]] = defaultdict(set)
    for a, b in usable:
        for m in (a, b):
            c = case.clusters[m]
            if c is not None:
                edges[("m", m)].add(("c", c))
                edges[("c", c)].add(("m", m))
        edges[("m", a)].add(("m", b))
        edges[("m", b)].add(("m", a))
    held: dict[int, set[int | None]] = {}
    seen: set[tuple[str, int]] = set()
    for start in list(edges):
        if start in seen:
            continue
        group, todo = {start}, [start]
        while todo:
            for nxt in edges[todo.pop()] - group:
                group.add(nxt)
                todo.append(nxt)
        seen |= group
        persons = {case.clusters[m] for kind, m in group if kind == "m"} - {None}
        for kind, m in group:
            if kind == "m":
                held[m] = set(persons)
    return usable, held


def _one_person(persons: set[int | None], idless: set[int]) -> int | None:
    """The person a group is, per the rules; None for a conflict or no person."""
    labels = sorted(p for p in persons if p is not None)
    if len(labels) == 1:
        return labels[0]
    if len(labels) == 2 and labels[0] < 0 < labels[1] and labels[1] in idless:
        return labels[1]
    return None


@settings(max_examples=400, deadline=None)
@given(_cases())
def test_pairs_place_mentions_soundly(case: _Case) -> None:
    got = apply_crosswalks(_clusters(case.clusters), _pairs(case.pairs), case.idless)
    placed = _placed(got)
    # Each mention is placed at most once, and only if it had no person.
    assert got.placed["id"].n_unique() == got.placed.height
    assert all(case.clusters[m] is None for m in placed)
    # Only fresh persons are adopted, only by existing persons without an ID number.
    assert all(f < 0 and p in case.idless for f, p in got.adopted.items())
    after = {
        m: got.adopted.get(c, c) if c is not None else placed.get(m)
        for m, c in case.clusters.items()
    }
    # Existing persons never change.
    assert all(after[m] == c for m, c in case.clusters.items() if c is not None and c > 0)
    usable, held = _groups(case)
    for m, persons in held.items():
        person = _one_person(persons, case.idless)
        if person is not None:  # every mention of a group that is one person ends in it
            assert after[m] == person
        elif case.clusters[m] is None:  # and none is invented for a conflict or no person
            assert m not in placed
    # A pair with one side known joins it unless its group holds another person too.
    for a, b in usable:
        for known, other in ((a, b), (b, a)):
            if case.clusters[known] is not None and len(held[known]) == 1:
                assert after[other] == after[known]
    conflicts = sum(
        len(held[a]) > 1 and _one_person(held[a], case.idless) is None for a, _ in usable
    )
    assert got.conflicts == conflicts
    assert got.deferred == sum(not held[a] for a, _ in usable)


# --- pairs found in a store (SQLite and PostgreSQL) --------------------------------------------

CHILD = make_id("330106", "20210503", "013")


def _police(key: str, person: str, sex: str, relation: str, **codes: str) -> dict[str, str]:
    return {
        "rkbm": key,
        "hh": "12345678",
        "gmsfhm": person,
        "xm": "张小明" if person == CHILD else "王芳" if sex == "2" else "张伟",
        "xb": sex,
        "csrq": person[6:14],
        "yhzgx": relation,
        "hkxz": "1",
        "hjdz_xzqh": "330106",
        "jzd_xzqh": "330106",
        "zy": "N",
        "lxdh": "",
        "zz": "西湖区",
        "csdjzbh": codes.get("csdjzbh", ""),
        "jhzbh": codes.get("jhzbh", ""),
        "bdrq": "20210601",
        "djsj": "2021-06-02T09:00:00",
    }


def _civil(cert: str) -> dict[str, str]:
    return {
        "cert_no": cert,
        "reg_type": "1",
        "reg_date": "2020-10-01",
        "man_name": "张伟",
        "man_id": FATHER,
        "man_birth": "1988-01-01",
        "woman_name": "王芳",
        "woman_id": MOTHER,
        "woman_birth": "1990-03-07",
        "reg_org": "330106",
        "entry_time": "2020-10-01 10:00:00",
    }


def _mention_keys(store: Store) -> dict[int, tuple[str, str, str, bool]]:
    """mention id → (source, record_key, role, is the record's current version)."""
    m, r, f = s.mentions, s.records, s.facts
    query = (
        sa.select(m.c.id, r.c.source, r.c.record_key, m.c.role, f.c.superseded_at.is_(None))
        .select_from(m.join(r, r.c.id == m.c.record_id).join(f, f.c.record_id == r.c.id))
        .distinct()
    )
    with store.engine.connect() as conn:
        return {row[0]: (row[1], row[2], row[3], bool(row[4])) for row in conn.execute(query)}


def test_pairs_follow_codes_to_current_records(store: Store, vault: Vault, tmp_path: Path) -> None:
    police = [
        _police("R00000000001", CHILD, "1", "20", csdjzbh="330106000001"),
        _police("R00000000002", FATHER, "1", "02", jhzbh="3301060001"),
        _police("R00000000003", MOTHER, "2", "10", jhzbh="3301060001"),
        _police("R00000000004", CHILD, "1", "20", csdjzbh="330106000099"),  # not (yet) sent
        _police("R00000000005", FATHER, "1", "02"),  # cites nothing
    ]
    first = health_row("330106000001")
    fixed = health_row("330106000001", 孕次="2", 登记时间="2021-06-01 08:00:00")
    ingest_file(store, vault, "health", write_csv(tmp_path / "h1.csv", [first]))
    ingest_file(store, vault, "police", write_jsonl(tmp_path / "police.jsonl", police))
    ingest_file(
        store, vault, "civil", write_parquet(tmp_path / "civil.parquet", [_civil("3301060001")])
    )
    ingest_file(store, vault, "health", write_csv(tmp_path / "h2.csv", [fixed]))
    pairs = crosswalk_pairs(store, load_config())
    keys = _mention_keys(store)
    got = {(keys[a][1], keys[b][:3], keys[b][3], rule) for a, b, rule in pairs.iter_rows()}
    assert got == {
        ("R00000000001", ("health", "330106000001", "child"), True, "birth_certificate"),
        ("R00000000002", ("civil", "3301060001", "husband"), True, "marriage_certificate"),
        ("R00000000003", ("civil", "3301060001", "wife"), True, "marriage_certificate"),
    }
    assert pairs.height == len(got)


def test_no_rules_no_pairs(store: Store) -> None:
    config = load_config().model_copy(update={"crosswalks": []})
    assert crosswalk_pairs(store, config).is_empty()


# --- the synthetic police feed carries the codes -----------------------------------------------


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("xwalk_province")
    generate(people=2000, seed=5, out=out)
    return out


def _truth_mentions(folder: Path) -> pl.DataFrame:
    return pl.read_csv(folder / "truth" / "mentions.csv", infer_schema=False)


def test_police_codes_point_to_the_right_records(province: Path) -> None:
    police = pl.read_ndjson(province / "police.jsonl", infer_schema_length=None)
    truth = _truth_mentions(province)
    selves = truth.filter(source="police").select("record_key", subject="person_key").unique()
    police = police.join(selves, left_on="rkbm", right_on="record_key")
    births = police.filter(pl.col("csdjzbh") != "")
    weddings = police.filter(pl.col("jhzbh") != "")
    assert births.height > 100 and weddings.height > 100
    assert births["csdjzbh"].str.contains(r"^\d{12}$").all()
    assert weddings["jhzbh"].str.contains(r"^\d{10}$").all()
    assert births.filter(pl.col("jhzbh") != "").is_empty()
    # The birth code is the key of the health record whose child is this person.
    children = truth.filter(source="health", role="child").select("record_key", child="person_key")
    b = births.join(children, left_on="csdjzbh", right_on="record_key", how="left")
    # A code may cite a record recorded after `until`; here every cited record was sent.
    assert b["child"].null_count() == 0
    assert (b["child"] == b["subject"]).all()
    # The marriage code is the key of a marriage whose husband (xb 1) or wife (xb 2) this is.
    civil = pl.read_parquet(province / "civil.parquet").select("cert_no", "reg_type")
    spouses = truth.filter(source="civil").pivot(on="role", index="record_key", values="person_key")
    w = weddings.join(spouses, left_on="jhzbh", right_on="record_key", how="left").join(
        civil, left_on="jhzbh", right_on="cert_no", how="left"
    )
    assert w["reg_type"].null_count() == 0 and (w["reg_type"] == "1").all()
    spouse = pl.when(pl.col("xb") == "1").then(pl.col("husband")).otherwise(pl.col("wife"))
    assert w.select((spouse == pl.col("subject")).fill_null(False).all()).item()
    # Only a child's 落户 and a wedding's new household cite anything.
    assert set(births["yhzgx"]) <= {"20", "30", "00", "X1"}


def test_every_birth_both_departments_registered_is_cited(province: Path) -> None:
    police = pl.read_ndjson(province / "police.jsonl", infer_schema_length=None)
    truth = _truth_mentions(province)
    selves = truth.filter(source="police").select("record_key", "person_key")
    cited = set(police.filter(pl.col("csdjzbh") != "")["csdjzbh"])
    children = truth.filter(source="health", role="child")
    # A child's only police row is its 落户, which cites the health registration.
    registered = children.join(selves, on="person_key", how="semi")
    assert registered.height > 100
    assert set(registered["record_key"]) <= cited


# --- a linked province -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Linked:
    store: Store
    vault: Vault
    province: Path
    first: LinkReport  # on the records recorded by EARLY
    second: LinkReport  # incremental, on the rest
    before: pl.DataFrame  # links after the first run


EARLY = dt.date(2022, 12, 31)


def _ingested(home: Path, folders: list[Path]) -> tuple[Store, Vault]:
    config = Settings(home=home)
    create_keys(config.keys_dir)
    store = open_store(config)
    store.upgrade()
    vault = load_vault(config.keys_dir)
    for folder in folders:
        for source in SOURCES:
            ingest_file(store, vault, source, feed_path(folder, source))
    return store, vault


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory, province: Path) -> _Linked:
    """Linked twice: the records recorded by EARLY (full), then all of them (incremental)."""
    early = tmp_path_factory.mktemp("xwalk_early")
    generate(people=2000, seed=5, out=early, until=EARLY)
    store, vault = _ingested(tmp_path_factory.mktemp("xwalk_home"), [early])
    first = link(store, vault, load_config())
    before = links_frame(store)
    for source in SOURCES:
        ingest_file(store, vault, source, feed_path(province, source))
    second = link(store, vault, load_config())
    return _Linked(store, vault, province, first, second, before)


@pytest.mark.slow
def test_crosswalk_links_are_counted_in_both_modes(linked: _Linked) -> None:
    assert linked.first.mode == "full" and linked.first.by_pass.get(PASS_XWALK, 0) > 0
    assert linked.second.mode == "incremental"
    got = links_frame(linked.store)
    assert got.filter(pl.col("pass") == PASS_XWALK).height > 0
    assert got["person_id"].null_count() == 0


@pytest.mark.slow
def test_incremental_crosswalks_keep_every_person_id(linked: _Linked) -> None:
    after = links_frame(linked.store).select(*MENTION_KEY, "person_id")
    joined = linked.before.select(*MENTION_KEY, "person_id").join(
        after, on=MENTION_KEY, suffix="_after"
    )
    assert joined.height == linked.before.height
    assert (joined["person_id"] == joined["person_id_after"]).all()


@pytest.mark.slow
def test_crosswalked_children_are_the_police_records_child(linked: _Linked) -> None:
    links = links_frame(linked.store).join(_truth_mentions(linked.province), on=MENTION_KEY)
    children = links.filter(source="health", role="child", **{"pass": PASS_XWALK})
    assert children.height > 0
    police = links.filter(source="police").select("person_key", police_person="person_id")
    both = children.join(police, on="person_key")
    assert both.height >= children.height
    assert (both["person_id"] == both["police_person"]).all()
    # No crosswalk link joins two true persons.
    crossed = links.filter(pl.col("pass") == PASS_XWALK).select("person_id").unique()
    people = (
        links.join(crossed, on="person_id")
        .group_by("person_id")
        .agg(pl.col("person_key").n_unique())
    )
    assert (people["person_key"] == 1).all()


@pytest.mark.slow
def test_crosswalks_never_lower_quality(tmp_path: Path, province: Path) -> None:
    store, vault = _ingested(tmp_path / "home", [province])
    config = load_config()
    truth = province / "truth" / "records.csv"
    link(store, vault, config)
    with_codes = measure(links_frame(store), truth)["overall"]
    link(store, vault, config.model_copy(update={"crosswalks": []}), full=True)
    plain = measure(links_frame(store), truth)["overall"]
    assert with_codes["precision"] >= plain["precision"] - 1e-9
    assert with_codes["recall"] >= plain["recall"] - 1e-9
