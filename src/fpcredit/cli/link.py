"""The person index from the command line: link, match."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from fpcredit.cli.common import (
    JsonOpt,
    PurposeOpt,
    app,
    emit,
    errors,
    open_linking,
    out,
    progress,
    reading,
)
from fpcredit.cli.reports import measured, print_link


@app.command()
def link(
    full: Annotated[
        bool, typer.Option("--full", help="Relink everything; reports the id changes first.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Apply a full relink.")] = False,
    train: Annotated[bool, typer.Option("--train", help="Re-estimate the model first.")] = False,
    truth: Annotated[
        Path | None,
        typer.Option("--truth", help="DIR/truth/records.csv: measure against ground truth."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Link every department record to one person (一人一档)."""
    from fpcredit.link.config import load_config
    from fpcredit.link.index import link as run_link

    with errors():
        store, vault = open_linking()
        apply = not full or yes
        with progress(not as_json) as bar:
            task = bar.add_task("link", total=None)
            report = run_link(
                store,
                vault,
                load_config(),
                full=full,
                apply=apply,
                train=train,
                progress=lambda m: bar.update(task, description=m),
            ).as_json()
        if truth is not None:
            report = measured(store, report, truth)
    emit(report, as_json, print_link)


@app.command()
def match(
    path: Path,
    map_path: Annotated[Path, typer.Option("--map", help="YAML: columns: {name: COL, ...}")],
    purpose: PurposeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Match a department's list of people (CSV or Parquet) to the person index (each matched
    person on the trail with --purpose)."""
    from fpcredit.guard.keys.crypto import load_vault
    from fpcredit.operator_reads import match_read

    settings, store, read = reading("match", purpose)
    with errors():
        result = match_read(store, load_vault(settings.keys_dir), read, path, map_path)
    emit(result, as_json, _print_match)


def _print_match(result: dict[str, Any]) -> None:
    table = Table("row", "status", "person", "probability", "reason")
    for r in result["results"]:
        p = r["probability"]
        table.add_row(
            str(r["row"]),
            r["status"],
            str(r["person_id"] or ""),
            "" if p is None else f"{p:.3f}",
            r["reason"] or "",
        )
    out.print(table)
    out.print(f"{result['matched']} of {result['rows']} rows matched")
