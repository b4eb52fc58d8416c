"""Writing the feeds in their native formats and the ground truth, byte for byte reproducibly."""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO, Final

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from fpcredit.synth.clock import date_text
from fpcredit.synth.feeds.base import Feed
from fpcredit.synth.world import World

__all__ = [
    "MENTION_COLUMNS",
    "PERSON_COLUMNS",
    "RECORD_COLUMNS",
    "FeedWriter",
    "mentions",
    "person_keys",
    "persons",
    "records",
    "write_table",
]

PERSON_COLUMNS: Final = (
    "person_key", "name", "sex", "birth_date", "id_number", "hukou_region", "residence_region",
    "urban_rural", "occupation",
)  # fmt: skip
RECORD_COLUMNS: Final = ("source", "record_key", "person_key", "error_kind")
MENTION_COLUMNS: Final = ("source", "record_key", "role", "person_key")


def person_keys(index: pl.Series) -> pl.Series:
    """P0000001 for person index 0."""
    return "P" + (index + 1).cast(pl.Utf8).str.zfill(7)


class FeedWriter:
    """Writes a feed chunk by chunk in its file format: the department's columns only."""

    def __init__(self, feed: Feed, out: Path) -> None:
        self.feed = feed
        self.path = out / feed.file
        self._handle: IO[bytes] | None = None
        self._parquet: pq.ParquetWriter | None = None

    def __enter__(self) -> FeedWriter:
        if not self.feed.file.endswith(".parquet"):
            self._handle = self.path.open("wb")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.close()
        if self._parquet is not None:
            self._parquet.close()

    def write(self, frame: pl.DataFrame) -> None:
        """Append rows (the first call also writes the CSV header / Parquet schema)."""
        public = frame.select([c for c in frame.columns if not c.startswith("_")])
        if self._handle is None:
            self._write_parquet(_nulls(public))
        elif self.feed.file.endswith(".csv"):
            header = self._handle.tell() == 0
            self._handle.write(_csv_bytes(_nulls(public), self.feed.encoding, header))
        else:
            public.write_ndjson(self._handle)

    def _write_parquet(self, frame: pl.DataFrame) -> None:
        table = frame.to_arrow()
        schema = pa.schema([pa.field(name, pa.string()) for name in table.column_names])
        if self._parquet is None:
            # Fixed options and no timestamps: the same rows give the same bytes.
            self._parquet = pq.ParquetWriter(
                self.path, schema, compression="zstd", compression_level=3
            )
        self._parquet.write_table(table.cast(schema))


def _nulls(frame: pl.DataFrame) -> pl.DataFrame:
    # An empty field is "no value": write it as an empty CSV field / a Parquet null.
    return frame.with_columns(
        pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c) for c in frame.columns
    )


def _csv_bytes(frame: pl.DataFrame, encoding: str, header: bool) -> bytes:
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=header)
    data = buffer.getvalue()
    return data if encoding == "utf-8" else data.decode("utf-8").encode(encoding)


def write_table(frame: pl.DataFrame, handle: IO[bytes], *, header: bool) -> None:
    """Append a truth table to an open CSV file."""
    frame.write_csv(handle, include_header=header)


def persons(world: World, until_day: int) -> pl.DataFrame:
    """truth/persons.csv: everyone born on or before `until`, in person-key order."""
    p, text = world.persons, world.text
    born = np.flatnonzero(p.birth <= until_day)
    return pl.DataFrame(
        {
            "person_key": person_keys(pl.Series(born)),
            "name": text["name"].gather(born),
            "sex": pl.Series(p.sex[born]).cast(pl.Utf8),
            "birth_date": date_text(p.birth[born], "%Y-%m-%d"),
            "id_number": text["id_number"].gather(born),
            "hukou_region": text["hukou"].gather(born),
            "residence_region": text["residence"].gather(born),
            "urban_rural": pl.Series(np.where(p.urban[born], "urban", "rural")),
            "occupation": pl.Series(p.occupation[born]),
        }
    )


def records(frame: pl.DataFrame, feed: Feed, kinds: list[str]) -> pl.DataFrame:
    """truth/records.csv rows: one per feed row, with the principal subject's person key."""
    return pl.DataFrame(
        {
            "source": pl.Series([feed.source] * frame.height, dtype=pl.Utf8),
            "record_key": frame[feed.key],
            "person_key": person_keys(frame[f"_role_{feed.principal}"]),
            "error_kind": pl.Series([k or None for k in kinds], dtype=pl.Utf8),
        }
    )


def mentions(frame: pl.DataFrame, feed: Feed, kinds: list[str]) -> pl.DataFrame:
    """truth/mentions.csv rows: every person a record mentions, once per record (no copies)."""
    original = frame.filter(pl.Series([k != "duplicate" for k in kinds], dtype=pl.Boolean))
    parts = [
        original.select(
            pl.lit(feed.source).alias("source"),
            pl.col(feed.key).alias("record_key"),
            pl.lit(role).alias("role"),
            pl.col(f"_role_{role}").alias("_person"),
            pl.int_range(pl.len()).alias("_row"),
            pl.lit(rank).alias("_rank"),
        )
        for rank, role in enumerate(feed.roles)
    ]
    both = pl.concat(parts).filter(pl.col("_person") >= 0).sort("_row", "_rank")
    return both.select(
        "source", "record_key", "role", person_keys(both["_person"]).alias("person_key")
    )
