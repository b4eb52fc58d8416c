"""Matching an outside list against the person index of a small linked synthetic province."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from fpcredit.collect.ingest import ingest_file
from fpcredit.config import Settings
from fpcredit.errors import ID_REASONS, ConfigError, FeedError, StoreError
from fpcredit.guard.keys.crypto import Vault, create_keys, load_vault
from fpcredit.link.config import load_config
from fpcredit.link.index import link
from fpcredit.link.match import MatchResult, match_list
from fpcredit.messages import text
from fpcredit.service import feed_path
from fpcredit.store import schema as s
from fpcredit.store.db import Store, open_store
from fpcredit.synth import generate
from fpcredit.synth.idnumbers import legacy15
from tests.collect.feeds import corrupt
from tests.conftest import BACKENDS

pytestmark = pytest.mark.slow
PEOPLE = 1500
SOURCES = ("police", "civil", "health", "hrss", "cdc", "mch")
FIELDS = ("name", "sex", "birth_date", "id_number", "region")
# Each variant of the list: its file name, encoding (CSV only) and column names.
VARIANTS = {
    "utf8": ("list.csv", "utf-8-sig", ("name", "sex", "dob", "id_number", "region")),
    "gb18030": ("名单.csv", "gb18030", ("姓名", "性别", "出生日期", "公民身份号码", "户籍地")),
    "parquet": ("list.parquet", "", ("NAME", "GENDER", "BIRTH", "IDNO", "AREA")),
}
SEX_WORDS = (("1", "2"), ("男", "女"), ("M", "F"), ("male", "female"))


@dataclass(frozen=True)
class Linked:
    store: Store
    vault: Vault
    # Truth person key → the index persons its mentions were linked to (more than one when
    # the index split the person; matching any of them is right).
    truth: dict[str, set[int]]
    persons: pl.DataFrame  # truth/persons.csv rows of the people that have records


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("province")
    generate(people=PEOPLE, seed=3, out=out)
    return out


@pytest.fixture(scope="module", params=BACKENDS)
def linked(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, province: Path
) -> Iterator[Linked]:
    """The province ingested and linked once per backend (the link is the cost)."""
    url = request.getfixturevalue("pg_database") if request.param == "postgres" else None
    settings = Settings(home=tmp_path_factory.mktemp("home"), database_url=url)
    store = open_store(settings)
    store.upgrade()
    if store.dialect == "postgresql":
        names = ", ".join(t.name for t in s.metadata.sorted_tables)
        with store.engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    create_keys(settings.keys_dir)
    vault = load_vault(settings.keys_dir)
    for source in SOURCES:
        ingest_file(store, vault, source, feed_path(province, source))
    link(store, vault, load_config())
    truth = _truth(store, province)
    persons = pl.read_csv(province / "truth" / "persons.csv", infer_schema=False)
    yield Linked(store, vault, truth, persons.filter(pl.col("person_key").is_in(list(truth))))
    store.engine.dispose()


def _truth(store: Store, province: Path) -> dict[str, set[int]]:
    named = pl.read_csv(province / "truth" / "mentions.csv", infer_schema=False)
    m, r, lk = s.mentions, s.records, s.links
    with store.engine.connect() as conn:
        found = conn.execute(
            sa.select(r.c.source, r.c.record_key, m.c.role, lk.c.person_id)
            .join(r, r.c.id == m.c.record_id)
            .outerjoin(lk, lk.c.mention_id == m.c.id)
        ).all()
    stored = pl.DataFrame(
        [tuple(row) for row in found],
        schema={"source": pl.String, "record_key": pl.String, "role": pl.String, "pid": pl.Int64},
        orient="row",
    )
    joined = named.join(stored, on=["source", "record_key", "role"]).drop_nulls("pid")
    return {key: set(pids) for key, pids in joined.group_by("person_key").agg("pid").iter_rows()}


def _typo_rows(persons: pl.DataFrame) -> list[dict[str, str]]:
    """One list row per person (keyed by person_key), with a different flaw in every sixth."""
    rows = []
    for i, p in enumerate(persons.iter_rows(named=True)):
        year, month, day = p["birth_date"].split("-")
        id_number, region = p["id_number"], p["hukou_region"]
        born = [f"{year}-{month}-{day}", f"{year}/{month}/{day}", f"{year}{month}{day}"][i % 3]
        sex = SEX_WORDS[i % 4][int(p["sex"]) - 1]
        kind = i % 6
        if kind in (1, 3, 5):
            id_number = ""
        if kind == 2:
            # Only people born before 1985 ever held a 15-digit number.
            id_number = legacy15(id_number) if year < "1985" else ""
        if kind == 3 and int(day) <= 12 and day != month:
            born = f"{year}-{day}-{month}"
        if kind == 4:
            id_number = corrupt(id_number)
        if kind == 5:
            region, sex = "", ""
        values = (p["name"], sex, born, id_number, region)
        rows.append({"key": p["person_key"], **dict(zip(FIELDS, values, strict=True))})
    return rows


def _write_list(folder: Path, variant: str, rows: list[dict[str, str]]) -> tuple[Path, Path]:
    """The rows as the variant's file, and its column map."""
    name, encoding, columns = VARIANTS[variant]
    path, map_path = folder / name, folder / f"{variant}.yaml"
    renamed = [{c: row[f] for f, c in zip(FIELDS, columns, strict=True)} for row in rows]
    if encoding:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=[*columns, "备注"], lineterminator="\n")
        writer.writeheader()
        writer.writerows({**r, "备注": "名单"} for r in renamed)
        path.write_bytes(buffer.getvalue().encode(encoding))
    else:
        table = {c: pa.array([r[c] or None for r in renamed], pa.string()) for c in columns}
        pq.write_table(pa.table(table), path)
    pairs = ", ".join(f"{f}: {c}" for f, c in zip(FIELDS, columns, strict=True))
    map_path.write_text(f"columns: {{{pairs}}}\n", encoding="utf-8")
    return path, map_path


def _check_shape(result: MatchResult, rows: int) -> None:
    body = result.as_json()
    assert body["rows"] == rows == len(body["results"])
    assert [r["row"] for r in body["results"]] == list(range(rows))
    assert body["matched"] == sum(r["status"] == "matched" for r in body["results"])
    for r in body["results"]:
        assert set(r) == {"row", "person_id", "probability", "status", "reason"}
        assert (r["person_id"] is not None) == (r["status"] == "matched")


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_list_matches_the_right_people(
    linked: Linked, variant: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rows = _typo_rows(linked.persons)
    path, map_path = _write_list(tmp_path, variant, rows)
    with caplog.at_level(logging.DEBUG):
        result = match_list(linked.store, linked.vault, path, map_path)
    _check_shape(result, len(rows))
    right = wrong = 0
    for row, got in zip(rows, result.results, strict=True):
        if got.status == "matched":
            assert got.probability is not None
            if got.person_id in linked.truth[row["key"]]:
                right += 1
            else:
                wrong += 1
    assert wrong == 0
    assert right / len(rows) >= 0.99, (right, len(rows))
    # A flawed ID number is set aside with a note, and the row still matches on the rest.
    flawed = [got for i, got in enumerate(result.results) if i % 6 == 4]
    note = text("match.note_id", reason=ID_REASONS["check_digit"][0])
    assert all(g.reason and note in g.reason for g in flawed)
    assert sum(g.status == "matched" for g in flawed) / len(flawed) >= 0.99
    logged = caplog.text
    secrets = linked.persons.select("name", pl.col("id_number").str.slice(6, 11)).iter_rows()
    assert not any(name in logged or digits in logged for name, digits in secrets)


def _csv(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _map(path: Path, body: str) -> Path:
    path.write_text(body, encoding="utf-8")
    return path


MAP = "columns: {name: name, sex: sex, birth_date: dob, id_number: id, region: region}\n"


def test_rows_that_are_not_people_are_reported(linked: Linked, tmp_path: Path) -> None:
    first, second = linked.persons.row(0, named=True), linked.persons.row(1, named=True)
    lines = [
        "name,sex,dob,id,region",
        f"{first['name']},{first['sex']},{first['birth_date']},{first['id_number']},",
        ",,,,",
        f",1,{first['birth_date']},,",
        f"{first['name']},1,1990-02-30,,",
        f"{first['name']},1,2999-01-01,,",
        f"{first['name']},1,,,",
        "",  # a blank line is layout, not a row
        "only,two",
        f"{second['name']},X,{second['birth_date']},,33",
        "测试无此人,2,1901-01-01,,",
    ]
    path = _csv(tmp_path / "list.csv", lines)
    result = match_list(linked.store, linked.vault, path, _map(tmp_path / "m.yaml", MAP))
    _check_shape(result, 9)
    got = result.results
    assert [r.status for r in got] == ["matched", *["rejected"] * 6, "matched", "unmatched"]
    assert got[0].person_id in linked.truth[first["person_key"]] and got[0].probability == 1.0
    assert got[7].person_id in linked.truth[second["person_key"]]
    reasons = [r.reason for r in got]
    assert reasons[0] is None
    assert reasons[1:7] == [
        text("match.row_empty"),
        text("match.row_no_name"),
        text("match.row_bad_birth_date"),
        text("match.row_bad_birth_date"),
        text("match.row_no_birth_date"),
        text("match.row_fields", n=2, m=5),
    ]
    assert reasons[7] and text("match.note_sex") in reasons[7]
    assert text("match.note_region") in reasons[7]
    assert reasons[8] == text("match.none")


def test_review_band_names_no_person(linked: Linked, tmp_path: Path) -> None:
    """Between the review and link thresholds a row is a clerk's question, not a match."""
    rows = _typo_rows(linked.persons.head(60))
    path, map_path = _write_list(tmp_path, "utf8", rows)
    config = load_config()
    # The same settings file (so the same trained model), with a link threshold so high that
    # every row the model scores falls in the review band.
    strict = config.model_copy(
        update={"thresholds": config.thresholds.model_copy(update={"link": 0.99999999})}
    )
    result = match_list(linked.store, linked.vault, path, map_path, strict)
    _check_shape(result, len(rows))
    review = [
        (row, got) for row, got in zip(rows, result.results, strict=True) if got.status == "review"
    ]
    assert review
    for row, got in review:
        assert got.person_id is None and got.as_json()["person_id"] is None
        assert got.probability is not None
        assert config.thresholds.review <= got.probability < 0.99999999
        assert got.candidate_id in linked.truth[row["key"]]
        assert got.reason and text("match.review") in got.reason
    # Rows with a valid ID number known to the index still match directly.
    assert result.matched and all(
        r.probability == 1.0 for r in result.results if r.status == "matched"
    )


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ("columns: {birth_date: dob}\n", "columns.name"),
        ("columns: {name: name, dob: dob}\n", "columns.birth_date"),
        ("columns: {name: name, birth_date: dob, phone: tel}\n", "columns.phone"),
        ("columns: {name: 姓名, birth_date: dob}\n", "姓名"),
        ("columns: {name: name, birth_date: dob, region: 地区}\n", "地区"),
        ("cols: {name: name, birth_date: dob}\n", "columns"),
        ("columns: [name, dob]\n", "columns"),
        ("columns: {name: name\n", "m.yaml"),
    ],
)
def test_bad_map_is_a_config_error(linked: Linked, tmp_path: Path, body: str, named: str) -> None:
    path = _csv(tmp_path / "list.csv", ["name,dob", "王芳,1990-01-01"])
    with pytest.raises(ConfigError) as caught:
        match_list(linked.store, linked.vault, path, _map(tmp_path / "m.yaml", body))
    message = str(caught.value)
    assert named in message and "\n" not in message


def test_missing_map_is_a_config_error(linked: Linked, tmp_path: Path) -> None:
    path = _csv(tmp_path / "list.csv", ["name,dob", "王芳,1990-01-01"])
    with pytest.raises(ConfigError) as caught:
        match_list(linked.store, linked.vault, path, tmp_path / "m.yaml")
    assert text("feed.file_not_found") in str(caught.value)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("list.xlsx", b"PK\x03\x04", text("match.format", ext=".xlsx")),
        ("list", b"name,dob\n", text("match.format", ext="list")),
        ("list.csv", b"", text("feed.file_empty")),
        ("list.csv", b"name,dob\n", text("feed.no_rows")),
        ("list.csv", b"name,name,dob\n1,2,3\n", text("match.duplicate_column", column="name")),
        (
            "list.csv",
            b"name,dob\n\xff\xfe\xff,1\n",
            text("feed.bad_encoding", encoding="UTF-8 / GB18030"),
        ),
        ("list.parquet", b"PAR1 truncated", text("feed.bad_parquet")),
    ],
)
def test_unreadable_list_is_a_feed_error(
    linked: Linked, tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    map_path = _map(tmp_path / "m.yaml", "columns: {name: name, birth_date: dob}\n")
    with pytest.raises(FeedError) as caught:
        match_list(linked.store, linked.vault, path, map_path)
    assert caught.value.reason == reason


def test_missing_list_is_a_feed_error(linked: Linked, tmp_path: Path) -> None:
    map_path = _map(tmp_path / "m.yaml", "columns: {name: name, birth_date: dob}\n")
    with pytest.raises(FeedError) as caught:
        match_list(linked.store, linked.vault, tmp_path / "absent.csv", map_path)
    assert caught.value.reason == text("feed.file_not_found")


def test_without_a_trained_model_it_says_to_link_first(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    store = open_store(settings)
    store.upgrade()
    create_keys(settings.keys_dir)
    path = _csv(tmp_path / "list.csv", ["name,dob", "王芳,1990-01-01"])
    map_path = _map(tmp_path / "m.yaml", "columns: {name: name, birth_date: dob}\n")
    try:
        with pytest.raises(StoreError, match="fpcredit link"):
            match_list(store, load_vault(settings.keys_dir), path, map_path)
    finally:
        store.engine.dispose()
