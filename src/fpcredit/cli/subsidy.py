"""`fpcredit subsidy roll`: who is paid for an incentive in a period, and how much (R25)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from fpcredit.cli.common import (
    JsonOpt,
    PurposeOpt,
    emit,
    errors,
    fail,
    out,
    reading,
    warn_outside_home,
)

subsidy_app = typer.Typer(help="Subsidy rolls drawn from the official evaluation (R25).")


def _period(raw: str) -> dt.date:
    from fpcredit.evaluate.cuts import month_end
    from fpcredit.messages import text

    try:
        if len(raw) == 7:
            return month_end(dt.date.fromisoformat(f"{raw}-01"))
        return dt.date.fromisoformat(raw)
    except ValueError:
        fail(text("subsidy.period_bad", value=raw))


@subsidy_app.command("roll")
def subsidy_roll_cmd(
    period: Annotated[str, typer.Option("--period", help="Evaluation date (or YYYY-MM).")],
    incentive: Annotated[str, typer.Option("--incentive", help="Incentive id (catalogue).")],
    budget: Annotated[str, typer.Option("--budget", help="Budget in yuan, e.g. 150000.00.")],
    output: Annotated[Path, typer.Option("--out", help="CSV file, or .parquet for Parquet.")],
    amount: Annotated[
        str | None,
        typer.Option("--amount-per-person", help="Yuan per person (default: the catalogue's)."),
    ] = None,
    purpose: PurposeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Draw the roll: qualified persons ranked by grade, total, points and a keyed hash, paid
    while the budget lasts; open objections held (docs/services.md). Each person on the trail
    (--purpose service_delivery), the roll's row and file hash too."""
    from fpcredit.evaluate.active import active_policy
    from fpcredit.evaluate.run import latest
    from fpcredit.guard.keys.crypto import load_vault
    from fpcredit.incentives.catalogue import find
    from fpcredit.incentives.subsidy import SubsidyError, build_roll, parse_yuan, write_roll
    from fpcredit.messages import text

    day = _period(period)
    settings, store, read = reading("subsidy_roll", purpose)
    with errors():
        policy = active_policy(store)
        chosen = find(policy, incentive)
        if chosen is None:
            known = ", ".join(i.id for i in policy.policy.incentives)
            raise SubsidyError(text("subsidy.incentive_unknown", incentive=incentive, known=known))
        money = parse_yuan(budget, "--budget")
        each = parse_yuan(amount, "--amount-per-person", positive=True) if amount else None
        run = latest(store, settings.home, day)
        roll = build_roll(store, load_vault(settings.keys_dir), policy, run, chosen, money, each)
        read.record(x.candidate.person_id for x in roll.lines)
        digest = write_roll(store, roll, output, actor=read.actor, keys_dir=settings.keys_dir)
    report = {**roll.summary(), "path": str(output), "sha256": digest}
    emit(report, as_json, lambda r: out.print(text("subsidy.written", **r), highlight=False))
    warn_outside_home(output)
