"""The `fpcredit` command line: thin Typer commands over the library."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from fpcredit.config import Settings
from fpcredit.errors import FpcreditError

app = typer.Typer(
    help="fpcredit — 计生信用信息平台 (family-planning credit information platform)",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
quality_app = typer.Typer(help="Data quality: quarantined rows and flagged fields.")
standard_app = typer.Typer(help="The data element standard (数据元标准).")
app.add_typer(quality_app, name="quality")
app.add_typer(standard_app, name="standard")

# Piped output has no terminal width; 120 columns keep tables readable in logs.
out = Console() if sys.stdout.isatty() else Console(width=120)
err = Console(stderr=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


@contextmanager
def _errors() -> Iterator[None]:
    """Turn library errors into a one-line reason on stderr and exit code 1."""
    try:
        yield
    except FpcreditError as e:
        _fail(str(e))


def _progress(enabled: bool) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not enabled or not err.is_terminal,
        transient=True,
    )


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def _settings() -> Settings:
    from fpcredit.messages import set_language

    settings = Settings()
    set_language(settings.language)
    return settings


@app.command()
def init() -> None:
    """Create or upgrade the store and create the keys under FPCREDIT_HOME."""
    from fpcredit.service import initialise

    with _errors():
        created = initialise(_settings())
    out.print("keys created" if created else "keys present", "· store up to date", style="green")


@app.command()
def status(as_json: JsonOpt = False) -> None:
    """Counts of persons, records, facts and quarantined rows, by source."""
    from fpcredit.service import open_ready_store

    with _errors():
        counts = open_ready_store(_settings()).status()
    if as_json:
        _print_json(counts)
        return
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

    with _errors(), _progress(not as_json) as bar:
        day = _parse_day(until) if until else DEFAULT_UNTIL
        task = bar.add_task("synth", total=None)

        def step(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        summary = generate(people=people, seed=seed, out=out_dir, until=day, progress=step)
    if as_json:
        _print_json(asdict(summary))
    else:
        out.print(f"wrote synthetic province ({people} people, seed {seed}) to {out_dir}")


def _parse_day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        _fail(f"not a date (YYYY-MM-DD): {text!r}")
        raise  # unreachable: _fail exits


@app.command()
def ingest(
    source: Annotated[str, typer.Argument(help="health, police, civil, hrss, cdc or mch.")],
    paths: Annotated[list[Path], typer.Argument(help="Feed files of that source.")],
    as_json: JsonOpt = False,
) -> None:
    """Ingest department files; every row ends accepted, duplicate or quarantined."""
    from fpcredit.service import ingest_paths

    with _errors(), _progress(not as_json) as bar:
        task = bar.add_task("ingest", total=None)
        reports = ingest_paths(
            _settings(), source, paths, lambda stage: bar.update(task, description=stage)
        )
    if as_json:
        _print_json({"files": [r.as_json() for r in reports]})
        return
    _print_reports(reports)


def _print_reports(reports: list[Any]) -> None:
    table = Table("file", "rows", "accepted", "duplicates", "quarantined", "flagged", "dropped")
    for r in reports:
        table.add_row(
            Path(r.path).name,
            *(str(x) for x in (r.rows, r.accepted, r.duplicates, r.quarantined, r.flagged)),
            ", ".join(r.dropped_fields) or "-",
        )
    out.print(table)
    for r in reports:
        ok = r.rows == r.accepted + r.duplicates + r.quarantined
        out.print(
            f"{Path(r.path).name}: {r.rows} = {r.accepted} + {r.duplicates} + {r.quarantined}",
            "✓" if ok else "✗ MISMATCH",
        )


@app.command()
def demo(
    people: Annotated[int, typer.Option(help="Size of the synthetic population.", min=100)] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed of the synthetic province.")] = 1,
) -> None:
    """Synthetic province → init → ingest every feed, then print the reconciliation."""
    from fpcredit.service import feed_path, ingest_paths, initialise, open_ready_store
    from fpcredit.synth import generate

    settings = _settings()
    feeds = settings.home / "demo" / "feeds"
    with _errors():
        with _progress(True) as bar:
            task = bar.add_task("synth", total=None)
            generate(
                people=people,
                seed=seed,
                out=feeds,
                progress=lambda st, d, t: bar.update(task, description=st, completed=d, total=t),
            )
        out.print(f"1. synthetic province: {people} people (seed {seed}) → {feeds}")
        initialise(settings)
        out.print(f"2. store ready: {settings.url.split('?')[0]}")
        reports = []
        with _progress(True) as bar:
            task = bar.add_task("ingest", total=None)
            for source in ("police", "civil", "health", "hrss", "cdc", "mch"):
                reports += ingest_paths(
                    settings,
                    source,
                    [feed_path(feeds, source)],
                    lambda st: bar.update(task, description=st),
                )
        out.print("3. ingested every department feed:")
        _print_reports(reports)
        counts = open_ready_store(settings).status()
    out.print(
        f"store: {counts['records']} records, {counts['facts']} facts, "
        f"{counts['quarantined']} quarantined · see `fpcredit quality list`"
    )


@quality_app.command("list")
def quality_list(
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows (0 = all).")] = 0,
    lang: Annotated[str | None, typer.Option(help="zh or en (default FPCREDIT_LANGUAGE).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every quarantined row and flagged field: source, record_key, field, rule, action."""
    from fpcredit.collect.quality import list_issues
    from fpcredit.service import open_ready_store

    with _errors():
        settings = _settings()
        chosen = lang or settings.language
        issues = list_issues(
            open_ready_store(settings), source, limit or None, "en" if chosen == "en" else "zh"
        )
    if as_json:
        _print_json(issues)
        return
    table = Table("source", "record_key", "row", "field", "rule", "action", "message")
    for i in issues:
        table.add_row(
            i["source"],
            i["record_key"] or "-",
            str(i["row_number"]),
            i["field"],
            i["rule"],
            i["action"],
            i["message"],
        )
    out.print(table)


@standard_app.command("render")
def standard_render(
    output: Annotated[
        Path | None, typer.Option("--out", help="File to write (default stdout).")
    ] = None,
) -> None:
    """Render the data element standard as Markdown (docs/standard.md)."""
    from fpcredit.standard.render import render_markdown

    text = render_markdown()
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


def main() -> None:
    """Console-script entry point: no traceback ever reaches the user."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except (KeyboardInterrupt, BrokenPipeError):
        raise SystemExit(130) from None
    except Exception as e:
        logging.getLogger("fpcredit").debug("unexpected error", exc_info=True)
        err.print(
            f"[red]error:[/red] internal error ({type(e).__name__}); "
            "rerun with FPCREDIT_DEBUG=1 for details",
            highlight=False,
        )
        if os.environ.get("FPCREDIT_DEBUG"):
            raise
        raise SystemExit(2) from None
