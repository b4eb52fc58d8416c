"""The frame helpers that keep a province's mentions from being copied: `placed` looks rows up
by id as a left join would, and `aligned` cuts new columns to the frame's chunks."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpcredit.link.features import aligned, placed


@given(
    ids=st.lists(st.integers(-50, 50), unique=True).map(sorted),
    rows=st.dictionaries(st.integers(-60, 60), st.one_of(st.none(), st.text(max_size=3))),
)
def test_placed_is_a_left_join_on_sorted_ids(ids: list[int], rows: dict[int, str | None]) -> None:
    frame = pl.DataFrame({"id": ids}, schema={"id": pl.Int64})
    table = pl.DataFrame(
        {"id": list(rows), "v": list(rows.values())},
        schema={"id": pl.Int64, "v": pl.String},
    )
    got = placed(frame["id"], table)
    want = frame.join(table, on="id", how="left", maintain_order="left").drop("id")
    assert got.equals(want)


def test_placed_refuses_ids_out_of_order() -> None:
    with pytest.raises(ValueError, match="ascending"):
        placed(pl.Series("id", [3, 1]), pl.DataFrame({"id": [1], "v": [2]}))


def test_aligned_cuts_new_columns_to_the_frame_chunks_without_changing_them() -> None:
    parts = [pl.DataFrame({"id": range(i, i + 5), "x": [b"ab"] * 5}) for i in (0, 5, 10)]
    men = pl.concat(parts, rechunk=False)
    added = men.with_columns((pl.col("id") * 2).alias("y"), pl.lit(None, pl.Int64).alias("z"))
    out = aligned(added)
    assert out.equals(added)
    assert {tuple(c.chunk_lengths()) for c in out.iter_columns()} == {(5, 5, 5)}
    # A filter then keeps the chunks instead of copying every column into one.
    assert out.filter(pl.col("id") % 2 == 0)["x"].n_chunks() == 3
