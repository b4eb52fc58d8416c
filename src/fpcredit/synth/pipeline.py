"""`generate`: the synthetic province's feeds and ground truth, written to a directory."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final

import numpy as np
import polars as pl

from fpcredit.synth import errors
from fpcredit.synth.clock import DAY_SECONDS, day_number
from fpcredit.synth.feeds import FEEDS, Feed
from fpcredit.synth.rng import stream
from fpcredit.synth.world import World, build_world
from fpcredit.synth.writer import FeedWriter, mentions, persons, records, write_table

__all__ = ["DEFAULT_UNTIL", "HORIZON", "Progress", "SynthSummary", "generate"]

log = logging.getLogger(__name__)

DEFAULT_UNTIL: Final = dt.date(2026, 6, 30)
HORIZON: Final = dt.date(2030, 12, 31)
Progress = Callable[[str, int, int], None]
_CHUNK: Final = 250_000  # feed rows rendered at a time


@dataclass(frozen=True)
class SynthSummary:
    """What `generate` wrote."""

    people: int  # persons in truth/persons.csv (born on or before `until`)
    rows: dict[str, int]  # feed rows per source, duplicates included
    errors: dict[str, int]  # feed rows per error kind (`id_15` and `duplicate` included)
    paths: dict[str, Path]  # source or truth table → file
    seed: int
    until: dt.date


def generate(
    people: int,
    seed: int,
    out: Path,
    until: dt.date = DEFAULT_UNTIL,
    progress: Progress | None = None,
) -> SynthSummary:
    """Simulate `people` persons (plus the children born to them) and write every feed to `out`.

    The same (people, seed, until) give byte-identical files; a later `until` adds rows and
    persons without changing any earlier one.
    """
    if people < 1:
        raise ValueError(f"people must be at least 1, not {people}")
    report = progress or _quiet
    stages = len(FEEDS) + 2
    world = build_world(seed, people)
    report("population", 1, stages)
    tally = _Tally(Path(out), day_number(until))
    (tally.out / "truth").mkdir(parents=True, exist_ok=True)
    tally.people = _write_persons(world, tally)
    with tally.paths["records"].open("wb") as rec, tally.paths["mentions"].open("wb") as men:
        for done, feed in enumerate(FEEDS, start=2):
            _write_feed(feed, world, seed, tally, (rec, men))
            report(feed.source, done, stages)
    report("truth", stages, stages)
    return tally.summary(seed, until)


def _quiet(stage: str, done: int, total: int) -> None:
    log.debug("synth %s %d/%d", stage, done, total)


@dataclass
class _Tally:
    """Where the files go and what has been written so far."""

    out: Path
    until_day: int
    people: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    kinds: Counter[str] = field(default_factory=Counter)
    paths: dict[str, Path] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("persons", "records", "mentions"):
            self.paths[name] = self.out / "truth" / f"{name}.csv"

    def summary(self, seed: int, until: dt.date) -> SynthSummary:
        kinds = {kind: self.kinds.get(kind, 0) for kind in errors.KINDS}
        return SynthSummary(self.people, self.rows, kinds, self.paths, seed, until)


def _write_persons(world: World, tally: _Tally) -> int:
    people = persons(world, tally.until_day)
    people.write_csv(tally.paths["persons"])
    return people.height


def _write_feed(
    feed: Feed, world: World, seed: int, tally: _Tally, truth: tuple[IO[bytes], IO[bytes]]
) -> None:
    rec, men = truth
    tally.rows[feed.source] = 0
    with FeedWriter(feed, tally.out) as writer:
        for frame, labels in build_feed(feed, world, seed, tally.until_day):
            writer.write(frame)
            write_table(records(frame, feed, labels), rec, header=rec.tell() == 0)
            write_table(mentions(frame, feed, labels), men, header=men.tell() == 0)
            tally.rows[feed.source] += frame.height
            tally.kinds.update(k for k in labels if k)
    tally.paths[feed.source] = writer.path


def build_feed(
    feed: Feed, world: World, seed: int, until_day: int
) -> Iterator[tuple[pl.DataFrame, list[str]]]:
    """The feed's rows recorded on or before `until_day`, errors injected, with their kinds.

    Rows come in chunks so that memory stays bounded; a chunk boundary changes nothing in them.
    """
    raw = feed.rows(world, seed)
    raw = raw[np.argsort(raw["_recorded"].to_numpy(), kind="stable")]
    draws = errors.draw(stream(seed, feed.source, "errors"), raw.height, feed.slots.error_scale)
    keep = (raw["_recorded"].to_numpy() // DAY_SECONDS) <= until_day
    raw, draws = raw.filter(pl.Series(keep)), errors.subset(draws, keep)
    for start in range(0, max(raw.height, 1), _CHUNK):
        part = raw.slice(start, _CHUNK)
        rendered = feed.render(part, world).with_columns(
            part[f"_{role}"].alias(f"_role_{role}") for role in feed.roles
        )
        yield errors.inject(rendered, feed.slots, errors.rows_of(draws, start, part.height))
