"""Public security hukou records (户籍, 8-digit household / family-relation codes)."""

from __future__ import annotations

from fpcredit.collect.adapters.base import Adapter


class PoliceAdapter(Adapter):
    source = "police"
