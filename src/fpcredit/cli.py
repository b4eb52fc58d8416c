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
review_app = typer.Typer(help="Clerical review of doubtful links (人工复核), merge and unmerge.")
export_app = typer.Typer(help="Export data as files.")
app.add_typer(quality_app, name="quality")
app.add_typer(standard_app, name="standard")
app.add_typer(review_app, name="review")
app.add_typer(export_app, name="export")

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
    """Synthetic province → init → ingest every feed → link, printing each step's counts."""
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
        report = _demo_link(feeds)
    out.print("4. linked every record to one person (一人一档):")
    _print_link(report)


def _demo_link(feeds: Path) -> dict[str, Any]:
    """The demo's link step, measured against the province's own ground truth."""
    from fpcredit.link.config import load_config
    from fpcredit.link.export import links_frame
    from fpcredit.link.index import link as run_link
    from fpcredit.link.measure import measure

    store, vault = _linking()
    with _progress(True) as bar:
        task = bar.add_task("link", total=None)
        report = run_link(
            store, vault, load_config(), progress=lambda m: bar.update(task, description=m)
        ).as_json()
    report["quality"] = measure(links_frame(store), feeds / "truth" / "records.csv")
    return report


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


def _linking() -> tuple[Any, Any]:
    from fpcredit.guard.crypto import load_vault
    from fpcredit.service import open_ready_store

    settings = _settings()
    return open_ready_store(settings), load_vault(settings.keys_dir)


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

    with _errors():
        store, vault = _linking()
        apply = not full or yes
        with _progress(not as_json) as bar:
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
            from fpcredit.link.export import links_frame
            from fpcredit.link.measure import measure

            report["quality"] = measure(links_frame(store), truth)
    if as_json:
        _print_json(report)
        return
    _print_link(report)


def _print_link(report: dict[str, Any]) -> None:
    table = Table("", "", title=f"link ({report['mode']})")
    for key in ("records", "mentions", "persons", "linked_now", "persons_created"):
        table.add_row(key, str(report[key]))
    for name, n in report["by_pass"].items():
        table.add_row(f"pass {name}", str(n))
    table.add_row(
        "review added / pending", f"{report['review_added']} / {report['review_pending']}"
    )
    if report["mode"] == "full":
        table.add_row("mentions moved", str(report["mentions_moved"]))
        table.add_row("persons retired", str(report["persons_retired"]))
    out.print(table)
    if "quality" in report:
        q = report["quality"]
        qt = Table("scope", "precision", "recall", "F1", "records right", title="quality vs truth")
        rows = [("overall", q["overall"]), ("without valid ID", q["without_valid_id"])]
        rows += [(f"source {k}", v) for k, v in q["by_source"].items()]
        rows += [("exact-ID baseline", q["baseline_exact_id"]["overall"])]
        for name, m in rows:
            qt.add_row(
                name,
                f"{m['precision']:.4f}",
                f"{m['recall']:.4f}",
                f"{m['f1']:.4f}",
                f"{m['records_right']:.4f}",
            )
        out.print(qt)
    if not report["applied"]:
        out.print(
            f"[yellow]not applied:[/yellow] {report['mentions_moved']} records would move and "
            f"{report['persons_retired']} person ids would retire; rerun with --yes to apply"
        )


ByOpt = Annotated[str, typer.Option("--by", help="Who decides (recorded with the decision).")]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (recorded with the decision).")]


def _by_default(by: str) -> str:
    import getpass

    return by or getpass.getuser()


@review_app.command("list")
def review_list(
    status_: Annotated[
        str, typer.Option("--status", help="pending | accepted | rejected | stale")
    ] = "pending",
    limit: Annotated[int, typer.Option("--limit", min=1)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The doubtful pairs waiting for a clerk (names masked)."""
    from fpcredit.link.review import list_reviews

    with _errors():
        store, vault = _linking()
        items = [i.as_json() for i in list_reviews(store, vault, status_, limit)]
    if as_json:
        _print_json({"reviews": items})
        return
    table = Table("id", "probability", "source", "record", "role", "name", "candidate person")
    for i in items:
        table.add_row(
            str(i["id"]),
            f"{i['probability']:.3f}",
            i["source"],
            i["record_key"],
            i["role"],
            i["name"] or "",
            str(i["candidate_person_id"]),
        )
    out.print(table)


@review_app.command("show")
def review_show(review_id: int, as_json: JsonOpt = False) -> None:
    """Both sides of a doubtful pair, field by field, with each field's evidence."""
    from fpcredit.link.review import show_review

    with _errors():
        store, vault = _linking()
        detail = show_review(store, vault, review_id)
    if as_json:
        _print_json(detail)
        return
    rec = detail["record"]
    out.print(
        f"review {detail['id']} · {detail['status']} · p={detail['probability']:.3f} · "
        f"{rec['source']} {rec['record_key']} ({rec['role']}) → person "
        f"{detail['candidate_person_id']}"
    )
    table = Table("field", "record", "person", "person's source")
    for f in detail["fields"]:
        table.add_row(
            f["field"],
            str(f["record"] or ""),
            str(f["person"] or ""),
            str(f["person_source"] or ""),
        )
    out.print(table)
    out.print("match weights: " + ", ".join(f"{k} {v:+.1f}" for k, v in detail["weights"].items()))


@review_app.command("accept")
def review_accept(review_id: int, reason: ReasonOpt, by: ByOpt = "") -> None:
    """The record is the candidate person: join its file to the candidate's."""
    from fpcredit.link.review import accept

    with _errors():
        store, vault = _linking()
        _print_json(accept(store, vault, review_id, _by_default(by), reason))


@review_app.command("reject")
def review_reject(review_id: int, reason: ReasonOpt, by: ByOpt = "") -> None:
    """The record is not the candidate person; no relink will join them."""
    from fpcredit.link.review import reject

    with _errors():
        store, vault = _linking()
        _print_json(reject(store, vault, review_id, _by_default(by), reason))


@review_app.command("merge")
def review_merge(keep: int, other: int, reason: ReasonOpt, by: ByOpt = "") -> None:
    """Two persons are one: OTHER's records join KEEP (OTHER's id then points to KEEP)."""
    from fpcredit.link.review import merge

    with _errors():
        store, vault = _linking()
        _print_json(merge(store, vault, keep, other, _by_default(by), reason))


@review_app.command("unmerge")
def review_unmerge(
    person_id: int,
    reason: ReasonOpt,
    record: Annotated[
        list[str], typer.Option("--record", help="SOURCE:RECORD_KEY to split off (repeat).")
    ],
    by: ByOpt = "",
) -> None:
    """Split records off a person into a new person."""
    from fpcredit.link.review import unmerge

    pairs = []
    for r in record:
        source, _, key = r.partition(":")
        if not key:
            _fail(f"--record {r!r}: expected SOURCE:RECORD_KEY")
        pairs.append((source, key))
    with _errors():
        store, vault = _linking()
        _print_json(unmerge(store, vault, person_id, pairs, _by_default(by), reason))


@app.command()
def match(
    path: Path,
    map_path: Annotated[Path, typer.Option("--map", help="YAML: columns: {name: COL, ...}")],
    as_json: JsonOpt = False,
) -> None:
    """Match a department's list of people (CSV or Parquet) to the person index."""
    from fpcredit.link.match import match_list

    with _errors():
        store, vault = _linking()
        result = match_list(store, vault, path, map_path).as_json()
    if as_json:
        _print_json(result)
        return
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


@export_app.command("links")
def export_links_cmd(
    output: Annotated[Path, typer.Option("--out", help="CSV file to write.")],
) -> None:
    """Write every link: source, record_key, role, person_id, probability, pass."""
    from fpcredit.link.export import export_links

    with _errors():
        store, _vault = _linking()
        n = export_links(store, output)
    out.print(f"{n} links → {output}")


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
