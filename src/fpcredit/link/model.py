"""The probabilistic pass: Splink (Fellegi–Sunter) settings from the linkage file, EM training,
and scoring pairs on DuckDB. The SQL in the settings is DuckDB's dialect, declared as such, so
that Splink can translate it when a Spark backend is added.

Inputs are Arrow tables with one row per candidate (a person's best values, or a mention) and
the columns listed in `linkage.yaml`; `unique_id` is the person or mention id.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import pyarrow as pa
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator

from fpcredit.link.config import Comparison, Level, LinkConfig

__all__ = ["LinkModel", "train"]
log = logging.getLogger(__name__)

# Splink logs every SQL step at INFO; the CLI shows its own progress instead.
for _name in ("splink", "splink.internals"):
    logging.getLogger(_name).setLevel(logging.WARNING)


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


@contextmanager
def _db_api() -> Iterator[Any]:
    api = DuckDBAPI()
    con = api._con
    con.sql("SET threads = 2")
    # Names are decrypted in memory for comparison: never let DuckDB spill them to disk.
    con.sql("SET temp_directory = ''")
    yield api


def _register(api: Any, table: pa.Table, name: str) -> Any:
    return api.register(table, dataset_display_name=name)


def train(config: LinkConfig, persons: pa.Table, sample: pa.Table) -> dict[str, Any]:
    """Estimate the model on `sample` mentions against the persons; return Splink's JSON."""
    t = config.training
    with _db_api() as api:
        a, b = _register(api, persons, "persons"), _register(api, sample, "mentions")
        linker = Linker([a, b], _settings(config, "link_only"))
        linker.training.estimate_probability_two_random_records_match(
            list(t.prior_rules), recall=t.prior_recall
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=t.u_max_pairs, seed=t.seed)
        for rule in t.em_blocks:
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule, estimate_without_term_frequencies=False
            )
        model: dict[str, Any] = linker.misc.save_model_to_json()
    return model


class LinkModel:
    """A trained model: scores mention–person pairs and mention–mention pairs."""

    def __init__(self, version: str, model: dict[str, Any]) -> None:
        self.version, self.model = version, model

    @classmethod
    def from_json(cls, version: str, settings: str) -> LinkModel:
        return cls(version, json.loads(settings))

    def _settings(self, link_type: LinkType) -> dict[str, Any]:
        # Per-field match weights are kept for the review queue.
        return {
            **self.model,
            "link_type": link_type,
            "retain_intermediate_calculation_columns": True,
        }

    def link(self, persons: pa.Table, mentions: pa.Table, threshold: float) -> pa.Table:
        """Pairs (person, mention) at or above `threshold`: person_id, mention_id, probability,
        and each field's match weight (`weight_<field>`)."""
        if persons.num_rows == 0 or mentions.num_rows == 0:
            return _empty_pairs(self.model, ("person_id", "mention_id"))
        with _db_api() as api:
            a, b = _register(api, persons, "persons"), _register(api, mentions, "mentions")
            linker = Linker([a, b], self._settings("link_only"))
            pred = linker.inference.predict(threshold_match_probability=threshold)
            return _pairs(api, pred, self.model, ("person_id", "mention_id"), "persons")

    def dedupe(self, mentions: pa.Table, threshold: float) -> pa.Table:
        """Pairs of mentions at or above `threshold` (mention_id_l < mention_id_r)."""
        if mentions.num_rows < 2:
            return _empty_pairs(self.model, ("mention_id_l", "mention_id_r"))
        with _db_api() as api:
            b = _register(api, mentions, "mentions")
            linker = Linker(b, self._settings("dedupe_only"))
            pred = linker.inference.predict(threshold_match_probability=threshold)
            return _pairs(api, pred, self.model, ("mention_id_l", "mention_id_r"), None)


def _weights(model: dict[str, Any]) -> list[str]:
    return [c["output_column_name"] for c in model["comparisons"]]


def _empty_pairs(model: dict[str, Any], ids: tuple[str, str]) -> pa.Table:
    fields = [pa.field(ids[0], pa.int64()), pa.field(ids[1], pa.int64())]
    fields.append(pa.field("probability", pa.float64()))
    fields += [pa.field(f"weight_{w}", pa.float64()) for w in _weights(model)]
    return pa.schema(fields).empty_table()


def _pairs(
    api: Any, pred: Any, model: dict[str, Any], ids: tuple[str, str], left: str | None
) -> pa.Table:
    # Splink keeps each field's match weight (log2 Bayes factor): the evidence a clerk sees.
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
    table: pa.Table = api._con.sql(sql).to_arrow_table()
    return table
