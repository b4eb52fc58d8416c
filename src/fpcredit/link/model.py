"""The probabilistic pass: Splink (Fellegi–Sunter) settings from the linkage file, EM training,
and scoring pairs on DuckDB (in process, the default) or on Apache Spark in local mode. The SQL
in the settings is DuckDB's dialect, declared as such, so that Splink translates it for Spark.
A trained model is stored in DuckDB's SQL whichever backend trained it, and scores on either.

Inputs are Arrow tables with one row per candidate (a person's best values, or a mention) and
the columns listed in `linkage.yaml`; `unique_id` is the person or mention id. Outputs are Arrow
tables with the same columns on both backends.

The backend is `FPCREDIT_LINK_BACKEND` when set, else the settings file's `backend`
(`resolve_backend`). Spark is imported only when chosen; one local session serves the process
and is stopped, with its temporary directory, at exit (`stop_spark`).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

import pyarrow as pa
import pyarrow.compute as pc
import splink.comparison_level_library as cll
import splink.comparison_library as cl
import sqlglot
from splink import DuckDBAPI, Linker, SettingsCreator
from splink.internals.dialects import SplinkDialect
from sqlglot import exp

from fpcredit.errors import ConfigError
from fpcredit.link.config import Backend, Comparison, Level, LinkConfig
from fpcredit.messages import text

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["BACKEND_ENV", "LinkModel", "resolve_backend", "stop_spark", "train"]
log = logging.getLogger(__name__)

# Splink logs every SQL step at INFO; the CLI shows its own progress instead. Its warnings are
# for analysts tuning a model in a notebook (e.g. a comparison level no training pair reached,
# which in a small province is normal and then keeps Splink's default m): not for a clerk.
for _name in ("splink", "splink.internals"):
    logging.getLogger(_name).setLevel(logging.ERROR)

BACKEND_ENV: Final = "FPCREDIT_LINK_BACKEND"
# The local Spark driver's heap: the whole of local mode (driver and executor are one JVM).
SPARK_MEMORY_ENV: Final = "FPCREDIT_SPARK_MEMORY"
_SPARK_MEMORY_DEFAULT: Final = "2g"
# Mentions scored against the persons in one Splink call, at most (see `LinkModel.link`).
LINK_SLICE: Final = 500_000


def resolve_backend(config: LinkConfig | None = None) -> Backend:
    """Where Splink runs: `FPCREDIT_LINK_BACKEND` if set, else `config.backend`, else duckdb.

    The variable switches an existing store without editing the settings file, whose hash
    would otherwise make the next run train a new model (a model scores on either backend)."""
    raw = os.environ.get(BACKEND_ENV, "").strip().lower()
    if not raw:
        return config.backend if config is not None else "duckdb"
    for known in get_args(Backend):
        if raw == known:
            chosen: Backend = known
            return chosen
    raise ConfigError(text("link.backend_bad", backend=raw))


def _level(level: Level) -> Any:
    made: Any
    if level.exact:
        made = cll.ExactMatchLevel(level.exact)
        if level.tf:
            made = made.configure(tf_adjustment_column=level.exact)
    elif level.levenshtein:
        made = cll.LevenshteinLevel(level.levenshtein, level.max or 1)
    elif level.jaro_winkler:
        made = cll.JaroWinklerLevel(level.jaro_winkler, level.min or 1.0)
    else:
        made = cll.CustomLevel(level.sql or "", base_dialect_str="duckdb")
    made = made.configure(label_for_charts=level.label)
    if level.m is not None and level.u is not None:
        made = made.configure(
            m_probability=level.m,
            u_probability=level.u,
            fix_m_probability=True,
            fix_u_probability=True,
        )
    return made


def _comparison(comp: Comparison) -> Any:
    levels = [cll.NullLevel(comp.column), *[_level(lv) for lv in comp.levels]]
    other: Any = cll.ElseLevel()
    if comp.else_ is not None:
        other = other.configure(
            label_for_charts=comp.else_.label,
            m_probability=comp.else_.m,
            u_probability=comp.else_.u,
            fix_m_probability=True,
            fix_u_probability=True,
        )
    return cl.CustomComparison(output_column_name=comp.name, comparison_levels=[*levels, other])


LinkType = Literal["link_only", "dedupe_only"]


def _settings(config: LinkConfig, link_type: LinkType) -> SettingsCreator:
    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="unique_id",
        comparisons=[_comparison(c) for c in config.comparisons],
        blocking_rules_to_generate_predictions=[
            {"blocking_rule": rule, "sql_dialect": "duckdb"} for rule in config.blocking
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


# --- Moving a model between backends -----------------------------------------------------------
# Splink saves a model with its SQL already written for the backend it was trained on, and
# reads a saved model's SQL as the dialect of the backend it scores on. Stored models are kept
# in DuckDB's dialect (`train` converts); scoring elsewhere translates with sqlglot. sqlglot
# alone is not enough: the string-similarity functions are not SQL standard, and each backend
# names them differently (DuckDB `jaro_winkler_similarity`, Splink's Spark UDF `jaro_winkler`),
# so those calls are renamed to what Splink itself emits for the target backend.
_SIMILARITY_FUNCTIONS: Final = ("levenshtein", "damerau_levenshtein", "jaro", "jaro_winkler")
_MODEL_DIALECT: Final = "duckdb"


@cache
def _renames(source: SplinkDialect, target: SplinkDialect) -> tuple[tuple[type, str, str], ...]:
    """(sqlglot node type, source name, target name) of each similarity function to rename."""
    out: list[tuple[type, str, str]] = []
    for fn in _SIMILARITY_FUNCTIONS:
        try:
            old = str(getattr(source, f"{fn}_function_name"))
            new = str(getattr(target, f"{fn}_function_name"))
        except NotImplementedError:
            # Splink's dialect for this backend has no such function: no model uses it there,
            # so there is nothing to rename.
            continue
        if old.lower() != new.lower():
            # sqlglot parses some names into typed nodes (JarowinklerSimilarity), others not.
            kind = type(sqlglot.parse_one(f"{old}(a, b)", read=source.sqlglot_dialect))
            out.append((kind, old.lower(), new))
    return tuple(out)


def _translate(sql: str, source: SplinkDialect, target: SplinkDialect) -> str:
    renames = _renames(source, target)

    def rename(node: exp.Expression) -> exp.Expression:
        for kind, old, new in renames:
            if type(node) is not kind:
                continue
            if isinstance(node, exp.Anonymous):
                if node.name.lower() != old:
                    continue
                args = list(node.expressions)
            else:
                args = [node.args[k] for k in node.arg_types if node.args.get(k) is not None]
            return exp.Anonymous(this=new, expressions=args)
        return node

    tree = sqlglot.parse_one(sql, read=source.sqlglot_dialect).transform(rename)
    return tree.sql(dialect=target.sqlglot_dialect)


def _in_dialect(model: dict[str, Any], dialect: str) -> dict[str, Any]:
    """`model` with its comparison levels and blocking rules written for `dialect`."""
    source = str(model.get("sql_dialect", _MODEL_DIALECT))
    if source == dialect:
        return model
    src, dst = SplinkDialect.from_string(source), SplinkDialect.from_string(dialect)
    comparisons = [
        {
            **comp,
            "comparison_levels": [
                level
                if level["sql_condition"].strip().upper() == "ELSE"
                else {**level, "sql_condition": _translate(level["sql_condition"], src, dst)}
                for level in comp["comparison_levels"]
            ],
        }
        for comp in model["comparisons"]
    ]
    rules = [
        {
            **(rule if isinstance(rule, dict) else {"blocking_rule": rule}),
            "blocking_rule": _translate(
                rule["blocking_rule"] if isinstance(rule, dict) else rule, src, dst
            ),
            "sql_dialect": dialect,
        }
        for rule in model.get("blocking_rules_to_generate_predictions", [])
    ]
    return {
        **model,
        "comparisons": comparisons,
        "blocking_rules_to_generate_predictions": rules,
        "sql_dialect": dialect,
    }


# --- DuckDB ---------------------------------------------------------------------------------


@contextmanager
def _db_api() -> Iterator[Any]:
    api = DuckDBAPI()
    con = api._con
    con.sql("SET threads = 2")
    # DuckDB's allocator otherwise keeps what a scoring pass freed (gigabytes at a million
    # persons) until it next allocates; its background threads hand it back to the system.
    con.sql("SET allocator_background_threads = true")
    # Names are decrypted in memory for comparison: never let DuckDB spill them to disk.
    con.sql("SET temp_directory = ''")
    try:
        yield api
    finally:
        # Whatever the call computed goes with its database, now rather than when collected.
        con.close()


def _duckdb_arrow(api: Any, sql: str, schema: pa.Schema) -> pa.Table:
    table: pa.Table = api._con.sql(sql).to_arrow_table()
    return table


# --- Spark (local mode) ---------------------------------------------------------------------


@dataclass(frozen=True)
class _LocalSpark:
    session: SparkSession
    # Everything Spark writes (shuffle and spill blocks, Splink's Parquet files, the JVM's log)
    # goes under this temporary directory, which `stop_spark` deletes.
    root: Path


_spark: _LocalSpark | None = None
_spark_lock = threading.Lock()
_spark_call_lock = threading.Lock()


def _java_found() -> bool:
    # spark-submit runs $JAVA_HOME/bin/java, else the java on PATH.
    home = os.environ.get("JAVA_HOME")
    if home:
        return (Path(home) / "bin" / "java").is_file()
    return shutil.which("java") is not None


def _start_failure(log_path: Path, error: Exception) -> str:
    """One line saying why the JVM did not start: from its output, else from `error`."""
    output = log_path.read_text("utf-8", "replace") if log_path.exists() else ""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    # The first error is the cause (e.g. UnsupportedClassVersionError from an old Java); the
    # launcher script's own complaint about it comes last.
    errors = [ln for ln in lines if "error" in ln.lower() or "exception" in ln.lower()]
    own = str(error).strip().splitlines()
    return (errors or lines or own or [type(error).__name__])[0]


def _spawn(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
    """Popen for pyspark's JVM launch, without its preexec_fn.

    pyspark keeps Ctrl-C away from the JVM with a preexec_fn, which makes CPython fork().
    By the time linking starts, this process has reserved a large address space (the ADBC
    SQLite driver alone reserves some 230 GB of virtual memory while reading the store), and
    under Linux's default overcommit heuristic that fork fails with ENOMEM. Without a
    preexec_fn CPython uses vfork(), which copies nothing; a process group of its own keeps
    the terminal's Ctrl-C away from the JVM just as well."""
    kwargs.pop("preexec_fn", None)
    return subprocess.Popen(*args, process_group=0, **kwargs)


def _start_spark() -> _LocalSpark:
    try:
        import pyspark
        from pyspark import SparkConf, SparkContext, java_gateway
        from pyspark.java_gateway import launch_gateway
        from pyspark.sql import SparkSession
        from splink.backends.spark import similarity_jar_location
    except ImportError as e:
        raise ConfigError(text("link.spark_missing")) from e
    # Splink hands Arrow tables to Spark; only Spark 4 accepts them (3.x would need pandas).
    if int(pyspark.__version__.split(".")[0]) < 4:
        raise ConfigError(text("link.spark_missing"))
    if not _java_found():
        raise ConfigError(text("link.java_missing"))
    root = Path(tempfile.mkdtemp(prefix="fpcredit-spark-"))
    conf = SparkConf().setAll(
        [
            ("spark.master", "local[2]"),
            ("spark.app.name", "fpcredit-link"),
            ("spark.driver.memory", os.environ.get(SPARK_MEMORY_ENV) or _SPARK_MEMORY_DEFAULT),
            # A JVM out of memory otherwise lingers half-dead and the caller waits forever;
            # exiting makes the call fail with an error instead.
            ("spark.driver.extraJavaOptions", "-XX:+ExitOnOutOfMemoryError"),
            # Few, larger partitions: two cores, and Splink repartitions by this number.
            ("spark.sql.shuffle.partitions", "4"),
            ("spark.default.parallelism", "2"),
            ("spark.ui.enabled", "false"),
            ("spark.ui.showConsoleProgress", "false"),
            # Splink's Jaro-Winkler UDF ships inside the splink package: nothing is downloaded.
            ("spark.jars", similarity_jar_location()),
            # Names are decrypted in memory for comparison. Spark's scratch space (shuffle
            # files, spills, cached blocks) is a fresh temporary directory, deleted when the
            # session stops; I/O encryption seals those blocks with a key that lives only in the
            # JVM's memory, so they hold no readable names even if the process is killed. With
            # it on, PySpark also hands tables to the JVM over a local socket, not a file.
            # (Splink's own Parquet files are the exception: see `_spark_api`.)
            ("spark.local.dir", str(root / "local")),
            ("spark.io.encryption.enabled", "true"),
            ("spark.sql.warehouse.dir", str(root / "warehouse")),
            ("spark.sql.catalogImplementation", "in-memory"),
            ("spark.driver.host", "127.0.0.1"),
            ("spark.driver.bindAddress", "127.0.0.1"),
            ("spark.sql.session.timeZone", "UTC"),
        ]
    )
    log_path = root / "spark.log"
    try:
        with log_path.open("wb") as jvm_log:
            # The JVM's own chatter (start-up warnings, log4j) goes to a file, not the terminal:
            # the CLI prints one line per failure, and task errors could quote data values.
            launch: Callable[..., Any] = launch_gateway  # untyped in pyspark
            gateway = None
            if SparkContext._gateway is None:
                # Swapped only for this call, under `_spark_lock` (see `_spawn`).
                names = vars(java_gateway)
                popen, names["Popen"] = names["Popen"], _spawn
                try:
                    gateway = launch(conf, popen_kwargs={"stdout": jvm_log, "stderr": jvm_log})
                finally:
                    names["Popen"] = popen
            context = SparkContext(conf=conf, gateway=gateway)
    except Exception as e:
        reason = _start_failure(log_path, e)
        shutil.rmtree(root, ignore_errors=True)
        raise ConfigError(text("link.spark_failed", reason=reason)) from e
    context.setLogLevel("ERROR")
    return _LocalSpark(SparkSession(context), root)


def _local_spark() -> _LocalSpark:
    global _spark
    with _spark_lock:
        if _spark is None:
            _spark = _start_spark()
            atexit.unregister(stop_spark)  # once, however often a session is restarted
            atexit.register(stop_spark)
        return _spark


def stop_spark() -> None:
    """Stop the local Spark session, if one was started, and delete everything it wrote."""
    global _spark
    with _spark_lock:
        if _spark is None:
            return
        spark, _spark = _spark, None
    from pyspark import SparkContext

    try:
        spark.session.stop()
        gateway = SparkContext._gateway
        if gateway is not None:
            # Stopping the context leaves the JVM running; closing the gateway ends it, so a
            # long-lived process gets its memory back. The next start launches a new one.
            gateway.shutdown()
            proc = getattr(gateway, "proc", None)
            if proc is not None and proc.stdin is not None:
                proc.stdin.close()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
            SparkContext._gateway = None
            SparkContext._jvm = None
    finally:
        shutil.rmtree(spark.root, ignore_errors=True)


@contextmanager
def _spark_api() -> Iterator[Any]:
    base = _local_spark()  # first: it says clearly when pyspark or Java is missing
    from splink.backends.spark import SparkAPI

    make_api: Callable[..., Any] = SparkAPI  # untyped in Splink
    # One call at a time: the checkpoint directory belongs to the whole Spark context.
    with _spark_call_lock:
        # Splink cuts the lineage of its intermediate tables by writing them as Parquet to the
        # checkpoint directory. ("persist" writes nothing but keeps whole plans alive: EM
        # training on 36,000 mentions ran out of a 2 GB heap, and took 8× as long in 8 GB.)
        # Those files hold decrypted names, so they go to this call's own temporary directory,
        # deleted when the call ends, however it ends.
        scratch = Path(tempfile.mkdtemp(prefix="call-", dir=base.root))
        base.session.sparkContext.setCheckpointDir(str(scratch))
        # A session of its own per call: temporary views and UDFs do not outlive the call.
        session = base.session.newSession()
        try:
            yield make_api(spark_session=session, break_lineage_method="parquet")
        finally:
            for table in session.catalog.listTables():
                if table.isTemporary:
                    session.catalog.dropTempView(table.name)
            session.catalog.clearCache()
            shutil.rmtree(scratch, ignore_errors=True)


def _spark_arrow(api: Any, sql: str, schema: pa.Schema) -> pa.Table:
    table: pa.Table = api.spark.sql(sql).toArrow()
    # Spark marks every computed column nullable and may pick other widths: same schema as DuckDB.
    return table.cast(schema)


@dataclass(frozen=True)
class _Engine:
    dialect: str  # Splink's name of the backend's SQL dialect
    api: Callable[[], AbstractContextManager[Any]]
    to_arrow: Callable[[Any, str, pa.Schema], pa.Table]


_ENGINES: Final[dict[str, _Engine]] = {
    "duckdb": _Engine("duckdb", _db_api, _duckdb_arrow),
    "spark": _Engine("spark", _spark_api, _spark_arrow),
}


def _register(api: Any, table: pa.Table, name: str) -> Any:
    return api.register(table, dataset_display_name=name)


def train(
    config: LinkConfig, persons: pa.Table, sample: pa.Table, backend: Backend | None = None
) -> dict[str, Any]:
    """Estimate the model on `sample` mentions against the persons; return Splink's JSON.

    Runs on `backend`, by default `resolve_backend(config)`."""
    t = config.training
    engine = _ENGINES[backend or resolve_backend(config)]
    creator = _settings(config, "link_only")
    with engine.api() as api:
        a, b = _register(api, persons, "persons"), _register(api, sample, "mentions")
        linker = Linker([a, b], creator)
        linker.training.estimate_probability_two_random_records_match(
            list(t.prior_rules), recall=t.prior_recall
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=t.u_max_pairs, seed=t.seed)
        for rule in t.em_blocks:
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    rule, estimate_without_term_frequencies=False
                )
            except ValueError as e:
                # Splink 5 refuses an m or u that EM drove below 1e-300 (a level no match in
                # this block shows) instead of clamping it. EM works on a copy of the settings,
                # so the block is skipped and the levels keep what earlier steps estimated.
                if "below the minimum allowed" not in str(e):
                    raise
                log.warning("EM block %r skipped: a level's probability underflowed", rule)
        model: dict[str, Any] = linker.misc.save_model_to_json()
    if engine.dialect != _MODEL_DIALECT:
        # Write the stored model's SQL as the settings render it for DuckDB, rather than
        # translating Spark's rendering back (which would turn CAST into TRY_CAST, for one).
        model = _with_sql_of(model, creator.create_settings_dict(_MODEL_DIALECT))
    return model


def _with_sql_of(model: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any]:
    """`model`'s estimates with `reference`'s SQL: the same settings in another dialect."""
    comparisons = []
    for comp, ref in zip(model["comparisons"], reference["comparisons"], strict=True):
        levels = []
        for level, ref_level in zip(
            comp["comparison_levels"], ref["comparison_levels"], strict=True
        ):
            assert level["label_for_charts"] == ref_level["label_for_charts"]
            levels.append({**level, "sql_condition": ref_level["sql_condition"]})
        comparisons.append({**comp, "comparison_levels": levels})
    rules = [
        {**rule, "blocking_rule": ref["blocking_rule"], "sql_dialect": ref["sql_dialect"]}
        for rule, ref in zip(
            model["blocking_rules_to_generate_predictions"],
            reference["blocking_rules_to_generate_predictions"],
            strict=True,
        )
    ]
    return {
        **model,
        "comparisons": comparisons,
        "blocking_rules_to_generate_predictions": rules,
        "sql_dialect": _MODEL_DIALECT,
    }


class LinkModel:
    """A trained model: scores mention–person pairs and mention–mention pairs.

    `backend` is where it scores; by default `resolve_backend()` (the environment, else
    DuckDB). Pass `resolve_backend(config)` to follow a settings file."""

    def __init__(self, version: str, model: dict[str, Any], backend: Backend | None = None) -> None:
        self.version, self.model = version, model
        self.backend: Backend = backend or resolve_backend()

    @classmethod
    def from_json(cls, version: str, settings: str, backend: Backend | None = None) -> LinkModel:
        return cls(version, json.loads(settings), backend)

    def _settings(self, link_type: LinkType, engine: _Engine) -> dict[str, Any]:
        # Per-field match weights are kept for the review queue.
        return {
            **_in_dialect(self.model, engine.dialect),
            "link_type": link_type,
            "retain_intermediate_calculation_columns": True,
        }

    def link(
        self,
        persons: pa.Table,
        mentions: pa.Table,
        threshold: float,
        *,
        slice_rows: int | None = None,
    ) -> pa.Table:
        """Pairs (person, mention) at or above `threshold`: person_id, mention_id, probability,
        and each field's match weight (`weight_<field>`), in that order of ids.

        The mentions are scored `slice_rows` at a time (`LINK_SLICE` by default). Splink keeps
        every candidate pair of a call in memory; a province's pending mentions in one call
        took some 4 GiB more than the rest of the run. A link-only pair's score depends on the
        pair and on the term frequencies alone, and those are counted once over all the
        persons and mentions, as Splink would count them in a single call, so slicing changes
        no probability."""
        ids = ("person_id", "mention_id")
        if persons.num_rows == 0 or mentions.num_rows == 0:
            return _empty_pairs(self.model, ids)
        engine = _ENGINES[self.backend]
        step = slice_rows or LINK_SLICE
        frequencies = _term_frequencies(self.model, [persons, mentions])
        parts = []
        for start in range(0, mentions.num_rows, step):
            # An API of its own per slice: Splink caches a call's tables by name in its API,
            # and the next slice must not find the last one's.
            with engine.api() as api:
                a = _register(api, persons, "persons")
                b = _register(api, mentions.slice(start, step), "mentions")
                linker = Linker([a, b], self._settings("link_only", engine))
                for column, table in frequencies.items():
                    lookup = _register(api, table, f"tf_{column}")
                    linker.table_management.register_term_frequency_lookup(lookup, column)
                pred = linker.inference.predict(threshold_match_probability=threshold)
                parts.append(_pairs(engine, api, pred, self.model, ids, "persons"))
        pairs = pa.concat_tables(parts)
        if len(parts) == 1:
            return pairs
        return pairs.sort_by([(ids[0], "ascending"), (ids[1], "ascending")])

    def dedupe(self, mentions: pa.Table, threshold: float) -> pa.Table:
        """Pairs of mentions at or above `threshold` (mention_id_l < mention_id_r)."""
        ids = ("mention_id_l", "mention_id_r")
        if mentions.num_rows < 2:
            return _empty_pairs(self.model, ids)
        engine = _ENGINES[self.backend]
        with engine.api() as api:
            b = _register(api, mentions, "mentions")
            linker = Linker(b, self._settings("dedupe_only", engine))
            pred = linker.inference.predict(threshold_match_probability=threshold)
            return _pairs(engine, api, pred, self.model, ids, None)


def _term_frequencies(model: dict[str, Any], tables: list[pa.Table]) -> dict[str, pa.Table]:
    """Splink's term-frequency lookup of each column the model adjusts for, counted over all of
    `tables` as Splink counts them over its inputs: a value's rows over the column's non-null
    rows, in double precision."""
    columns = sorted(
        {
            level["tf_adjustment_column"]
            for comparison in model["comparisons"]
            for level in comparison["comparison_levels"]
            if level.get("tf_adjustment_column")
        }
    )
    out = {}
    for column in columns:
        values = pa.chunked_array(
            [chunk for table in tables for chunk in table.column(column).chunks],
            type=tables[0].schema.field(column).type,
        )
        counts = pc.value_counts(values.drop_null())
        total = float(len(values) - values.null_count)
        out[column] = pa.table(
            {
                column: counts.field("values"),
                f"tf_{column}": pc.divide(pc.cast(counts.field("counts"), pa.float64()), total),
            }
        )
    return out


def _weights(model: dict[str, Any]) -> list[str]:
    return [c["output_column_name"] for c in model["comparisons"]]


def _empty_pairs(model: dict[str, Any], ids: tuple[str, str]) -> pa.Table:
    fields = [pa.field(ids[0], pa.int64()), pa.field(ids[1], pa.int64())]
    fields.append(pa.field("probability", pa.float64()))
    fields += [pa.field(f"weight_{w}", pa.float64()) for w in _weights(model)]
    return pa.schema(fields).empty_table()


def _pairs(
    engine: _Engine,
    api: Any,
    pred: Any,
    model: dict[str, Any],
    ids: tuple[str, str],
    left: str | None,
) -> pa.Table:
    # Splink keeps each field's match weight (log2 Bayes factor): the evidence a clerk sees.
    # The query is valid in both DuckDB's and Spark's SQL.
    gammas = ", ".join(f"CAST(mw_{w} AS DOUBLE) AS weight_{w}" for w in _weights(model))
    if left is None:
        order = "unique_id_l, unique_id_r"
        cols = f"CAST(least(unique_id_l, unique_id_r) AS BIGINT) AS {ids[0]}, "
        cols += f"CAST(greatest(unique_id_l, unique_id_r) AS BIGINT) AS {ids[1]}"
    else:
        # Splink may put either dataset on the left of a link_only pair.
        order = f"{ids[0]}, {ids[1]}"
        cols = (
            f"CAST(CASE WHEN source_dataset_l = '{left}' THEN unique_id_l ELSE unique_id_r END"
            f" AS BIGINT) AS {ids[0]}, "
            f"CAST(CASE WHEN source_dataset_l = '{left}' THEN unique_id_r ELSE unique_id_l END"
            f" AS BIGINT) AS {ids[1]}"
        )
    sql = (
        f"SELECT {cols}, CAST(match_probability AS DOUBLE) AS probability, {gammas} "
        f"FROM {pred.physical_name} ORDER BY {order}"
    )
    return engine.to_arrow(api, sql, _empty_pairs(model, ids).schema)
