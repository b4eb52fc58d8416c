"""`fpcredit export`: links and scores as files (each person in them on the trail)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fpcredit.cli.common import (
    AsOfOpt,
    PolicyOpt,
    PurposeOpt,
    errors,
    out,
    parse_day,
    reading,
    warn_outside_home,
)

export_app = typer.Typer(help="Export data as files.")


@export_app.command("links")
def export_links_cmd(
    output: Annotated[Path, typer.Option("--out", help="CSV file to write.")],
    purpose: PurposeOpt = None,
) -> None:
    """Write every link: source, record_key, role, person_id, probability, pass (each linked
    person on the trail with --purpose)."""
    from fpcredit.operator_reads import export_links_read

    _, store, read = reading("export_links", purpose)
    with errors():
        n = export_links_read(store, read, output)
    out.print(f"{n} links → {output}")
    warn_outside_home(output)


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

    settings, store, read = reading("export_scores", purpose)
    with errors():
        loaded = load_policy(policy) if policy else None
        run = latest(store, settings.home, parse_day(as_of), loaded)
        n = export_scores_read(read, run, output)
    out.print(f"{n} persons (evaluation {run.id}) → {output}")
    warn_outside_home(output)
