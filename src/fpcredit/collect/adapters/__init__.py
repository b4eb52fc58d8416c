"""Department adapters, one per source system (R2)."""

from __future__ import annotations

from fpcredit.collect.adapters.base import Adapter
from fpcredit.collect.adapters.cdc import CdcAdapter
from fpcredit.collect.adapters.civil import CivilAdapter
from fpcredit.collect.adapters.credit import CreditAdapter
from fpcredit.collect.adapters.health import HealthAdapter
from fpcredit.collect.adapters.hrss import HrssAdapter
from fpcredit.collect.adapters.mch import MchAdapter
from fpcredit.collect.adapters.police import PoliceAdapter
from fpcredit.errors import StandardError
from fpcredit.messages import text

__all__ = ["ADAPTERS", "Adapter", "get_adapter"]

ADAPTERS: dict[str, Adapter] = {
    a.source: a
    for a in (
        HealthAdapter(),
        PoliceAdapter(),
        CivilAdapter(),
        HrssAdapter(),
        CdcAdapter(),
        MchAdapter(),
        CreditAdapter(),
    )
}


def get_adapter(source: str) -> Adapter:
    """The adapter for a source name; StandardError lists the known ones."""
    try:
        return ADAPTERS[source]
    except KeyError:
        known = ", ".join(sorted(ADAPTERS))
        raise StandardError(text("feed.unknown_source", source=source, known=known)) from None
