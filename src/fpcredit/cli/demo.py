"""`fpcredit demo`: a synthetic province loaded (`service.load_province`), shown, its demo accounts
seeded (`service.seed_demo_accounts`) and printed once, then served."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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

if TYPE_CHECKING:
    from fpcredit.service import DemoAccounts


@app.command()
def demo(
    people: Annotated[int, typer.Option(help="Size of the synthetic population.", min=100)] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed of the synthetic province.")] = 1,
    port: Annotated[int, typer.Option(help="Port the API listens on (127.0.0.1).")] = 8000,
    serve_api: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the API when the demo is done.")
    ] = True,
) -> None:
    """Synthetic province → init → ingest → link → evaluate → demo accounts → serve the portal,
    the console and the API on 127.0.0.1."""
    from fpcredit.service import (
        DEMO_ACCOUNTS_FILE,
        load_province,
        open_ready_store,
        seed_demo_accounts,
    )
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
        say("demo.synthesised", people=people, seed=seed, feeds=feeds)
        with progress(True) as bar:
            loaded = load_province(settings, feeds, dt.date.today(), steps(bar))
        say("demo.store_ready", url=settings.url.split("?")[0])
        say("demo.ingested")
        print_ingest({"files": [r.as_json() for r in loaded.ingested]})
        if loaded.without_feed:
            out.print(text("mapping.no_feed", sources=", ".join(loaded.without_feed)))
        store = open_ready_store(settings)
        try:
            counts = store.status()
            report = measured(store, loaded.link.as_json(), feeds / "truth" / "records.csv")
        finally:
            store.engine.dispose()
        say("demo.store_counts", **{k: counts[k] for k in ("records", "facts", "quarantined")})
        say("demo.linked")
        print_link(report)
        evaluation = evaluation_report(loaded.evaluation, loaded.policy)
    say("demo.evaluated")
    print_evaluation(evaluation)
    say("demo.explain_hint", as_of=evaluation["as_of"])
    with errors():
        print_accounts(seed_demo_accounts(settings), settings.home / DEMO_ACCOUNTS_FILE)
    if serve_api:
        from fpcredit.web.server import serve

        say("demo.serving", port=port)
        with errors():
            serve(settings, "127.0.0.1", port, None, None, listening=listening)


# The catalogue's words for the demo's staff roles and for why each citizen was chosen.
_ROLES = {
    "county": "demo.role_county",
    "province": "demo.role_province",
    "auditor": "demo.role_auditor",
}
_CITIZENS = {
    "best_a": "demo.citizen_best_a",
    "best_below_a": "demo.citizen_best_below_a",
    "other_county": "demo.citizen_other_county",
}


def say(key: str, **values: Any) -> None:
    """One line of the demo, from the catalogue, in the run's language."""
    out.print(text(key, None, **values), highlight=False, soft_wrap=True)


def print_accounts(made: DemoAccounts, path: Path) -> None:
    """The demo's log-ins, shown this once (they are also in the 0600 file at `path`)."""
    say("demo.accounts_head", path=path)
    for staff in made.staff:
        role_label = text(_ROLES[staff.role])
        say("demo.staff_line", role_label=role_label, **vars(staff))
    say("demo.staff_rule")
    client = made.client
    say(
        "demo.client_line",
        department=client.department,
        client_id=client.client_id,
        client_secret=client.client_secret,
        purposes=", ".join(client.purposes),
        incentives=", ".join(client.incentives),
    )
    for citizen in made.citizens:
        values = {**vars(citizen), "total": f"{citizen.total:.2f}"}
        say("demo.citizen_line", kind_label=text(_CITIZENS[citizen.kind]), **values)
    say("demo.citizen_codes")
