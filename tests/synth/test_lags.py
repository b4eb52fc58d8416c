"""Hard property 6: each department's delay between event and record, with a long tail."""

from __future__ import annotations

import datetime as dt
import statistics

import pytest

from tests.synth.conftest import Run, run_for
from tests.synth.rows import rows
from tests.synth.spec import SPECS, parse_date, parse_time

# Median delay in days (lowest, highest), and "late" (days, most rows later than that): cdc and
# mch upload within hours or days, health registers within weeks, police enters within days to
# months, hrss processes monthly batches, civil keys in at the counter, the credit office keys in
# its decisions within days.
EXPECTED = {
    "cdc": ((0.0, 1.0), (30, 0.05)),
    "mch": ((0.0, 2.0), (30, 0.05)),
    "health": ((5.0, 40.0), (90, 0.1)),
    "police": ((1.0, 30.0), (60, 0.1)),
    "hrss": ((35.0, 60.0), (90, 0.1)),
    "civil": ((0.0, 1.0), (30, 0.1)),
    "credit": ((2.0, 8.0), (30, 0.06)),
}


def _lags(run: Run, source: str) -> list[float]:
    spec = SPECS[source]
    lags = []
    for row in rows(run, source):
        event = parse_date(row.values[spec.event[0]], spec.event[1])
        if row.kind == "" and event is not None:
            recorded = parse_time(row.values[spec.recorded[0]], spec.recorded[1])
            start = dt.datetime(event.year, event.month, event.day)
            lags.append((recorded - start).total_seconds() / 86400)
    return lags


@pytest.mark.parametrize("source", list(EXPECTED))
def test_delays_are_the_departments(request: pytest.FixtureRequest, source: str) -> None:
    (lowest, highest), (late, share) = EXPECTED[source]
    lags = _lags(run_for(request, source), source)
    assert min(lags) >= 0
    assert lowest <= statistics.median(lags) <= highest
    assert 0 < sum(lag > late for lag in lags) / len(lags) < share
