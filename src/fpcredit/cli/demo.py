"""`fpcredit demo`: a synthetic province loaded (`service.load_province`), shown, then served."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from fpcredit.cli.common import app, errors, listening, load_settings, out, progress, steps
from fpcredit.cli.reports import (
    evaluation_report,
    measured,
    print_evaluation,
    print_ingest,
    print_link,
)
from fpcredit.messages import text


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
    from fpcredit.service import load_province, open_ready_store
    from fpcredit.synth import generate

    settings = load_settings()
    feeds = settings.home / "demo" / "feeds"
    with errors():
        with progress(True) as bar:
            task = bar.add_task("synth", total=None)
            generate(
                people=people,
                seed=seed,
                out=feeds,
                progress=lambda st, d, t: bar.update(task, description=st, completed=d, total=t),
            )
        out.print(f"1. synthetic province: {people} people (seed {seed}) → {feeds}")
        with progress(True) as bar:
            loaded = load_province(settings, feeds, dt.date.today(), steps(bar))
        out.print(f"2. store ready: {settings.url.split('?')[0]}")
        out.print("3. ingested every department feed:")
        print_ingest({"files": [r.as_json() for r in loaded.ingested]})
        if loaded.without_feed:
            out.print(text("mapping.no_feed", sources=", ".join(loaded.without_feed)))
        store = open_ready_store(settings)
        try:
            counts = store.status()
            report = measured(store, loaded.link.as_json(), feeds / "truth" / "records.csv")
        finally:
            store.engine.dispose()
        out.print(
            f"store: {counts['records']} records, {counts['facts']} facts, "
            f"{counts['quarantined']} quarantined · see `fpcredit quality list`"
        )
        out.print("4. linked every record to one person (一人一档):")
        print_link(report)
        evaluation = evaluation_report(loaded.evaluation, loaded.policy)
    out.print("5. evaluated everyone under the default policy (信用评价):")
    print_evaluation(evaluation)
    out.print(
        f"explain anyone: fpcredit explain PERSON_ID --as-of {evaluation['as_of']}"
        f" · export: fpcredit export scores --as-of {evaluation['as_of']} --out scores.csv"
    )
    if serve_api:
        from fpcredit.web.server import serve

        out.print(
            f"6. serving the API on http://127.0.0.1:{port}"
            " (OpenAPI: /openapi.json, health: /healthz)."
            " Accounts: fpcredit users add --role county --region CODE --username NAME"
            " (docs/security.md). Ctrl-C stops it."
        )
        with errors():
            serve(settings, "127.0.0.1", port, None, None, listening=listening)
