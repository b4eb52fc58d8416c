"""The adapter seam: a department's mapping file, and a subclass only for cross-field rules."""

from __future__ import annotations

import datetime as dt

from fpcredit.collect.mapping import KindFromColumn, Mapping
from fpcredit.collect.validate import Check
from fpcredit.standard.elements import COMMON_FIELDS, Standard

__all__ = ["Adapter"]


class Adapter:
    """Maps one department's feed to the standard through its mapping file.

    The base class serves a department whose mapping file says everything. A subclass in this
    package that sets `source` at class level is that department's adapter and adds its
    cross-field checks; `adapters.ADAPTERS` finds it, nothing lists it."""

    source: str

    def __init__(self, mapping: Mapping) -> None:
        self.mapping = mapping
        self.source = mapping.source

    def checks(self, today: dt.date) -> list[Check]:
        """Cross-field rules particular to this department (R5); none by default."""
        return []

    def required_columns(self, std: Standard) -> list[str]:
        """Columns without which the file cannot be used at all (a FeedError, not a row issue)."""
        m = self.mapping
        required = {e for k in m.kinds() for e in std.datasets[k].required()} | set(COMMON_FIELDS)
        cols = [c for c, t in m.targets() if t.owner == "fact" and t.element in required]
        cols += [c for c, t in m.targets() if t.path == f"{m.subject}.name"]
        if isinstance(m.kind, KindFromColumn):
            cols.append(m.kind.source_column)
        return list(dict.fromkeys([m.record_key, *cols]))
