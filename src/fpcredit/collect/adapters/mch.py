"""Maternal and child health: prenatal/postnatal/child checks, contraception, infant care."""

from __future__ import annotations

import datetime as dt

import polars as pl

from fpcredit.collect.adapters.base import Adapter
from fpcredit.collect.validate import Check


class MchAdapter(Adapter):
    source = "mch"

    def checks(self, today: dt.date) -> list[Check]:
        return [
            Check(
                "fact.event_date",
                "before_birth",
                pl.col("fact.event_date") < pl.col("self.birth_date"),
            )
        ]
