"""The SQL differences between the batch engines, and moving a Splink model's SQL across them.

Splink saves a model with its SQL already written for the backend it was trained on, and reads
a saved model's SQL as the dialect of the backend it scores on. Stored models are kept in
DuckDB's dialect (`link/model.py` converts); scoring elsewhere translates with sqlglot. sqlglot
alone is not enough: the string-similarity functions are not SQL standard, and each engine
names them differently (DuckDB `jaro_winkler_similarity`, Splink's Spark UDF `jaro_winkler`),
so those calls are renamed to what Splink itself emits for the target engine. The names below
are Splink 5's (its DuckDB and Spark dialects); `tests/link/test_spark.py` scores one model on
both engines, so a rename Splink makes shows there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final

import sqlglot
from sqlglot import exp

__all__ = ["DIALECTS", "Dialect", "in_dialect", "translate"]


@dataclass(frozen=True)
class Dialect:
    """One engine's SQL: its sqlglot dialect and its names of the similarity functions."""

    name: str  # as Splink names the backend's dialect (a model's `sql_dialect`)
    sqlglot: str
    # Splink's similarity function → this engine's name for it.
    similarity: dict[str, str] = field(hash=False)


DIALECTS: Final = {
    d.name: d
    for d in (
        Dialect(
            "duckdb",
            "duckdb",
            {
                "levenshtein": "levenshtein",
                "damerau_levenshtein": "damerau_levenshtein",
                "jaro": "jaro_similarity",
                "jaro_winkler": "jaro_winkler_similarity",
            },
        ),
        Dialect(
            "spark",
            "spark",
            {
                "levenshtein": "levenshtein",
                "damerau_levenshtein": "damerau_levenshtein",
                "jaro": "jaro_sim",
                "jaro_winkler": "jaro_winkler",
            },
        ),
    )
}


@cache
def _renames(source: str, target: str) -> tuple[tuple[type, str, str], ...]:
    """(sqlglot node type, source name, target name) of each similarity function to rename."""
    src, dst = DIALECTS[source], DIALECTS[target]
    out: list[tuple[type, str, str]] = []
    for fn, old in src.similarity.items():
        new = dst.similarity.get(fn)
        # A function the target lacks is used by no model there: nothing to rename.
        if new is not None and old.lower() != new.lower():
            # sqlglot parses some names into typed nodes (JarowinklerSimilarity), others not.
            kind = type(sqlglot.parse_one(f"{old}(a, b)", read=src.sqlglot))
            out.append((kind, old.lower(), new))
    return tuple(out)


def translate(sql: str, source: str, target: str) -> str:
    """`sql`, written in dialect `source`, in dialect `target` (names as in `DIALECTS`)."""
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

    tree = sqlglot.parse_one(sql, read=DIALECTS[source].sqlglot).transform(rename)
    return tree.sql(dialect=DIALECTS[target].sqlglot)


def in_dialect(model: dict[str, Any], dialect: str, default: str = "duckdb") -> dict[str, Any]:
    """A Splink `model` with its comparison levels and blocking rules written for `dialect`
    (its own dialect is its `sql_dialect`, else `default`)."""
    source = str(model.get("sql_dialect", default))
    if source == dialect:
        return model
    comparisons = [
        {
            **comp,
            "comparison_levels": [
                level
                if level["sql_condition"].strip().upper() == "ELSE"
                else {**level, "sql_condition": translate(level["sql_condition"], source, dialect)}
                for level in comp["comparison_levels"]
            ],
        }
        for comp in model["comparisons"]
    ]
    rules = [
        {
            **(rule if isinstance(rule, dict) else {"blocking_rule": rule}),
            "blocking_rule": translate(
                rule["blocking_rule"] if isinstance(rule, dict) else rule, source, dialect
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
