"""Record versions: closing the knowledge interval of older versions of corrected records (R7).

Shared by ingestion (a department re-sends a corrected row) and the exchange (a province sends
a corrected record again): `facts.superseded_at` is derived from the newer versions, and
`audit verify` recomputes it the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from fpcredit.store import schema as s

__all__ = ["supersede"]


def supersede(conn: sa.Connection, source: str, keys: Sequence[str]) -> None:
    """Set `superseded_at` of the older versions of these records of `source` to the time the
    next version was recorded."""
    f, newer = s.facts, s.facts.alias("newer")
    for start in range(0, len(keys), 500):
        chunk = list(keys[start : start + 500])
        later = (
            sa.select(sa.func.min(newer.c.recorded_at))
            .where(
                newer.c.source == f.c.source,
                newer.c.record_key == f.c.record_key,
                newer.c.id > f.c.id,
            )
            .scalar_subquery()
        )
        conn.execute(
            f.update()
            .where(f.c.source == source, f.c.record_key.in_(chunk), f.c.superseded_at.is_(None))
            .values(superseded_at=later)
        )
