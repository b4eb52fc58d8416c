"""The department feeds, in the order they are written."""

from __future__ import annotations

from fpcredit.synth.feeds import cdc, civil, credit, health, hrss, mch, police
from fpcredit.synth.feeds.base import Feed

__all__ = ["FEEDS", "Feed"]

FEEDS: tuple[Feed, ...] = (
    health.FEED,
    police.FEED,
    civil.FEED,
    hrss.FEED,
    cdc.FEED,
    mch.FEED,
    credit.FEED,
)
