"""The adapter seam: one subclass per department, each paired with a mapping file."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from fpcredit.collect.mapping import KindFromColumn, Mapping, load_mapping
from fpcredit.collect.validate import Check
from fpcredit.standard.elements import COMMON_FIELDS, Standard

__all__ = ["Adapter"]


class Adapter:
    """Maps one department's feed to the standard. Subclasses add department-specific checks."""

    source: ClassVar[str]

    @property
    def mapping(self) -> Mapping:
        return load_mapping(self.source)

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
