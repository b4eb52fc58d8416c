"""Reading mentions from the store and turning them into the columns the linker compares."""

from __future__ import annotations

from functools import lru_cache

import polars as pl
import pyarrow as pa
import sqlalchemy as sa
from pypinyin import lazy_pinyin

from fpcredit.guard.keys.crypto import Vault
from fpcredit.store.arrow import PLAIN_MENTION_COLUMNS, PLAIN_MENTION_FIELDS, read_arrow

__all__ = [
    "FEATURE_SCHEMA",
    "aligned",
    "compact",
    "features",
    "load_mentions",
    "pinyin",
    "placed",
    "plain_features",
]

_MENTIONS_SQL = f"""
SELECT m.id, m.record_id, r.source, m.role, m.id_number_bidx, m.name_enc,
       m.name_bidx, m.id_number_enc, {PLAIN_MENTION_COLUMNS}, CAST(r.recorded_at AS TEXT),
       l.person_id, l.pass, l.probability
FROM mentions m JOIN records r ON r.id = m.record_id LEFT JOIN links l ON l.mention_id = m.id
WHERE m.id > {{low}} AND m.id <= {{high}}
ORDER BY m.id
"""
# Mentions are read in slices of ids, each compacted before the next is read, so the peak is
# the compact frame plus one slice of raw Arrow columns.
_SLICE = 2_000_000
_MENTIONS_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("record_id", pa.int64()),
        ("source", pa.string()),
        ("role", pa.string()),
        ("id_bidx", pa.binary()),
        ("name_enc", pa.binary()),
        ("name_bidx", pa.binary()),
        ("id_number_enc", pa.binary()),
        *PLAIN_MENTION_FIELDS,
        ("recorded_at", pa.string()),
        ("person_id", pa.int64()),
        ("link_pass", pa.string()),
        ("link_probability", pa.float64()),
    ]
)
FEATURE_SCHEMA = pa.schema(
    [
        ("unique_id", pa.int64()),
        ("name", pa.string()),
        ("name_py", pa.string()),
        ("surname", pa.string()),
        ("sex", pa.string()),
        ("dob", pa.string()),
        ("county", pa.string()),
        ("residence", pa.string()),
        ("city", pa.string()),
        ("mother", pa.string()),
        ("kin", pa.string()),
        ("id_key", pa.string()),
    ]
)


# Columns with few distinct values: categorical, so that a province's tens of millions of
# mentions fit in memory (a string costs at least 16 bytes a row, a category 4).
_CATEGORIES = (
    "source",
    "role",
    "hukou_region",
    "residence_region",
    "urban_rural",
    "occupation",
    "link_pass",
)


def compact(frame: pl.DataFrame) -> pl.DataFrame:
    """Mention columns read as text, in the types linkage works with: dates as dates, times as
    times, codes as categories."""
    return frame.with_columns(
        pl.col("birth_date").str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False),
        pl.col("recorded_at").str.slice(0, 19).str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False),
        *[pl.col(c).cast(pl.Categorical) for c in _CATEGORIES if c in frame.columns],
    )


class _Shared:
    """One stored copy of each distinct encrypted value, shared by every mention that has it.

    A person appears in a dozen mentions, each with its own ciphertext of the same name (a
    fresh nonce each time) and its own copy of the same blind index: at a million persons
    that is some 2 GB of bytes that say the same thing. Equal blind indexes are equal values,
    so one ciphertext per index decrypts to what every mention holding it says. Polars' binary
    columns are views into shared buffers, so the mentions point at these rows, not copies.
    """

    _PAIRS = (("name_bidx", "name_enc"), ("id_bidx", "id_number_enc"))

    def __init__(self) -> None:
        self.seen = {
            bidx: pl.DataFrame(schema={bidx: pl.Binary, enc: pl.Binary})
            for bidx, enc in self._PAIRS
        }

    def share(self, frame: pl.DataFrame) -> pl.DataFrame:
        for bidx, enc in self._PAIRS:
            seen = self.seen[bidx]
            new = (
                frame.select(bidx, enc)
                .filter(pl.col(bidx).is_not_null())
                .unique(bidx, keep="first", maintain_order=True)
                .join(seen.select(bidx), on=bidx, how="anti")
            )
            # Copied out: as views, the few new values would keep the slice's buffers alive.
            new = pl.DataFrame(pl.from_arrow(new.to_arrow()))
            seen = self.seen[bidx] = pl.concat([seen, new], rechunk=False)
            at = frame.select(bidx).join(
                seen.with_row_index("_at").select(bidx, "_at"),
                on=bidx,
                how="left",
                maintain_order="left",
            )["_at"]
            frame = frame.with_columns(seen[bidx].gather(at), seen[enc].gather(at))
        return frame


def load_mentions(url: sa.URL) -> pl.DataFrame:
    """Every mention with its record's source and the link it has now (if any).

    A mention's `name_enc` and `id_number_enc` are one ciphertext of its value shared by all
    mentions with that value (see `_Shared`), not necessarily the one stored on its row."""
    top = read_arrow(url, "SELECT max(id) FROM mentions", pa.schema([("top", pa.int64())]))
    last = (top.column(0)[0].as_py() if top.num_rows else None) or 0
    slices, shared = [], _Shared()
    for low in range(0, last, _SLICE):
        sql = _MENTIONS_SQL.format(low=low, high=low + _SLICE)
        table = read_arrow(url, sql, _MENTIONS_SCHEMA)
        # Column by column: a table handed over whole stays allocated while any of its
        # columns lives, and the raw binary columns are what sharing lets go of.
        frame = pl.DataFrame([pl.Series(n, table.column(n)) for n in table.column_names])
        del table
        slices.append(shared.share(compact(frame)))
        del frame
        # Arrow's allocator keeps what the slice's raw columns freed for reuse; hand it back.
        pa.default_memory_pool().release_unused()
    if not slices:
        empty = pl.from_arrow(_MENTIONS_SCHEMA.empty_table())
        assert isinstance(empty, pl.DataFrame)
        return compact(empty)
    return pl.concat(slices, rechunk=False)


def aligned(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with every column cut into chunks where its first column is cut.

    The mentions are read in slices, so their columns come in chunks. Before a filter or a
    join, Polars copies every column of a frame into one chunk whenever the columns are
    chunked differently, as a column just computed over the frame usually is: at a million
    persons that copy is 3 GB, made again by each filter. Cutting the few new columns to
    the frame's chunks instead costs nothing (slices share their memory). Concatenating the
    frame into one chunk is no cure: the mentions' binary columns share one buffer of
    distinct values (`_Shared`), which a concatenation copies for every chunk."""
    lengths = frame.to_series(0).chunk_lengths() if frame.width else []
    if len(lengths) < 2:
        return frame
    cut = []
    for column in frame.iter_columns():
        if column.chunk_lengths() != lengths:
            whole, at, parts = column.rechunk(), 0, []
            for n in lengths:
                parts.append(whole.slice(at, n))
                at += n
            cut.append(pl.concat(parts, rechunk=False))
    return frame.with_columns(cut) if cut else frame


def placed(ids: pl.Series, rows: pl.DataFrame) -> pl.DataFrame:
    """The other columns of `rows` (one row per `id`) at the positions of `ids`, which are in
    ascending order (as the mentions are): one row per id, nulls where `rows` has none.

    A lookup by binary search: a join or a hash map of a province's 16 million mentions held
    some 2 GB more, and took seconds more."""
    if not ids.is_sorted():
        raise ValueError("ids must be in ascending order")
    rows = rows.sort("id")
    at = ids.search_sorted(rows["id"], side="left")
    inside = at < ids.len()
    at, rows = at.filter(inside), rows.filter(inside)
    hit = ids.gather(at) == rows["id"]
    at, rows = at.filter(hit), rows.filter(hit)
    where = pl.repeat(None, ids.len(), dtype=pl.UInt32, eager=True)
    where = where.scatter(at, pl.int_range(rows.height, dtype=pl.UInt32, eager=True))
    return rows.drop("id").select(pl.all().gather(where))


@lru_cache(maxsize=1_000_000)
def _pinyin_one(name: str) -> str:
    return "".join(lazy_pinyin(name))


def pinyin(names: pl.Series) -> pl.Series:
    """Toneless pinyin of each name, so that homophones (张伟/章伟) compare equal."""
    unique = names.drop_nulls().unique()
    table = pl.DataFrame(
        {"name": unique, "name_py": [_pinyin_one(n) for n in unique.to_list()]},
        schema={"name": pl.String, "name_py": pl.String},
    )
    joined = names.to_frame("name").join(table, on="name", how="left", maintain_order="left")
    return joined["name_py"]


def features(frame: pl.DataFrame, vault: Vault) -> pa.Table:
    """Linker input from rows with `unique_id, name_enc, sex, birth_date, hukou_region,
    residence_region, mother, kin, id_bidx` (mentions or persons' best values)."""
    names = pl.Series("name", vault.decrypt_many(frame["name_enc"].to_list(), "name"), pl.String)
    return plain_features(frame.with_columns(names))


def plain_features(frame: pl.DataFrame) -> pa.Table:
    """Linker input from the same rows with the name already in plain text (`name`)."""
    names = pl.col("name")
    county = pl.coalesce("hukou_region", "residence_region").cast(pl.String)
    out = frame.select(
        pl.col("unique_id").cast(pl.Int64),
        names,
        pinyin(frame["name"]).alias("name_py"),
        names.str.slice(0, 1).alias("surname"),
        pl.col("sex").cast(pl.String),
        pl.col("birth_date").cast(pl.String).alias("dob"),
        county.alias("county"),
        pl.col("residence_region").cast(pl.String).alias("residence"),
        county.str.slice(0, 4).alias("city"),
        pl.col("mother").cast(pl.String),
        pl.col("kin").cast(pl.String),
        pl.col("id_bidx").bin.encode("hex").alias("id_key"),
    )
    return out.to_arrow().cast(FEATURE_SCHEMA)
