"""The batch-engine seam: an engine's error is one ComputeError with the step and the SQL, and
the dialect table says what Splink itself writes for each backend."""

from __future__ import annotations

import re

import duckdb
import pyarrow as pa
import pytest
import splink.comparison_level_library as cll

from fpcredit.compute.base import wrapped
from fpcredit.compute.dialects import DIALECTS, translate
from fpcredit.compute.duckdb import DuckDBEngine
from fpcredit.errors import ComputeError, ConfigError
from fpcredit.link.backends import BACKENDS
from fpcredit.messages import text


def test_an_engine_error_is_one_compute_error_with_its_step_and_sql() -> None:
    with DuckDBEngine() as engine:
        engine.register("frame", pa.table({"a": [1, 2]}))
        sql = "SELECT no_such_column FROM frame"
        with pytest.raises(ComputeError) as caught:
            engine.materialise("facts", sql)
    error = caught.value
    assert (error.engine, error.step, error.sql) == ("duckdb", "facts", sql)
    assert isinstance(error.__cause__, duckdb.Error)
    # The message is the catalogue's: the step and the engine, never the SQL or its values.
    want = text("compute.failed", step="facts", engine="duckdb", error="BinderException")
    assert str(error) == want and "no_such_column" not in str(error)


def test_long_sql_is_cut_and_other_errors_pass_unchanged() -> None:
    sql = "SELECT " + ", ".join(f"{i} AS c{i}" for i in range(2000)) + " FROM nowhere"
    with pytest.raises(ComputeError) as caught, DuckDBEngine() as engine:
        engine.arrow(sql)
    assert caught.value.sql.startswith(sql[:100]) and len(caught.value.sql) < len(sql)
    assert re.search(r"\d+ more characters\)$", caught.value.sql)
    # Ours, not the engine's: not wrapped (nor an error already wrapped, or a setting's).
    with pytest.raises(ValueError), wrapped("duckdb", (duckdb.Error,), "step"):
        raise ValueError("a bug of ours")
    with pytest.raises(ConfigError), wrapped("duckdb", (duckdb.Error,), "step"):
        raise ConfigError("no java")


def test_a_splink_call_wraps_the_engine_error_under_another_once() -> None:
    backend = BACKENDS["duckdb"]
    with pytest.raises(ComputeError) as caught, backend.call("train"):
        # Splink raises its own exception with the engine's as the cause.
        try:
            duckdb.sql("SELECT * FROM no_such_table")
        except duckdb.Error as e:
            raise RuntimeError("Splink's wrapping") from e
    assert caught.value.step == "train" and isinstance(caught.value.__cause__, RuntimeError)
    with pytest.raises(ComputeError) as caught, backend.call("link") as call:
        call.arrow("SELECT * FROM no_such_table", pa.schema([("a", pa.int64())]))
    assert caught.value.step == "link: read" and "no_such_table" in caught.value.sql


@pytest.mark.parametrize("backend", sorted(DIALECTS))
def test_the_similarity_names_are_what_splink_writes(backend: str) -> None:
    levels = {
        "levenshtein": cll.LevenshteinLevel("name", 1),
        "damerau_levenshtein": cll.DamerauLevenshteinLevel("name", 1),
        "jaro": cll.JaroLevel("name", 0.9),
        "jaro_winkler": cll.JaroWinklerLevel("name", 0.9),
    }
    for function, level in levels.items():
        sql = level.get_comparison_level(backend).sql_condition
        assert sql.startswith(f"{DIALECTS[backend].similarity[function]}("), sql
    duck = levels["jaro_winkler"].get_comparison_level("duckdb").sql_condition
    # sqlglot writes function names in capitals; SQL does not mind.
    moved = translate(duck, "duckdb", backend).lower()
    assert moved.startswith(f"{DIALECTS[backend].similarity['jaro_winkler']}(")
