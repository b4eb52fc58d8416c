"""Application services shared by the CLI and (later) the web app: open, initialise, ingest."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path

from fpcredit.collect.ingest import FileReport, Progress, ingest_file
from fpcredit.collect.mapping import load_mapping
from fpcredit.config import Settings
from fpcredit.files import private_dir
from fpcredit.guard.crypto import create_keys, load_vault
from fpcredit.messages import text
from fpcredit.store.db import Store, open_store

__all__ = ["feed_path", "ingest_paths", "initialise", "load_province", "open_ready_store"]
log = logging.getLogger(__name__)


def initialise(settings: Settings) -> bool:
    """Create the keys if absent and migrate the store; True when keys were created. Trail
    entries written before entries had MACs get theirs, once the trail verifies (LedgerError
    when it does not: they are then left without, and `audit verify` keeps failing)."""
    from fpcredit.guard.verify import seal

    private_dir(settings.home)  # before the keys' folder is made inside it
    created = create_keys(settings.keys_dir, settings.crypto)
    store = open_store(settings)
    try:
        store.upgrade()
        sealed = seal(store, settings)
    finally:
        store.engine.dispose()
    if sealed:
        log.warning(text("trail.sealed", count=sealed))
    return created


def open_ready_store(settings: Settings) -> Store:
    """The store, refusing to run on a database that `fpcredit init` has not prepared."""
    store = open_store(settings)
    store.require_current()
    return store


def feed_path(folder: Path, source: str) -> Path:
    """Where `fpcredit synth` writes a source's feed: DIR/<source>.<ext>."""
    return folder / f"{source}.{load_mapping(source).format}"


def ingest_paths(
    settings: Settings, source: str, paths: Sequence[Path], progress: Progress | None = None
) -> list[FileReport]:
    """Ingest files one by one, each atomically; the first unreadable file stops the run."""
    store = open_ready_store(settings)
    vault = load_vault(settings.keys_dir)
    reports = []
    for path in paths:

        def note(stage: str, name: str = path.name) -> None:
            if progress:
                progress(f"{name}: {stage}")

        reports.append(ingest_file(store, vault, source, path, note))
    return reports


def load_province(settings: Settings, feeds: Path, as_of: dt.date) -> None:
    """Initialise the store, ingest every feed in `feeds`, link, and evaluate as of `as_of`:
    a synthetic province made ready to serve (tests and benchmarks start from this)."""
    from fpcredit.collect.mapping import sources
    from fpcredit.evaluate.active import active_policy
    from fpcredit.evaluate.run import evaluate
    from fpcredit.link.config import load_config
    from fpcredit.link.index import link

    initialise(settings)
    store = open_ready_store(settings)
    try:
        vault = load_vault(settings.keys_dir)
        for source in sources():
            ingest_file(store, vault, source, feed_path(feeds, source))
        link(store, vault, load_config())
        evaluate(store, settings.home, active_policy(store), as_of)
    finally:
        store.engine.dispose()
