"""Application services shared by the CLI and the web app: open, initialise, ingest, load a
province."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from fpcredit.collect.ingest import FileReport, Progress, ingest_file
from fpcredit.collect.mapping import load_mapping
from fpcredit.config import Settings
from fpcredit.files import private_dir, write_private
from fpcredit.guard.keys.crypto import Vault, create_keys, load_vault
from fpcredit.messages import text
from fpcredit.store.db import Store, open_store

if TYPE_CHECKING:
    from fpcredit.evaluate.policy import LoadedPolicy
    from fpcredit.evaluate.run import Run
    from fpcredit.link.write import LinkReport

__all__ = [
    "ProvinceLoad",
    "Steps",
    "feed_path",
    "ingest_paths",
    "initialise",
    "load_province",
    "open_ready_store",
]
log = logging.getLogger(__name__)
# A long task's progress: the step now, and how many of how many are done (None: unknown).
Steps = Callable[[str, int | None, int | None], None]


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
    from fpcredit.guard.trail.sealing import adopt, adopt_ranges
    from fpcredit.guard.trail.verify import seal

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


def feed_path(folder: Path, source: str, mappings_dir: Path | None = None) -> Path:
    """Where a source's feed lies in a feeds folder (`fpcredit synth` writes them there):
    DIR/<source>.<ext>, the extension the format its mapping file names."""
    return folder / f"{source}.{load_mapping(source, mappings_dir).format}"


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

        reports.append(ingest_file(store, vault, source, path, note, settings.mappings_dir))
    return reports


@dataclass(frozen=True)
class ProvinceLoad:
    """What `load_province` did: each feed's ingestion, the link run, and the evaluation with
    the policy it ran under."""

    ingested: list[FileReport]
    link: LinkReport
    evaluation: Run
    policy: LoadedPolicy
    without_feed: tuple[str, ...] = ()  # departments whose feed was not in the folder


def load_province(
    settings: Settings, feeds: Path, as_of: dt.date, progress: Steps | None = None
) -> ProvinceLoad:
    """Initialise the store, ingest the feed in `feeds` of every department (packaged, or in
    `settings.mappings_dir`; one without a feed there is passed over and named in the result),
    link, and evaluate as of `as_of` under the active policy: a synthetic province made ready to
    serve (`fpcredit demo`; tests and benchmarks start from this). `progress` hears of each step
    and, while the feeds are ingested, how many of them are done."""
    from fpcredit.evaluate.active import active_policy
    from fpcredit.evaluate.run import evaluate
    from fpcredit.link.config import load_config
    from fpcredit.link.index import link

    note = progress or _quiet
    note("init", None, None)
    initialise(settings)
    store = open_ready_store(settings)
    try:
        vault = load_vault(settings.keys_dir)
        ingested, without_feed = _ingest_feeds(settings, store, vault, feeds, note)
        linked = link(store, vault, load_config(), progress=lambda what: note(what, None, None))
        note("evaluate", None, None)
        policy = active_policy(store)
        run = evaluate(store, settings.home, policy, as_of)
    finally:
        store.engine.dispose()
    return ProvinceLoad(ingested, linked, run, policy, without_feed)


def _ingest_feeds(
    settings: Settings, store: Store, vault: Vault, feeds: Path, note: Steps
) -> tuple[list[FileReport], tuple[str, ...]]:
    """Each department's feed in `feeds`, in the order of `sources`; and the departments that
    had none there."""
    from fpcredit.collect.mapping import sources

    names = sources(settings.mappings_dir)
    ingested, without_feed = [], []
    for done, source in enumerate(names):
        path = feed_path(feeds, source, settings.mappings_dir)
        if not path.exists():
            without_feed.append(source)
            continue

        def stage(what: str, name: str = path.name, done: int = done) -> None:
            note(f"{name}: {what}", done, len(names))

        ingested.append(ingest_file(store, vault, source, path, stage, settings.mappings_dir))
    return ingested, tuple(without_feed)


def _quiet(step: str, done: int | None, total: int | None) -> None:
    pass
