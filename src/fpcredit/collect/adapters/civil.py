"""Civil affairs marriage registration (婚姻登记, 10-digit certificate codes)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from fpcredit.collect.adapters.base import Adapter
from fpcredit.collect.validate import Check


class CivilAdapter(Adapter):
    source = "civil"

    def checks(self, today: dt.date) -> list[Check]:
        return [
            Check(
                f"{role}.birth_date",
                "before_birth",
                pl.col("fact.event_date") < pl.col(f"{role}.birth_date"),
            )
            for role in ("husband", "wife")
        ]
