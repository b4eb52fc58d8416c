"""The vectorised checks agree with the reference per-value functions."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from fpcredit.collect.validate import add_id_columns
from fpcredit.errors import InvalidIdNumber
from fpcredit.standard.idcard import PROVINCE_PREFIXES, check_digit, parse

TODAY = dt.date(2026, 11, 29)


@st.composite
def id_like(draw: st.DrawFn) -> str:
    """Valid numbers, legacy 15-digit ones, and every kind of near miss."""
    prefix = draw(st.sampled_from([*sorted(PROVINCE_PREFIXES), "00", "99", "19"]))
    born = draw(st.dates(dt.date(1890, 1, 1), dt.date(2030, 12, 31)))
    body = prefix + draw(st.text("0123456789", min_size=4, max_size=4)) + born.strftime("%Y%m%d")
    body += draw(st.text("0123456789", min_size=3, max_size=3))
    full = body + check_digit(body)
    choice = draw(st.integers(0, 6))
    if choice == 1:  # legacy 15
        return full[:6] + full[8:17]
    if choice == 2:  # single substitution
        i = draw(st.integers(0, 17))
        return full[:i] + draw(st.sampled_from("0123456789X")) + full[i + 1 :]
    if choice == 3:  # noise
        return draw(st.text("0123456789xX -", max_size=20))
    if choice == 4:
        return " ".join([full[:6], full[6:14], full[14:].lower()])
    if choice == 5:  # impossible date inside
        return full[:10] + draw(st.sampled_from(["1302", "0230", "0000", "0431"])) + full[14:]
    return full


def _reference(text: str) -> tuple[str | None, str, str | None]:
    try:
        return parse(text, today=TODAY).text, "valid", None
    except InvalidIdNumber as e:
        return (
            None,
            "missing" if e.reason == "empty" else "invalid",
            (None if e.reason == "empty" else e.reason),
        )


@settings(max_examples=80, deadline=None)
@given(st.lists(id_like(), min_size=1, max_size=80))
def test_vectorised_id_check_matches_reference(values: list[str]) -> None:
    frame = add_id_columns(pl.DataFrame({"raw": values}), pl.col("raw"), "x", TODAY)
    got = list(zip(frame["x"], frame["x#status"], frame["x#reason"], strict=True))
    assert got == [_reference(v) for v in values]
