"""Scoring mentions in slices gives exactly what one Splink call over all of them gives.

`LinkModel.link` scores a province's mentions a slice at a time, to bound memory, with the
term frequencies counted once over every person and mention. The reference here is Splink
itself in one call, counting the term frequencies from its inputs as it does by default.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from splink import Linker

from fpcredit.link import model as link_model
from fpcredit.link.backends import BACKENDS
from fpcredit.link.config import LinkConfig
from fpcredit.link.model import LinkModel
from tests.link.test_spark import Data, make_data


@pytest.fixture(scope="module")
def data() -> Data:
    """Other people than the Spark tests' (the `model` fixture trains on them)."""
    return make_data(seed=11)


def _one_call(scorer: LinkModel, persons: pa.Table, mentions: pa.Table, threshold: float) -> Any:
    """What `link` returned before slicing: one Splink call, its own term frequencies."""
    engine = BACKENDS["duckdb"]
    with engine.call("link") as call:
        a = call.register(persons, "persons")
        b = call.register(mentions, "mentions")
        linker = Linker([a, b], scorer._settings("link_only", engine))
        pred = linker.inference.predict(threshold_match_probability=threshold)
        ids = ("person_id", "mention_id")
        return link_model._pairs(call, pred, scorer.model, ids, "persons")


@pytest.mark.parametrize("slice_rows", [37, 10**9])
def test_sliced_scoring_equals_one_splink_call(
    model: dict[str, Any], config: LinkConfig, data: Data, slice_rows: int
) -> None:
    scorer = LinkModel.from_json("test", json.dumps(model), backend="duckdb")
    threshold = config.thresholds.review
    want = _one_call(scorer, data.persons, data.mentions, threshold)
    got = scorer.link(data.persons, data.mentions, threshold, slice_rows=slice_rows)
    assert got.schema == want.schema
    assert want.num_rows > 300  # the comparison is worth something
    assert (
        got.select(["person_id", "mention_id"]).to_pylist()
        == want.select(["person_id", "mention_id"]).to_pylist()
    )
    for column in want.column_names[2:]:
        np.testing.assert_array_equal(
            np.asarray(got[column].to_pylist(), dtype=np.float64),
            np.asarray(want[column].to_pylist(), dtype=np.float64),
            err_msg=column,
        )


def test_term_frequencies_count_every_table_as_splink_does(model: dict[str, Any]) -> None:
    """Across tables and chunks; nulls are not values and do not count."""
    left = pa.table({"name": ["张伟", None, "李娜"], "name_py": ["zhangwei", None, "lina"]})
    right = pa.concat_tables(
        [pa.table({"name": ["张伟"], "name_py": ["zhangwei"]})] * 2
        + [pa.table({"name": ["章伟"], "name_py": ["zhangwei"]})]
    )
    tf = link_model._term_frequencies(model, [left, right])
    assert "name" in tf and "name_py" in tf
    names = dict(zip(*(tf["name"].column(i).to_pylist() for i in (0, 1)), strict=True))
    assert names == {"张伟": 3 / 5, "李娜": 1 / 5, "章伟": 1 / 5}
    pinyin = dict(zip(*(tf["name_py"].column(i).to_pylist() for i in (0, 1)), strict=True))
    assert pinyin == {"zhangwei": 4 / 5, "lina": 1 / 5}


def test_slices_without_shared_term_frequencies_would_differ(
    model: dict[str, Any], config: LinkConfig, data: Data, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Why the term frequencies are counted once: per slice, Splink would count them over that
    slice alone, and the probabilities would move."""
    scorer = LinkModel.from_json("test", json.dumps(model), backend="duckdb")
    threshold = config.thresholds.review
    want = _one_call(scorer, data.persons, data.mentions, threshold)
    monkeypatch.setattr(link_model, "_term_frequencies", lambda *_a: {})
    got = scorer.link(data.persons, data.mentions, threshold, slice_rows=37)
    assert got["probability"].to_pylist() != want["probability"].to_pylist()
