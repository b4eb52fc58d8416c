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
from typing import Annotated, Any, Literal

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
policy_app = typer.Typer(help="Credit policies (评价政策): check, activate, list.")
users_app = typer.Typer(help="Staff and administrator accounts, department clients (三员分立).")
keys_app = typer.Typer(help="Encryption keys under FPCREDIT_HOME/keys (R29).")
outbox_app = typer.Typer(help="Messages waiting in the outbox (SMS codes in development).")
audit_app = typer.Typer(help="The tamper-evident trail (R30).")
witness_app = typer.Typer(help="A witness that cosigns another log's checkpoints (C2SP).")
app.add_typer(quality_app, name="quality")
app.add_typer(policy_app, name="policy")
app.add_typer(standard_app, name="standard")
app.add_typer(review_app, name="review")
app.add_typer(export_app, name="export")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(outbox_app, name="outbox")
app.add_typer(audit_app, name="audit")
app.add_typer(witness_app, name="witness")

# Piped output has no terminal width; 120 columns keep tables readable in logs.
out = Console() if sys.stdout.isatty() else Console(width=120)
err = Console(stderr=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
PurposeOpt = Annotated[
    str | None,
    typer.Option(
        "--purpose",
        help="Why personal data is read: required, from the closed vocabulary (docs/security.md).",
    ),
]
RevealOpt = Annotated[
    bool,
    typer.Option("--reveal", help="Show identifiers and dates in clear (on the trail as such)."),
]


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


@app.callback()
def _each_command(ctx: typer.Context) -> None:
    """Every command that appended trail entries signs a checkpoint when it ends; the language
    its settings chose (`_settings`) is this run's only."""
    from fpcredit.guard.entries import forget_appended
    from fpcredit.messages import language, reset_language, set_language

    forget_appended()
    before = set_language(language())  # undone when the run ends, after its last message
    ctx.call_on_close(lambda: reset_language(before))
    ctx.call_on_close(_checkpoint_if_appended)


def _checkpoint_if_appended() -> None:
    """Sign (and hand to the witnesses) a checkpoint covering what this command appended; a
    refusal is printed, the command's own work stands."""
    from fpcredit.guard.entries import appended_here
    from fpcredit.guard.ledger import Ledger
    from fpcredit.guard.witness_client import clients, submit_all
    from fpcredit.service import open_ready_store

    if not appended_here():
        return
    settings = Settings()
    try:
        store = open_ready_store(settings)
        try:
            ledger = Ledger(store, settings)
            submit_all(clients(ledger, settings), ledger.checkpoint())
        finally:
            store.engine.dispose()
    except FpcreditError as e:
        err.print(f"[red]error:[/red] {e}", highlight=False, soft_wrap=True)


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
    source: Annotated[str, typer.Argument(help="health, police, civil, hrss, cdc, mch or credit.")],
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
    port: Annotated[int, typer.Option(help="Port the API listens on (127.0.0.1).")] = 8000,
    serve_api: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the API when the demo is done.")
    ] = True,
) -> None:
    """Synthetic province → init → ingest → link → evaluate → serve the API on 127.0.0.1."""
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
            for source in ("police", "civil", "health", "hrss", "cdc", "mch", "credit"):
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
        evaluation = _demo_evaluate(settings)
    out.print("5. evaluated everyone under the default policy (信用评价):")
    _print_evaluation(evaluation)
    out.print(
        f"explain anyone: fpcredit explain PERSON_ID --as-of {evaluation['as_of']}"
        f" · export: fpcredit export scores --as-of {evaluation['as_of']} --out scores.csv"
    )
    if serve_api:
        out.print(
            f"6. serving the API on http://127.0.0.1:{port}"
            " (OpenAPI: /openapi.json, health: /healthz)."
            " Accounts: fpcredit users add --role county --region CODE --username NAME"
            " (docs/security.md). Ctrl-C stops it."
        )
        with _errors():
            _serve(settings, "127.0.0.1", port, None, None)


def _demo_evaluate(settings: Settings) -> dict[str, Any]:
    from fpcredit.evaluate.run import evaluate as run_evaluate
    from fpcredit.service import open_ready_store

    store = open_ready_store(settings)
    loaded = _policy(store, None)
    with _progress(True) as bar:
        bar.add_task("evaluate", total=None)
        run = run_evaluate(store, settings.home, loaded, dt.date.today())
    return {"evaluation": run.id, **_run_header(run, loaded), **run.summary}


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
    purpose: PurposeOpt = None,
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows (0 = all).")] = 0,
    lang: Annotated[str | None, typer.Option(help="zh or en (default FPCREDIT_LANGUAGE).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every quarantined row and flagged field: source, record_key, field, rule, action
    (--purpose data_quality; the persons of flagged rows are on the trail)."""
    from fpcredit.operator_reads import quality_read

    settings, store, read = _reading("quality_list", purpose)
    with _errors():
        chosen = lang or settings.language
        issues = quality_read(store, read, source, limit or None, "en" if chosen == "en" else "zh")
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
    purpose: PurposeOpt = None,
    status_: Annotated[
        str, typer.Option("--status", help="pending | accepted | rejected | stale")
    ] = "pending",
    limit: Annotated[int, typer.Option("--limit", min=1)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The doubtful pairs waiting for a clerk (names masked; --purpose record_linkage)."""
    from fpcredit.guard.crypto import load_vault
    from fpcredit.operator_reads import review_list_read

    settings, store, read = _reading("review_list", purpose)
    with _errors():
        items = review_list_read(store, load_vault(settings.keys_dir), read, status_, limit)
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
def review_show(
    review_id: int, purpose: PurposeOpt = None, reveal: RevealOpt = False, as_json: JsonOpt = False
) -> None:
    """Both sides of a doubtful pair, field by field, with each field's evidence (names masked
    and birth dates as years unless --reveal)."""
    from fpcredit.guard.crypto import load_vault
    from fpcredit.operator_reads import review_show_read

    settings, store, read = _reading("review_show", purpose, reveal)
    with _errors():
        detail = review_show_read(store, load_vault(settings.keys_dir), read, review_id)
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
    purpose: PurposeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Match a department's list of people (CSV or Parquet) to the person index (each matched
    person on the trail with --purpose)."""
    from fpcredit.guard.crypto import load_vault
    from fpcredit.operator_reads import match_read

    settings, store, read = _reading("match", purpose)
    with _errors():
        result = match_read(store, load_vault(settings.keys_dir), read, path, map_path)
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
    purpose: PurposeOpt = None,
) -> None:
    """Write every link: source, record_key, role, person_id, probability, pass (each linked
    person on the trail with --purpose)."""
    from fpcredit.operator_reads import export_links_read

    _, store, read = _reading("export_links", purpose)
    with _errors():
        n = export_links_read(store, read, output)
    out.print(f"{n} links → {output}")
    _warn_outside_home(output)


def _warn_outside_home(output: Path) -> None:
    """Say so when an export of personal data lands outside the protected FPCREDIT_HOME."""
    from fpcredit.files import is_inside
    from fpcredit.messages import text

    home = _settings().home
    if not is_inside(output, home):
        warning = text("export.outside_home", path=output, home=home.resolve())
        err.print(warning, highlight=False, soft_wrap=True)


PolicyOpt = Annotated[
    Path | None,
    typer.Option(
        "--policy",
        help="Policy file (default: the active policy, `policy activate`; else the packaged one).",
    ),
]
AsOfOpt = Annotated[str, typer.Option("--as-of", help="Evaluation date, YYYY-MM-DD.")]


@policy_app.command("check")
def policy_check(
    path: Annotated[Path, typer.Argument(help="The policy YAML file.")],
    as_json: JsonOpt = False,
) -> None:
    """Validate a policy file; print its hash and the AHP derivation of its weights."""
    from fpcredit.evaluate.policy import load_policy
    from fpcredit.evaluate.report import derivation

    _settings()
    with _errors():
        report = derivation(load_policy(path))
    if as_json:
        _print_json(report)
        return
    _print_policy(report)


def _print_policy(report: dict[str, Any]) -> None:
    out.print(
        f"[green]ok[/green] {report['path']}: {report['id']} {report['version']}"
        f" (effective {report['effective']}), sha256 {report['sha256'][:16]}…"
    )
    out.print(
        f"{report['dimensions']} dimensions, {report['indicators']} indicators,"
        f" {report['incentives']} incentives; grades {' > '.join(report['grades'])}"
    )
    for block in report["ahp"]:
        table = Table(title=f"AHP · {block['block']}", title_justify="left")
        for col in ("member", "stored", "derived (0.6 expert + 0.4 public)"):
            table.add_column(col, justify="left" if col == "member" else "right")
        derived = block["derived"] or [None] * len(block["members"])
        for m, w, d in zip(block["members"], block["stored"], derived, strict=True):
            table.add_row(m, f"{w:.4f}", "—" if d is None else f"{d:.4f}")
        out.print(table)
        for who in ("expert", "public"):
            c = block.get(who)
            if c:
                out.print(
                    f"  {who}: n={c['n']} λmax={c['lambda_max']:.4f} CI={c['ci']:.4f}"
                    f" RI={c['ri']:.2f} CR={c['cr']:.4f}"
                )


@app.command()
def evaluate(
    as_of: AsOfOpt,
    policy: PolicyOpt = None,
    changes: Annotated[
        bool,
        typer.Option(
            "--changes-since-last",
            help="Re-evaluate with facts recorded since (late facts) and list who changed"
            " (a read of personal data: needs --purpose).",
        ),
    ] = False,
    purpose: PurposeOpt = None,
    reveal: RevealOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate every person as of a date: monthly score, quarterly grade (信用评价). With
    --changes-since-last, who changed and why: each on the trail, dates by month unless
    --reveal."""
    from fpcredit.evaluate.changes import changes_since_last
    from fpcredit.evaluate.run import evaluate as run_evaluate
    from fpcredit.operator_reads import changes_read
    from fpcredit.service import open_ready_store

    read = _reading("evaluate_changes", purpose, reveal)[2] if changes else None
    with _errors():
        settings = _settings()
        day = _parse_day(as_of)
        store = open_ready_store(settings)
        loaded = _policy(store, policy)
        if read is not None:
            report = changes_read(read, changes_since_last(store, settings.home, loaded, day))
        else:
            run = run_evaluate(store, settings.home, loaded, day)
            report = {"evaluation": run.id, **_run_header(run, loaded), **run.summary}
    if as_json:
        _print_json(report)
        return
    _print_evaluation(report)


def _policy(store: Any, path: Path | None) -> Any:
    """The named policy file, or the active policy (evaluate/active.py)."""
    from fpcredit.evaluate.active import active_policy
    from fpcredit.evaluate.policy import load_policy

    return load_policy(path) if path else active_policy(store)


def _run_header(run: Any, loaded: Any) -> dict[str, Any]:
    return {
        "kind": run.kind,
        "as_of": run.as_of.isoformat(),
        "score_date": run.score_date.isoformat(),
        "grade_date": run.grade_date.isoformat(),
        "policy": {
            "id": loaded.policy.id,
            "version": loaded.policy.version,
            "sha256": loaded.sha256,
        },
    }


def _print_evaluation(report: dict[str, Any]) -> None:
    if "changes" in report:
        _print_changes(report)
        return
    p = report["policy"]
    out.print(
        f"evaluation {report['evaluation']}: {report['persons']} persons as of {report['as_of']}"
        f" (score {report['score_date']}, grade {report['grade_date']}),"
        f" policy {p['id']} {p['version']}"
    )
    total = max(report["persons"], 1)
    out.print(
        "grades: " + ", ".join(f"{g} {n} ({n / total:.1%})" for g, n in report["grades"].items())
    )
    for by in ("group", "occupation"):
        table = Table(title=f"A-rate by {by}", title_justify="left")
        for col in (by, "persons", "A-rate", "ratio to best", "≥ 4/5"):
            table.add_column(col)
        for row in report[f"by_{by}"]:
            rate = next(v for k, v in row.items() if k.endswith("_rate"))
            ratio = row["ratio_to_best"]
            table.add_row(
                str(row[by]), str(row["persons"]), f"{rate:.3f}",
                "—" if ratio is None else f"{ratio:.3f}", "yes" if row["four_fifths"] else "NO",
            )  # fmt: skip
        out.print(table)


def _print_changes(report: dict[str, Any]) -> None:
    out.print(
        f"as of {report['as_of']}: evaluation {report['previous']} (known at"
        f" {report['previous_known_at']}) → {report['evaluation']} (known at {report['known_at']})"
    )
    out.print(f"{len(report['changes'])} persons changed")
    for c in report["changes"][:50]:
        out.print(
            f"  person {c['person_id']}: {c['before']['total']} {c['before']['grade']}"
            f" → {c['after']['total']} {c['after']['grade']}; late facts:"
        )
        for f in c["late_facts"]:
            out.print(
                f"    {f['source']} {f['kind']} {f['record_key']} event {f['event_date']}"
                f" recorded {f['recorded_at']}"
            )


@app.command()
def explain(
    person_id: Annotated[int, typer.Argument(help="Person id (from the person index).")],
    as_of: AsOfOpt,
    purpose: PurposeOpt = None,
    policy: PolicyOpt = None,
    reveal: RevealOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Explain one person's credit line by line, and what would raise the grade (dates about
    the person by month unless --reveal)."""
    from fpcredit.operator_reads import explain_read

    _, store, read = _reading("explain", purpose, reveal)
    with _errors():
        day = _parse_day(as_of)
        report = explain_read(store, read, person_id, day, _policy(store, policy))
    if as_json:
        _print_json(report)
        return
    _print_explanation(report)


def _print_explanation(r: dict[str, Any]) -> None:
    out.print(
        f"person {r['person_id']} as of {r['as_of']}: total {r['total']} (score date"
        f" {r['score_date']}), grade {r['grade']} (grade date {r['grade_date']}),"
        f" points {r['points']}; policy {r['policy']['id']} {r['policy']['version']}"
    )
    table = Table(title_justify="left")
    for col in ("indicator", "name", "status", "value", "points", "weight", "counted", "contrib."):
        table.add_column(col)
    for line in r["indicators"]:
        value = "" if line["value"] is None else f"{line['num']}/{line['den']}"
        if line["den"] == 1:
            value = str(line["num"])
        counted = "yes" if line["included"] else ("not raising" if line["bonus"] else "")
        table.add_row(
            line["indicator"], line["name"], line["status"], value,
            "" if line["points"] is None else str(line["points"]), f"{line['weight']:.2f}",
            counted if line["status"] == "scored" else "", f"{line['contribution']:.2f}",
        )  # fmt: skip
    out.print(table)
    for d in r["dimensions"]:
        out.print(f"  {d['name']}: {d['score'] or '—'} (weight {d['weight']:.2f})")
    nxt = r["to_raise_grade"]
    if nxt["already_best"]:
        out.print("already the best grade")
    elif not nxt.get("reachable"):
        out.print("no achievable action raises the grade this quarter")
    else:
        out.print(f"to reach {nxt['grade']} ({nxt['total']}):")
        for a in nxt["actions"]:
            out.print(f"  • {a['action']} [{a['indicator']}]")


@export_app.command("scores")
def export_scores_cmd(
    as_of: AsOfOpt,
    output: Annotated[Path, typer.Option("--out", help="CSV file, or .parquet for Parquet.")],
    purpose: PurposeOpt = None,
    policy: PolicyOpt = None,
) -> None:
    """Write the stored evaluation as of a date, one row per person (every person on the
    trail with --purpose)."""
    from fpcredit.evaluate.policy import load_policy
    from fpcredit.evaluate.run import latest
    from fpcredit.operator_reads import export_scores_read

    settings, store, read = _reading("export_scores", purpose)
    with _errors():
        loaded = load_policy(policy) if policy else None
        run = latest(store, settings.home, _parse_day(as_of), loaded)
        n = export_scores_read(read, run, output)
    out.print(f"{n} persons (evaluation {run.id}) → {output}")
    _warn_outside_home(output)


def _accounts() -> tuple[Settings, Any]:
    from fpcredit.service import open_ready_store

    settings = _settings()
    with _errors():  # an uninitialised home is the user's to fix: one line, not "internal error"
        return settings, open_ready_store(settings)


def _reading(action: str, purpose: str | None, reveal: bool = False) -> tuple[Settings, Any, Any]:
    """Settings, store and the trail entries of a command that reads personal data; a missing,
    unknown or refused --purpose stops it here with one line (and is on the trail)."""
    from fpcredit.errors import AuthError
    from fpcredit.guard.ledger import Ledger
    from fpcredit.guard.operator import OperatorRead, command_purpose

    settings, store = _accounts()
    ledger = Ledger(store, settings)
    try:
        chosen = command_purpose(action, purpose)
    except AuthError as e:
        with _errors():
            OperatorRead.refused(ledger, action)
        _fail(str(e))
        raise  # unreachable: _fail exits
    return settings, store, OperatorRead(ledger, action, chosen, reveal)


def _administration() -> tuple[Settings, Any]:
    """Settings and the operator's administration (break-glass: every action on the trail)."""
    from fpcredit.guard.admin import Actor, Administration, ledger_trail
    from fpcredit.guard.ledger import Ledger

    settings, store = _accounts()
    trail = ledger_trail(Ledger(store, settings))
    return settings, Administration(store, settings, Actor.operator(), trail)


@outbox_app.command("list")
def outbox_list(
    purpose: PurposeOpt = None, reveal: RevealOpt = False, as_json: JsonOpt = False
) -> None:
    """Messages in the outbox (development SMS channel): recipients masked, login codes hidden
    unless --reveal (--purpose service_delivery; each citizen on the trail)."""
    from fpcredit.guard.crypto import load_vault
    from fpcredit.operator_reads import outbox_read

    settings, store, read = _reading("outbox_list", purpose, reveal)
    with _errors():
        messages = outbox_read(store, load_vault(settings.keys_dir), read)
    if as_json:
        _print_json(messages)
        return
    for m in messages:
        out.print(f"#{m['id']} {m.get('created_at', '')} → {m['recipient']}: {m['text']}")


ProfileOpt = Annotated[
    Literal["default", "gm"] | None,
    typer.Option(
        "--profile",
        help="Move the store to this crypto profile (gm: SM4-GCM, HMAC-SM3); default: keep.",
    ),
]


@keys_app.command("rotate")
def keys_rotate(profile: ProfileOpt = None, as_json: JsonOpt = False) -> None:
    """New data key; every stored identifier re-encrypted online; old keys retired when unused.

    With --profile, the store moves to that crypto profile: the new key is of its algorithm and
    every blind index is recomputed under its index algorithm, online.
    """
    from fpcredit.messages import text

    settings, admin = _administration()
    with _errors(), _progress(not as_json) as bar:
        task = bar.add_task("keys", total=None)
        report = admin.rotate_keys(lambda m: bar.update(task, description=m), profile=profile)
    if as_json:
        _print_json(report)
        return
    rows = sum(report["tables"].values())
    tables = ", ".join(f"{k} {v}" for k, v in report["tables"].items() if v)
    out.print(text("keys.rotate_active", kid=report["key_id"], rows=rows, tables=tables))
    if report["retired"]:
        out.print(text("keys.rotate_retired", kids=", ".join(report["retired"])))
    if report["kept"]:
        out.print(text("keys.rotate_still_used", kept=report["kept"]))
    _profile_note(settings)


def _profile_note(settings: Settings) -> None:
    """Say so when FPCREDIT_CRYPTO names another profile than the store's keyring holds."""
    from fpcredit.guard.crypto import read_keyring
    from fpcredit.messages import text

    ring = read_keyring(settings.keys_dir)
    if ring.profile is not None and ring.profile != settings.crypto and not ring.index_next:
        err.print(text("keys.profile_differs", setting=settings.crypto, profile=ring.profile))


@keys_app.command("status")
def keys_status(as_json: JsonOpt = False) -> None:
    """The store's crypto profile: active data key and its algorithm, blind-index algorithm."""
    from fpcredit.guard.crypto import read_keyring
    from fpcredit.messages import text

    settings = _settings()
    with _errors():
        ring = read_keyring(settings.keys_dir)
    data = {
        "profile": ring.profile,
        "setting": settings.crypto,
        "active": ring.active,
        "algorithm": ring.algorithm(ring.active),
        "keys": {kid: ring.algorithm(kid) for kid in ring.keys},
        "index": ring.index,
        "index_next": ring.index_next,
        "rotating": "rotation" in ring.extra,
    }
    if as_json:
        _print_json(data)
        return
    out.print(text("keys.status", profile=ring.profile, kid=ring.active,
                   data=data["algorithm"], index=ring.index))  # fmt: skip
    if ring.index_next:
        out.print(text("keys.status_moving", old=ring.index, new=ring.index_next))
    older = [f"{k} ({ring.algorithm(k)})" for k in ring.keys if k != ring.active]
    if older:
        out.print(text("keys.status_readable", kids=", ".join(older)))
    _profile_note(settings)


@audit_app.command("verify")
def audit_verify(
    verifier_key: Annotated[
        str | None, typer.Option(help="Pin the checkpoint key (name+hash+key); default: ours.")
    ] = None,
    witness: Annotated[
        str | None,
        typer.Option(help="Also hold the trail against this witness's latest cosigned checkpoint."),
    ] = None,
    witness_key: Annotated[
        str | None,
        typer.Option(help="The witness's verifier key; default: its entry in FPCREDIT_WITNESSES."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Recompute the trail from the tables, the checkpoint file and a witness; exit 1 naming the
    first bad entry if it fails."""
    from fpcredit.guard.verify import verify

    settings, store = _accounts()
    with _errors():
        report = verify(
            store, settings, verifier_key=verifier_key, witness=witness, witness_key=witness_key
        )
    if as_json:
        _print_json(report)
    elif report["ok"]:
        out.print(
            f"ok: {report['entries']} entries, covering {', '.join(report['covered_tables'])}"
        )
    else:
        err.print(
            f"[red]trail broken[/red] at entry {report['first_bad']} of {report['entries']}: "
            f"{report['reason']}",
            highlight=False,
            soft_wrap=True,
        )
    if not report["ok"]:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign a checkpoint of the trail now, hand it to the witnesses and print it (C2SP signed
    note)."""
    from fpcredit.guard.ledger import Ledger
    from fpcredit.guard.witness_client import clients, submit_all

    settings, store = _accounts()
    with _errors():
        ledger = Ledger(store, settings)
        note = ledger.checkpoint()
        submit_all(clients(ledger, settings), note)
    sys.stdout.write(note)
    err.print(f"verifier key: {ledger.verifier_key()}", highlight=False, soft_wrap=True)


LogOpt = Annotated[
    list[str],
    typer.Option("--log", help="A log to witness: ORIGIN=VERIFIER_KEY (repeat for more)."),
]
WitnessNameOpt = Annotated[
    str, typer.Option(help="The witness's key name, used only when its key is created.")
]


@witness_app.command("serve")
def witness_serve(
    log: LogOpt,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8100,
    name: WitnessNameOpt = "fpcredit-witness",
) -> None:
    """Run a witness (C2SP tlog-witness): POST /add-checkpoint, GET /latest-checkpoint."""
    import uvicorn

    from fpcredit.guard.redact import configure_logging
    from fpcredit.guard.witness import Witness
    from fpcredit.messages import text
    from fpcredit.web.witness import create_witness_app

    settings = _settings()
    with _errors():
        witness = Witness.open(settings.home, log, name)
    configure_logging(json=True, level=logging.INFO)
    url = f"http://{host}:{port}"
    err.print(
        text("witness.listening", name=witness.signer.name, url=url, vkey=witness.verifier_key()),
        highlight=False,
        soft_wrap=True,
    )
    uvicorn.run(
        create_witness_app(witness),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        server_header=False,
    )


@witness_app.command("key")
def witness_key_command(name: WitnessNameOpt = "fpcredit-witness") -> None:
    """Print this home's witness verifier key (creating the key on first use), for the log's
    FPCREDIT_WITNESSES."""
    from fpcredit.files import read_or_create
    from fpcredit.guard.cosignature import CosignatureSigner
    from fpcredit.guard.witness import KEY_FILE

    settings = _settings()
    with _errors():
        path = settings.keys_dir / KEY_FILE
        raw = read_or_create(path, lambda: CosignatureSigner.generate(name).key_string().encode())
        signer = CosignatureSigner.from_key_string(raw.decode())
    sys.stdout.write(signer.verifier.key_string() + "\n")


HostOpt = Annotated[str, typer.Option(help="Address to listen on.")]
PortOpt = Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)]


@app.command()
def serve(
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
    tls_cert: Annotated[Path | None, typer.Option(help="TLS certificate (PEM).")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="TLS private key (PEM).")] = None,
    plain_http: Annotated[
        bool,
        typer.Option(help="Allow plain HTTP on a non-loopback address (behind a TLS proxy)."),
    ] = False,
) -> None:
    """Run the HTTP API (OpenAPI at /openapi.json, /healthz, /metrics, routes under /v1/)."""
    settings = _settings()
    with _errors():
        _serve(settings, host, port, tls_cert, tls_key, plain_http)


def _serve(
    settings: Settings,
    host: str,
    port: int,
    tls_cert: Path | None,
    tls_key: Path | None,
    plain_http: bool = False,
) -> None:
    import ipaddress

    from fpcredit.errors import ConfigError
    from fpcredit.guard.redact import configure_logging
    from fpcredit.messages import text
    from fpcredit.web.app import create_app

    if bool(tls_cert) != bool(tls_key):
        raise ConfigError(text("serve.tls_pair"))
    loopback = host == "localhost" or (_is_ip(host) and ipaddress.ip_address(host).is_loopback)
    if not tls_cert and not loopback and not plain_http:
        raise ConfigError(text("serve.plain_refused", host=host))
    # Log lines are redacted, formatted and written by a thread of their own, off the event loop.
    logs = configure_logging(json=True, level=logging.INFO, queued=True)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # not one line per health check
    web = create_app(settings)
    _tune_gc()
    scheme = "https" if tls_cert else "http"
    err.print(text("serve.listening", url=f"{scheme}://{host}:{port}"), highlight=False)
    try:
        _run(web, settings, host, port, tls_cert, tls_key)
    finally:
        logs.close()  # the logging thread writes what is queued


def _run(
    web: Any, settings: Settings, host: str, port: int, tls_cert: Path | None, tls_key: Path | None
) -> None:
    import uvicorn

    uvicorn.run(
        web,
        host=host,
        port=port,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        log_config=None,  # our redacting JSON logging, not uvicorn's own
        access_log=False,  # requests are logged by the app, by route template
        server_header=False,
        # The C event loop and HTTP parser: the pure-Python pair served a bare endpoint at
        # 0.58× their rate here (docs/security.md, "Measured").
        loop="uvloop",
        http="httptools",
        # X-Forwarded-For is believed only from the configured proxies (by default from none:
        # uvicorn's own default trusts loopback, so anyone there could pick their address).
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies) or None,
    )


def _tune_gc() -> None:
    """Keep the cyclic garbage collector off the objects that live as long as the server.

    Everything built so far (modules, the app, its models and services) is moved out of the
    collector's reach (`gc.freeze`), and young collections run every 10,000 allocations instead
    of 700. A lookup that waits for its trail entry keeps its request alive across a commit, and
    the older-generation collections this caused scanned the whole heap: 15–20 % of the
    server's CPU per lookup (benchmarks/api_rate.py; docs/security.md, "Measured").
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def main() -> None:
    """Console-script entry point: no traceback ever reaches the user."""
    from fpcredit.guard.redact import configure_logging

    configure_logging(json=False, level=logging.WARNING)
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


# The administration commands (users, policy activation) live beside, registered on import.
import fpcredit.cli_admin  # noqa: E402, F401
