"""Disease control: child vaccinations on the national immunisation schedule (预防接种)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from fpcredit.collect.adapters.base import Adapter
from fpcredit.collect.validate import Check


class CdcAdapter(Adapter):
    source = "cdc"

    def checks(self, today: dt.date) -> list[Check]:
        # R5: a vaccination dated before the child's birth is a data error, not a fact.
        return [
            Check(
                "fact.event_date",
                "before_birth",
                pl.col("fact.event_date") < pl.col("child.birth_date"),
            )
        ]
