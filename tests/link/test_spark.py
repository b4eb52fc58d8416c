"""The Splink pass on Apache Spark (local mode) scores exactly as on DuckDB.

A model trained on DuckDB is scored on both backends over a few hundred synthetic people and
their mentions (homophones, one-character typos, near-sounding names, shifted birth dates, other
regions, new people named twice); both must return the same pairs with the same probabilities
and weights. Run with `-s` to see the wall time of each.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from fpcredit.compute import spark as compute_spark
from fpcredit.compute.spark import stop_spark
from fpcredit.errors import ConfigError
from fpcredit.link.config import DEFAULT_CONFIG, LinkConfig, load_config
from fpcredit.link.features import FEATURE_SCHEMA, plain_features
from fpcredit.link.model import LinkModel, resolve_backend, train
from fpcredit.messages import text
from fpcredit.synth.names import birth_era, given_names, homophone, surnames

pytestmark = [pytest.mark.slow, pytest.mark.spark]
BACKEND_ENV = "FPCREDIT_LINK_BACKEND"

PERSONS = 400
NEW_PEOPLE = 60
TOL = 1e-6
COUNTIES = ("330102", "330105", "330106", "330108", "330203", "330204", "330302", "330304")
# Characters for one-character typos in given names.
TYPO_CHARS = "伟芳敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
# Front and back nasals heard alike in many dialects (jing/jin): with one more character
# changed, the pinyin is similar but neither equal nor one character off (Jaro-Winkler level).
NEAR_SOUND = dict(
    zip("静明玲英平兵芳刚强洋晶宁峰成庆鹏", "进民林音品斌凡甘钱燕金您分臣琴盆", strict=True)
)


@dataclass(frozen=True)
class Data:
    persons: pa.Table
    mentions: pa.Table
    names: list[str]  # every plaintext name, for the leak check


def _people(rng: random.Random, n: int, first_id: int) -> list[dict[str, Any]]:
    nprng = np.random.default_rng(rng.randrange(2**32))
    sex = nprng.integers(1, 3, n)
    born = [date(1950, 1, 1) + timedelta(days=rng.randrange(65 * 365)) for _ in range(n)]
    era = birth_era(np.array([d.year for d in born], dtype=np.int64))
    names = np.char.add(surnames(nprng, n), given_names(nprng, sex, era))
    rows = []
    for i in range(n):
        county = rng.choice(COUNTIES)
        rows.append(
            {
                "unique_id": first_id + i,
                "name": str(names[i]),
                "sex": int(sex[i]),
                "birth_date": born[i].isoformat(),
                "hukou_region": county,
                "residence_region": county if rng.random() < 0.8 else rng.choice(COUNTIES),
                "mother": None,
                "kin": None,
                "id_bidx": rng.randbytes(16),
            }
        )
    return rows


def _variant(rng: random.Random, row: dict[str, Any], uid: int) -> dict[str, Any]:
    """A mention of the person in `row` as a department might have written it."""
    out = {**row, "unique_id": uid, "kin": None, "id_bidx": None}
    name, dob = row["name"], row["birth_date"]
    roll = rng.random()
    if roll < 0.25:
        out["name"] = homophone(name, rng.random(), rng.random()) or name
    elif roll < 0.40:
        out["name"] = name[:-1] + rng.choice(TYPO_CHARS)
    elif roll < 0.60:
        near = "".join(NEAR_SOUND.get(c, c) for c in name)
        if near != name and len(name) >= 3:
            out["name"] = homophone(near[:-1], rng.random(), rng.random()) or near[:-1]
            out["name"] += near[-1]
    roll = rng.random()
    if roll < 0.10:  # day and month swapped (only where the result is still a date)
        y, m, d = dob.split("-")
        out["birth_date"] = f"{y}-{d}-{m}" if int(d) <= 12 else dob
    elif roll < 0.20:
        out["birth_date"] = f"{int(dob[:4]) + rng.choice((-1, 1))}{dob[4:]}"
    elif roll < 0.25:
        out["birth_date"] = dob[:-1] + str((int(dob[-1]) + 1) % 10)
    roll = rng.random()
    if roll < 0.15:
        out["hukou_region"] = out["residence_region"] = None
    elif roll < 0.25:
        out["hukou_region"] = out["residence_region"] = rng.choice(COUNTIES)
    roll = rng.random()
    if roll < 0.10:
        out["id_bidx"] = row["id_bidx"]  # the same valid ID number
    elif roll < 0.15:
        out["id_bidx"] = rng.randbytes(16)  # another valid ID number: another person
    if rng.random() < 0.05:
        out["sex"] = None
    return out


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    frame = pl.DataFrame(
        rows,
        schema={
            "unique_id": pl.Int64,
            "name": pl.String,
            "sex": pl.Int64,
            "birth_date": pl.String,
            "hukou_region": pl.String,
            "residence_region": pl.String,
            "mother": pl.Int64,
            "kin": pl.Int64,
            "id_bidx": pl.Binary,
        },
    )
    table = plain_features(frame)
    assert table.schema == FEATURE_SCHEMA
    return table


def make_data(seed: int = 7) -> Data:
    """Persons (their best values) and mentions: most of known persons, some of new people."""
    rng = random.Random(seed)
    persons = _people(rng, PERSONS, first_id=1)
    # Children whose mother is a known person: the mother level and kin hints get exercised.
    women = [p for p in persons if p["sex"] == 2 and p["birth_date"] < "1990"]
    for child in persons:
        if child["birth_date"] >= "2005" and rng.random() < 0.6:
            child["mother"] = rng.choice(women)["unique_id"]
    for p in persons:
        p["kin"] = p["unique_id"]  # for a person, kin is its own id
    mentions: list[dict[str, Any]] = []
    uid = 100_000
    for p in rng.sample(persons, 320):
        for _ in range(rng.choice((1, 1, 2))):
            uid += 1
            mention = _variant(rng, p, uid)
            if rng.random() < 0.05:
                mention["kin"] = p["unique_id"]
            mentions.append(mention)
    # New people, each named in two records: pairs for dedupe, nobody to link to.
    for stranger in _people(rng, NEW_PEOPLE, first_id=0):
        for _ in range(2):
            uid += 1
            mentions.append(_variant(rng, {**stranger, "kin": None}, uid))
    names = sorted({r["name"] for r in persons + mentions})
    return Data(_table(persons), _table(mentions), names)


def _spark_available() -> str | None:
    """Why Spark cannot run here, or None."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install -e '.[spark]')"
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        return "no Java runtime"
    return None


@pytest.fixture(scope="module")
def data() -> Data:
    return make_data()


@pytest.fixture(scope="module")
def spark() -> Iterator[None]:
    missing = _spark_available()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    yield
    stop_spark()


def _both(model: dict[str, Any], run: Any) -> tuple[pa.Table, pa.Table, dict[str, float]]:
    """`run(LinkModel)` on DuckDB and on Spark (the model through its JSON), with wall times."""
    blob = json.dumps(model)
    seconds = {}
    tables = []
    for backend in ("duckdb", "spark"):
        started = time.perf_counter()
        tables.append(run(LinkModel.from_json("test", blob, backend=backend)))
        seconds[backend] = time.perf_counter() - started
    return tables[0], tables[1], seconds


def _assert_same(duck: pa.Table, spark: pa.Table, ids: tuple[str, str]) -> None:
    assert spark.schema == duck.schema
    assert spark.column_names[:3] == [*ids, "probability"]
    assert spark.select(list(ids)).to_pylist() == duck.select(list(ids)).to_pylist()
    for column in duck.column_names[2:]:
        got = np.asarray(spark[column].to_pylist(), dtype=np.float64)
        want = np.asarray(duck[column].to_pylist(), dtype=np.float64)
        np.testing.assert_allclose(got, want, rtol=0, atol=TOL, err_msg=column)


def test_link_same_on_spark(
    spark: None, model: dict[str, Any], config: LinkConfig, data: Data
) -> None:
    threshold = config.thresholds.review
    duck, spk, seconds = _both(model, lambda m: m.link(data.persons, data.mentions, threshold))
    print(f"link: duckdb {seconds['duckdb']:.2f} s, spark {seconds['spark']:.2f} s")
    ids = ("person_id", "mention_id")
    _assert_same(duck, spk, ids)
    # The comparison is worth something: many pairs, doubtful ones among them, and the name
    # levels that differ between engines (homophone, one character off, similar pinyin) hit.
    assert duck.num_rows > 300
    probs = duck["probability"].to_pylist()
    assert min(probs) < config.thresholds.link <= max(probs)
    assert len(set(duck["weight_name"].to_pylist())) >= 4
    assert len(set(duck["weight_birth_date"].to_pylist())) >= 4


def test_dedupe_same_on_spark(
    spark: None, model: dict[str, Any], config: LinkConfig, data: Data
) -> None:
    threshold = config.thresholds.review
    duck, spk, seconds = _both(model, lambda m: m.dedupe(data.mentions, threshold))
    print(f"dedupe: duckdb {seconds['duckdb']:.2f} s, spark {seconds['spark']:.2f} s")
    _assert_same(duck, spk, ("mention_id_l", "mention_id_r"))
    assert duck.num_rows >= NEW_PEOPLE
    ids = zip(duck["mention_id_l"].to_pylist(), duck["mention_id_r"].to_pylist(), strict=True)
    assert all(left < right for left, right in ids)


def test_spark_leaves_no_plaintext(spark: None, model: dict[str, Any], data: Data) -> None:
    """Names reach Spark decrypted: nothing Spark wrote holds one, and all of it goes at stop."""
    LinkModel("test", model, backend="spark").link(data.persons, data.mentions, 0.3)
    local = compute_spark._spark
    assert local is not None
    root = local.root
    written = [p for p in root.rglob("*") if p.is_file()]
    assert written  # Spark did write (shuffle blocks at least): the scan below means something
    assert not [p for p in written if p.suffix == ".parquet"]
    needles = [name.encode() for name in data.names if len(name) >= 3]
    for path in written:
        blob = path.read_bytes()
        leaked = [n.decode() for n in needles if n in blob]
        assert not leaked, f"{path.relative_to(root)} holds plaintext names"
    stop_spark()
    assert not root.exists()
    # A later call starts a fresh session.
    few = data.mentions.slice(data.mentions.num_rows - 40)
    duck, spk, _ = _both(model, lambda m: m.dedupe(few, 0.3))
    assert duck.num_rows > 0
    _assert_same(duck, spk, ("mention_id_l", "mention_id_r"))


def test_train_on_spark(config: LinkConfig, data: Data, spark: None) -> None:
    """Training runs on Spark and stores the model in DuckDB's SQL, with estimates that link
    as the DuckDB-trained model does. (The u sample is not the same pairs: Splink stops early
    on chunks chosen by each backend's hash function.) Fewer comparisons keep it quick."""
    kept = {"name", "sex", "birth_date", "id_number"}
    raw = config.model_dump(by_alias=True, exclude={"sha256"})
    raw["comparisons"] = [c for c in raw["comparisons"] if c["name"] in kept]
    raw["training"]["em_blocks"] = raw["training"]["em_blocks"][:1]
    small = LinkConfig.model_validate(raw)
    on_duckdb = train(small, data.persons, data.mentions, backend="duckdb")
    on_spark = train(small, data.persons, data.mentions, backend="spark")

    assert on_spark["sql_dialect"] == on_duckdb["sql_dialect"] == "duckdb"
    rules = "blocking_rules_to_generate_predictions"
    assert on_spark[rules] == on_duckdb[rules]

    def sql(m: dict[str, Any]) -> list[str]:
        return [lv["sql_condition"] for c in m["comparisons"] for lv in c["comparison_levels"]]

    assert sql(on_spark) == sql(on_duckdb)
    assert on_spark["probability_two_random_records_match"] == pytest.approx(
        on_duckdb["probability_two_random_records_match"], abs=TOL
    )
    link_at = config.thresholds.link

    def linked(m: dict[str, Any]) -> set[tuple[int, int]]:
        pairs = LinkModel("v", m, backend="duckdb").link(data.persons, data.mentions, link_at)
        ids = (pairs["person_id"].to_pylist(), pairs["mention_id"].to_pylist())
        return set(zip(*ids, strict=True))

    want, got = linked(on_duckdb), linked(on_spark)
    assert len(want ^ got) <= 0.02 * len(want)


def test_spark_unavailable(
    spark: None, model: dict[str, Any], data: Data, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without pyspark, without Java, or with a Java that will not start: one clear line, and
    no temporary directory left behind."""
    stop_spark()
    scratch = Path(tempfile.gettempdir())
    before = set(scratch.glob("fpcredit-spark-*"))
    few = data.mentions.slice(0, 10)
    on_spark = LinkModel("v", model, backend="spark")

    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "pyspark", None)  # import pyspark now fails
        with pytest.raises(ConfigError, match=re.escape(text("link.spark_missing"))):
            on_spark.dedupe(few, 0.3)

    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    with pytest.raises(ConfigError, match=re.escape(text("link.java_missing"))):
        on_spark.dedupe(few, 0.3)

    java = tmp_path / "jdk" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(
        '#!/bin/sh\necho "Error: UnsupportedClassVersionError (old Java)" >&2\nexit 1\n'
    )
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(java.parent.parent))
    failed = text("link.spark_failed", reason="Error: UnsupportedClassVersionError (old Java)")
    with pytest.raises(ConfigError, match=re.escape(failed)):
        on_spark.dedupe(few, 0.3)
    assert set(scratch.glob("fpcredit-spark-*")) == before


def test_backend_from_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BACKEND_ENV, raising=False)
    default = load_config()
    assert default.backend == "duckdb"
    assert resolve_backend(default) == "duckdb"
    assert LinkModel("v", {}).backend == "duckdb"

    settings = DEFAULT_CONFIG.read_text("utf-8")
    assert "\nbackend: duckdb" in settings
    spark_file = tmp_path / "spark.yaml"
    spark_file.write_text(settings.replace("\nbackend: duckdb", "\nbackend: spark"), "utf-8")
    chosen = load_config(spark_file)
    assert chosen.backend == "spark"
    assert resolve_backend(chosen) == "spark"
    assert LinkModel("v", {}, backend=resolve_backend(chosen)).backend == "spark"

    # The environment overrides the file, both ways.
    monkeypatch.setenv(BACKEND_ENV, "duckdb")
    assert resolve_backend(chosen) == "duckdb"
    monkeypatch.setenv(BACKEND_ENV, " Spark ")
    assert resolve_backend(default) == "spark"
    assert LinkModel("v", {}).backend == "spark"
    monkeypatch.setenv(BACKEND_ENV, "hadoop")
    with pytest.raises(ConfigError, match=re.escape(text("link.backend_bad", backend="hadoop"))):
        resolve_backend(default)

    bad_file = tmp_path / "bad.yaml"
    bad_file.write_text(settings.replace("\nbackend: duckdb", "\nbackend: hadoop"), "utf-8")
    with pytest.raises(ConfigError, match="backend"):
        load_config(bad_file)
