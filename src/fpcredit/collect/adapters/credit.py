"""Health commission credit office: credit events and objective-difficulty records (信用管理)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from fpcredit.collect.adapters.base import Adapter
from fpcredit.collect.validate import Check


class CreditAdapter(Adapter):
    source = "credit"

    def checks(self, today: dt.date) -> list[Check]:
        # An exemption that ends before it was decided covers nothing: the period is wrong, and
        # on a difficulty (where valid_until is required) the record cannot be used (R14).
        return [
            Check(
                "fact.valid_until",
                "valid_until_before_event",
                pl.col("fact.valid_until") < pl.col("fact.event_date"),
            )
        ]
