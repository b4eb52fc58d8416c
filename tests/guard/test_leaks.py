"""Leak scan: after ingesting and linking a whole synthetic province, no identifier is readable.

The raw SQLite files (and anything else under FPCREDIT_HOME but the keys) and a `pg_dump` of
PostgreSQL are searched for every ID number, name, phone and address of the truth population and
of the feeds (which hold mistyped variants too), in UTF-8, GB18030 and UTF-16. The binary
columns `pg_dump` writes as hex are decoded and scanned as bytes, like the SQLite file.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from fpcredit.collect.ingest import ingest_file
from fpcredit.collect.mapping import load_mapping
from fpcredit.config import Settings
from fpcredit.guard.keys.crypto import Vault
from fpcredit.link.config import load_config
from fpcredit.link.index import link
from fpcredit.service import feed_path
from fpcredit.store.db import Store
from fpcredit.synth import generate
from tests.synth.conftest import read_feed

pytestmark = pytest.mark.slow
PEOPLE = 400
SOURCES = ("police", "civil", "health", "hrss", "cdc", "mch", "credit")
FIELDS = ("id_number", "name", "phone", "address")
ENCODINGS = ("utf-8", "gb18030", "utf-16-le", "utf-16-be")
MIN_NEEDLE = 6  # bytes: shorter patterns match random bytes by chance (see _leaks)
# A bytea value in pg_dump's output: \x and hex (the backslash doubled in COPY text).
HEX_LITERAL = re.compile(rb"\\{1,2}x((?:[0-9a-f]{2})+)")


@dataclass(frozen=True)
class Identifiers:
    """Every identifier value of the province, by field."""

    values: dict[str, set[str]]


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("leak_province")
    generate(people=PEOPLE, seed=11, out=out)
    return out


@pytest.fixture(scope="module")
def identifiers(province: Path) -> Identifiers:
    found: dict[str, set[str]] = {f: set() for f in FIELDS}
    truth = pl.read_csv(province / "truth" / "persons.csv", infer_schema=False).fill_null("")
    found["id_number"] |= set(truth["id_number"].to_list())
    found["name"] |= set(truth["name"].to_list())
    for source in SOURCES:
        mapping = load_mapping(source)
        frame = read_feed(feed_path(province, source))
        for column, cmap in mapping.columns.items():
            if column not in frame.columns:
                continue
            for target in cmap.to:
                if target.element in found:
                    found[target.element] |= set(frame[column].to_list())
    for values in found.values():
        values.discard("")
    # A one-character name (a typo'd feed value) is a byte pattern that noise matches too.
    found["name"] = {n for n in found["name"] if len(n) >= 2}
    assert all(found.values()), {f: len(v) for f, v in found.items()}
    return Identifiers(found)


def _home_bytes(settings: Settings, store: Store) -> bytes:
    """Every file under FPCREDIT_HOME but the keys, plus `pg_dump` on PostgreSQL."""
    store.engine.dispose()  # SQLite: everything checkpointed or in the -wal file we read
    parts = [
        p.read_bytes()
        for p in sorted(settings.home.rglob("*"))
        if p.is_file() and settings.keys_dir not in p.parents
    ]
    if store.dialect == "postgresql":
        url = settings.url.replace("postgresql+psycopg", "postgresql")
        dump = subprocess.run(["pg_dump", url], capture_output=True, check=True).stdout
        assert b"CREATE TABLE public.mentions" in dump
        # pg_dump writes bytea as \x + hex: decoded, binary columns are scanned as on SQLite.
        binary = [bytes.fromhex(h.decode()) for h in HEX_LITERAL.findall(dump)]
        assert len(binary) > 1000  # the ciphertext columns were found
        parts += [dump, *binary]
    return b"\n".join(parts)


def _occurring(blob: bytes, needles: Iterable[bytes]) -> set[bytes]:
    """The needles found in `blob`, all in one vectorised pass per prefix length.

    Each needle's first k ≤ 8 bytes are a 64-bit integer; every k-byte window of the blob is
    one too, so a binary search finds the candidates, and a slice compare confirms each.
    """
    data = np.frombuffer(blob, dtype=np.uint8)
    groups: dict[int, dict[int, list[bytes]]] = defaultdict(lambda: defaultdict(list))
    for needle in needles:
        k = min(8, len(needle))
        groups[k][int.from_bytes(needle[:k], "big")].append(needle)
    found: set[bytes] = set()
    for k, by_prefix in groups.items():
        n = len(data) - k + 1
        if n <= 0:
            continue
        windows = np.zeros(n, dtype=np.uint64)
        for j in range(k):
            windows = (windows << np.uint64(8)) | data[j : j + n].astype(np.uint64)
        wanted = np.sort(np.fromiter(by_prefix, dtype=np.uint64, count=len(by_prefix)))
        at = np.minimum(np.searchsorted(wanted, windows), len(wanted) - 1)
        for pos in np.flatnonzero(wanted[at] == windows):
            for needle in by_prefix[int(windows[pos])]:
                if blob[pos : pos + len(needle)] == needle:
                    found.add(needle)
    return found


def _leaks(blob: bytes, identifiers: Identifiers) -> list[tuple[str, str]]:
    """The (field, value) pairs readable in `blob` in any of `ENCODINGS`."""
    forms: dict[bytes, tuple[str, str]] = {}
    for field, values in identifiers.values.items():
        for value in values:
            for variant in {value, value.upper()}:  # ingestion upper-cases the x of an ID
                for encoding in ENCODINGS:
                    form = variant.encode(encoding)
                    # Ciphertext and hashes are random bytes: a 4-byte pattern (a two-character
                    # name in GB18030 or UTF-16) turns up in them by chance — 175 such names in
                    # 3 encodings over this store's 5 MB: up to 5e6 × 525 / 2^32 ≈ 0.6 expected
                    # matches, and CI met one — while a 6-byte one (the same name in UTF-8, or
                    # three characters) would take 2^48 random bytes.
                    if len(form) >= MIN_NEEDLE:
                        forms[form] = (field, value)
    return sorted({forms[needle] for needle in _occurring(blob, forms)})


def test_no_identifier_is_readable_at_rest(
    store: Store, vault: Vault, settings: Settings, province: Path, identifiers: Identifiers
) -> None:
    if store.dialect == "postgresql" and shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not on PATH")
    for source in SOURCES:
        report = ingest_file(store, vault, source, feed_path(province, source))
        assert report.accepted > 0
    link(store, vault, load_config())  # persons, link models and reviews hold values too
    dump = _home_bytes(settings, store)
    assert len(dump) > 100_000
    leaked = _leaks(dump, identifiers)
    assert not leaked, leaked[:10]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_the_scan_would_see_a_leak(encoding: str, identifiers: Identifiers) -> None:
    """The scan itself works: each kind of value, hidden in noise, is found in each encoding."""
    noise = bytes(range(256)) * 4
    for field, values in identifiers.values.items():
        value = min(v for v in values if len(v.encode(encoding)) >= MIN_NEEDLE)
        blob = noise + value.encode(encoding) + noise
        assert _leaks(blob, Identifiers({field: {value}})) == [(field, value)], (field, value)
        assert _leaks(noise, Identifiers({field: {value}})) == []
    hexed = b"COPY ... \\\\x" + "王芳".encode().hex().encode() + b"\t"
    dump = b"\n".join([hexed, *(bytes.fromhex(h.decode()) for h in HEX_LITERAL.findall(hexed))])
    assert _leaks(dump, Identifiers({"name": {"王芳"}})) == [("name", "王芳")]
