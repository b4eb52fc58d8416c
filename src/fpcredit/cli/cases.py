"""`fpcredit cases`: raise the overdue alerts of cases; count working days on the calendar."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from fpcredit.cli.common import JsonOpt, accounts, emit, errors, out, parse_day
from fpcredit.messages import text

cases_app = typer.Typer(help="Cases (异议、信用修复、更正、人工复核): overdue alerts, deadlines.")


@cases_app.command("overdue")
def cases_overdue(as_json: JsonOpt = False) -> None:
    """Alert once on every open case past its due date (a step and a notification to the
    providing department); safe to run as often as wanted, e.g. from cron every hour."""
    from fpcredit.cases.service import Cases
    from fpcredit.evaluate.active import active_policy
    from fpcredit.guard.trail.log import Trail

    settings, store = accounts()
    with errors():
        raised = Cases(Trail(store, settings), lambda: active_policy(store).policy).overdue()
    emit({"alerted": raised}, as_json, _print_alerted)


def _print_alerted(report: dict[str, Any]) -> None:
    out.print(text("case.overdue_raised", count=report["alerted"]))


@cases_app.command("due")
def cases_due(
    start: Annotated[str, typer.Argument(help="The day a case opens, YYYY-MM-DD.")],
    days: Annotated[int, typer.Argument(min=0, max=250, help="Working days of the deadline.")],
    as_json: JsonOpt = False,
) -> None:
    """The due date of a deadline of DAYS working days from START (holidays and 调休 counted)."""
    from fpcredit.cases.calendar import default_calendar

    day = parse_day(start)
    with errors():
        due = default_calendar().add_working_days(day, days)
    emit({"start": day.isoformat(), "days": days, "due_on": due.isoformat()}, as_json,
         lambda r: out.print(r["due_on"]))  # fmt: skip
