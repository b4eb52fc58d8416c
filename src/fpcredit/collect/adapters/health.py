"""Health commission birth registration (生育登记, 12-digit certificate codes)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from fpcredit.collect.adapters.base import Adapter
from fpcredit.collect.validate import Check


class HealthAdapter(Adapter):
    source = "health"

    def checks(self, today: dt.date) -> list[Check]:
        born = pl.col("mother.birth_date")
        fourteenth = born.dt.offset_by("14y")
        return [
            # The seed's classic clerical error: 生育次数 typed into 怀孕次数 (§2.1).
            Check(
                "fact.birth_order",
                "births_gt_pregnancies",
                pl.col("fact.birth_order") > pl.col("fact.pregnancies"),
            ),
            Check("fact.event_date", "mother_under_14", pl.col("fact.event_date") < fourteenth),
        ]
