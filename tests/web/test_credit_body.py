"""The credit lookup's body, written without its model, is the model's own JSON byte for byte."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from fpcredit.evaluate.results import Results
from fpcredit.store.schema import persons
from fpcredit.web.api.views import CreditView, credit_response
from tests.web.conftest import Web

_INDICATORS = ("B01", "B02", "F06", "S03", "R01")
_DIMENSIONS = ("basic", "fertility", "service", "regional")


def _through_model(row: dict[str, Any]) -> bytes:
    """What the model would write for `row`: built, validated, dumped."""

    def centi(v: Any) -> str | None:
        return None if v is None else f"{float(v):.2f}"

    view = CreditView(
        person_id=row["person_id"],
        total=centi(row["total"]),
        grade=row["grade"],
        points=row["points"],
        policy_id=row["policy_id"],
        policy_version=row["policy_version"],
        policy_sha256=row["policy_sha256"],
        score_date=row["score_date"],
        grade_date=row["grade_date"],
        dimensions={k[4:]: centi(v) for k, v in row.items() if k.startswith("dim_")},
        indicators={k[: -len("_score")]: v for k, v in row.items() if k.endswith("_score")},
    )
    return view.model_dump_json().encode()


def test_every_row_of_an_evaluated_province_is_written_as_the_model_writes_it(web: Web) -> None:
    results = Results(web.store, web.settings.home)
    assert results.run() is not None
    with web.store.engine.connect() as conn:
        ids = conn.scalars(sa.select(persons.c.id)).all()
    rows = [(i, row) for i in ids if (row := results.person(i)) is not None]
    assert len(rows) > 100
    for person_id, row in rows:
        assert credit_response(row).body == _through_model(row), person_id


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_maybe_centi = st.none() | st.decimals(
    min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False
).map(lambda d: f"{d:.2f}")
_maybe_int = st.none() | st.integers(min_value=-1000, max_value=1000)
_dates = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 12, 31))


@st.composite
def _rows(draw: st.DrawFn) -> dict[str, Any]:
    row: dict[str, Any] = {
        "person_id": draw(st.integers(min_value=1, max_value=2**53)),
        "total": draw(_maybe_centi),
        "grade": draw(st.none() | st.sampled_from("ABCD") | _text),
        "points": draw(_maybe_int),
        "policy_version": draw(_text),
        "policy_id": draw(_text),
        "policy_sha256": draw(_text),
        "score_date": draw(_dates),
        "grade_date": draw(_dates),
    }
    for name in _DIMENSIONS:
        row[f"dim_{name}"] = draw(_maybe_centi)
    for code in _INDICATORS:
        row[f"{code}_score"] = draw(_maybe_int)
    return row


@given(_rows())
def test_a_generated_row_is_written_as_the_model_writes_it(row: dict[str, Any]) -> None:
    # Names with quotes, backslashes, control characters and any script: escaped alike.
    assert credit_response(row).body == _through_model(row)
