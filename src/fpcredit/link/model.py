"""The probabilistic pass: Splink (Fellegi–Sunter) settings from the linkage file, EM training,
and scoring pairs on DuckDB (in process, the default) or on Apache Spark in local mode. The SQL
in the settings is DuckDB's dialect, declared as such, so that Splink translates it for Spark.
A trained model is stored in DuckDB's SQL whichever backend trained it, and scores on either.

Inputs are Arrow tables with one row per candidate (a person's best values, or a mention) and
the columns listed in `linkage.yaml`; `unique_id` is the person or mention id. Outputs are Arrow
tables with the same columns on both backends.

The backend is `FPCREDIT_LINK_BACKEND` (`Settings.link_backend`) when set, else the settings
file's `backend` (`resolve_backend`); `link/backends.py` hands Splink its connection on each.
Spark is imported only when chosen (`compute/spark.py`).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Final, Literal

import pyarrow as pa
import pyarrow.compute as pc
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import Linker, SettingsCreator

from fpcredit.compute.dialects import in_dialect
from fpcredit.config import Settings
from fpcredit.link.backends import BACKENDS, SplinkBackend, SplinkCall
from fpcredit.link.config import Backend, Comparison, Level, LinkConfig

__all__ = ["LinkModel", "resolve_backend", "train"]
log = logging.getLogger(__name__)

# Splink logs every SQL step at INFO; the CLI shows its own progress instead. Its warnings are
# for analysts tuning a model in a notebook (e.g. a comparison level no training pair reached,
# which in a small province is normal and then keeps Splink's default m): not for a clerk.
for _name in ("splink", "splink.internals"):
    logging.getLogger(_name).setLevel(logging.ERROR)

# Mentions scored against the persons in one Splink call, at most (see `LinkModel.link`).
LINK_SLICE: Final = 500_000


def resolve_backend(config: LinkConfig | None = None) -> Backend:
    """Where Splink runs: `FPCREDIT_LINK_BACKEND` if set, else `config.backend`, else duckdb.

    The variable switches an existing store without editing the settings file, whose hash
    would otherwise make the next run train a new model (a model scores on either backend).
    An invalid variable is the `ConfigError` of `Settings`."""
    chosen = Settings().link_backend
    if chosen is not None:
        return chosen
    return config.backend if config is not None else "duckdb"


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


# A stored model's SQL is DuckDB's, whichever backend trained it (`train` converts); scoring
# elsewhere translates it (`compute/dialects.py`).
_MODEL_DIALECT: Final = "duckdb"


def train(
    config: LinkConfig, persons: pa.Table, sample: pa.Table, backend: Backend | None = None
) -> dict[str, Any]:
    """Estimate the model on `sample` mentions against the persons; return Splink's JSON.

    Runs on `backend`, by default `resolve_backend(config)`."""
    t = config.training
    engine = BACKENDS[backend or resolve_backend(config)]
    creator = _settings(config, "link_only")
    with engine.call("train") as call:
        a, b = call.register(persons, "persons"), call.register(sample, "mentions")
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
    if engine.name != _MODEL_DIALECT:
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

    def _settings(self, link_type: LinkType, engine: SplinkBackend) -> dict[str, Any]:
        # Per-field match weights are kept for the review queue.
        return {
            **in_dialect(self.model, engine.name, _MODEL_DIALECT),
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
        engine = BACKENDS[self.backend]
        step = slice_rows or LINK_SLICE
        frequencies = _term_frequencies(self.model, [persons, mentions])
        parts = []
        for start in range(0, mentions.num_rows, step):
            # An API of its own per slice: Splink caches a call's tables by name in its API,
            # and the next slice must not find the last one's.
            with engine.call("link") as call:
                a = call.register(persons, "persons")
                b = call.register(mentions.slice(start, step), "mentions")
                linker = Linker([a, b], self._settings("link_only", engine))
                for column, table in frequencies.items():
                    lookup = call.register(table, f"tf_{column}")
                    linker.table_management.register_term_frequency_lookup(lookup, column)
                pred = linker.inference.predict(threshold_match_probability=threshold)
                parts.append(_pairs(call, pred, self.model, ids, "persons"))
        pairs = pa.concat_tables(parts)
        if len(parts) == 1:
            return pairs
        return pairs.sort_by([(ids[0], "ascending"), (ids[1], "ascending")])

    def dedupe(self, mentions: pa.Table, threshold: float) -> pa.Table:
        """Pairs of mentions at or above `threshold` (mention_id_l < mention_id_r)."""
        ids = ("mention_id_l", "mention_id_r")
        if mentions.num_rows < 2:
            return _empty_pairs(self.model, ids)
        engine = BACKENDS[self.backend]
        with engine.call("dedupe") as call:
            b = call.register(mentions, "mentions")
            linker = Linker(b, self._settings("dedupe_only", engine))
            pred = linker.inference.predict(threshold_match_probability=threshold)
            return _pairs(call, pred, self.model, ids, None)


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
    call: SplinkCall,
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
    return call.arrow(sql, _empty_pairs(model, ids).schema)
