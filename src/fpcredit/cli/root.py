"""The first commands of a home: init, status, synth, ingest."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from fpcredit.cli.common import (
    JsonOpt,
    app,
    emit,
    errors,
    load_settings,
    out,
    parse_day,
    progress,
)
from fpcredit.cli.reports import print_ingest


@app.command()
def init() -> None:
    """Create or upgrade the store and create the keys under FPCREDIT_HOME."""
    from fpcredit.service import initialise

    with errors():
        created = initialise(load_settings())
    out.print("keys created" if created else "keys present", "· store up to date", style="green")


@app.command()
def status(as_json: JsonOpt = False) -> None:
    """Counts of persons, records, facts and quarantined rows, by source."""
    from fpcredit.service import open_ready_store

    with errors():
        counts = open_ready_store(load_settings()).status()
    emit(counts, as_json, _print_status)


def _print_status(counts: dict[str, Any]) -> None:
    table = Table("source", "records", "facts", "quarantined", title="fpcredit status")
    for source, c in counts["by_source"].items():
        table.add_row(source, str(c["records"]), str(c["facts"]), str(c["quarantined"]))
    table.add_row(
        "[b]total", str(counts["records"]), str(counts["facts"]), str(counts["quarantined"])
    )
    out.print(table)
    out.print(f"persons: {counts['persons']}")


@app.command()
def synth(
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for the feeds and truth.")],
    people: Annotated[int, typer.Option(help="Size of the population.", min=1)] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same bytes.")] = 1,
    until: Annotated[str | None, typer.Option(help="Only what was recorded by YYYY-MM-DD.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a synthetic province: one feed per department plus the ground truth."""
    from fpcredit.synth import DEFAULT_UNTIL, generate

    with errors(), progress(not as_json) as bar:
        day = parse_day(until) if until else DEFAULT_UNTIL
        task = bar.add_task("synth", total=None)

        def step(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        summary = generate(people=people, seed=seed, out=out_dir, until=day, progress=step)
    emit(
        asdict(summary),
        as_json,
        lambda _: out.print(
            f"wrote synthetic province ({people} people, seed {seed}) to {out_dir}"
        ),
    )


@app.command()
def ingest(
    source: Annotated[
        str,
        typer.Argument(
            help="Department: health, police, civil, hrss, cdc, mch, credit, or a mapping file's"
            " name in FPCREDIT_MAPPINGS_DIR."
        ),
    ],
    paths: Annotated[list[Path], typer.Argument(help="Feed files of that source.")],
    as_json: JsonOpt = False,
) -> None:
    """Ingest department files; every row ends accepted, duplicate or quarantined."""
    from fpcredit.service import ingest_paths

    with errors(), progress(not as_json) as bar:
        task = bar.add_task("ingest", total=None)
        reports = ingest_paths(
            load_settings(), source, paths, lambda stage: bar.update(task, description=stage)
        )
    emit({"files": [r.as_json() for r in reports]}, as_json, print_ingest)
