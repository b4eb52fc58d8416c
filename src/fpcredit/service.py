"""Application services shared by the CLI and (later) the web app: open, initialise, ingest."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from fpcredit.collect.ingest import FileReport, Progress, ingest_file
from fpcredit.collect.mapping import load_mapping
from fpcredit.config import Settings
from fpcredit.files import private_dir, write_private
from fpcredit.guard.crypto import create_keys, load_vault
from fpcredit.messages import text
from fpcredit.store.db import Store, open_store

__all__ = ["feed_path", "ingest_paths", "initialise", "load_province", "open_ready_store"]
log = logging.getLogger(__name__)


def initialise(settings: Settings) -> bool:
    """Create the keys if absent and migrate the store; True when keys were created.

    A store from before the trail had MACs, or before it covered accounts, clients, persons,
    links, clerks' decisions and results files, is brought under it once, right after the
    migration that made room for it (see `_adopt`)."""
    private_dir(settings.home)  # before the keys' folder is made inside it
    created = create_keys(settings.keys_dir, settings.crypto)
    store = open_store(settings)
    try:
        _note_adoption(settings, store.revision())
        store.upgrade()
        sealed = _adopt(store, settings)
    finally:
        store.engine.dispose()
    if sealed:
        log.warning(text("trail.sealed", count=sealed))
    return created


# What an upgrade from before a revision must adopt afterwards, and the revision that brought it.
_ADOPT_SINCE: Final = {"macs": "0008", "coverage": "0011"}


def _pending(settings: Settings) -> Path:
    # Outside the database: somebody with database access alone cannot ask for an adoption
    # (it would take in whatever they had changed).
    return settings.home / "trail" / "adopt.pending"


def _note_adoption(settings: Settings, revision: str | None) -> None:
    """Before migrating an existing store, write down what must be adopted after it; a run
    that dies before adopting leaves the note for the next `init`."""
    if revision is None:
        return  # a new store: everything in it is written under the trail from the start
    steps = [step for step, since in _ADOPT_SINCE.items() if revision < since]
    if steps:
        write_private(
            private_dir(_pending(settings).parent) / "adopt.pending", "\n".join(steps).encode()
        )


def _adopt(store: Store, settings: Settings) -> int:
    """Carry out the noted adoption: first entries for the newly covered tables, then MACs for
    the entries from before MACs (only once everything verifies); returns the entries sealed."""
    from fpcredit.evaluate.run import adopt_results
    from fpcredit.guard.sealing import adopt, adopt_ranges
    from fpcredit.guard.verify import seal

    path = _pending(settings)
    if not path.exists():
        return 0
    steps = set(path.read_text().split())
    if "coverage" in steps:
        adopt_ranges(store, settings.keys_dir, ["link_decisions"])
        adopt_results(store, settings.home)
        adopt(store, settings.keys_dir)
    sealed = seal(store, settings) if "macs" in steps else 0
    path.unlink()
    return sealed


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
