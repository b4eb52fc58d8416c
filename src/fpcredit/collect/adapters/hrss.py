"""Human resources and social security: maternity insurance contributions (生育保险)."""

from __future__ import annotations

from fpcredit.collect.adapters.base import Adapter


class HrssAdapter(Adapter):
    source = "hrss"
