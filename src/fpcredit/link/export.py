"""The link table as data: for export (`fpcredit export links`) and for measurement."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa

from fpcredit.files import private_output
from fpcredit.store.arrow import read_arrow
from fpcredit.store.db import Store

__all__ = ["export_links", "links_frame"]

_SQL = """
SELECT r.source, r.record_key, m.role, l.person_id, l.probability, l.pass, m.id_number_bidx
FROM mentions m JOIN records r ON r.id = m.record_id LEFT JOIN links l ON l.mention_id = m.id
ORDER BY m.id
"""
_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("record_key", pa.string()),
        ("role", pa.string()),
        ("person_id", pa.int64()),
        ("probability", pa.float64()),
        ("pass", pa.string()),
        ("id_bidx", pa.binary()),
    ]
)


def links_frame(store: Store) -> pl.DataFrame:
    """One row per mention: who it is linked to, how, and an opaque key of its valid ID."""
    frame = pl.from_arrow(read_arrow(store.engine.url, _SQL, _SCHEMA))
    assert isinstance(frame, pl.DataFrame)
    return frame.with_columns(pl.col("id_bidx").bin.encode("hex").alias("id_key")).drop("id_bidx")


def export_links(store: Store, out: Path) -> int:
    """Write `source, record_key, role, person_id, probability, pass` as CSV; return rows."""
    frame = links_frame(store).select(
        "source", "record_key", "role", "person_id", "probability", "pass"
    )
    with private_output(out) as tmp:  # who is whom across departments: 0600
        frame.write_csv(tmp)
    return frame.height
