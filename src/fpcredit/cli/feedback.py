"""`fpcredit feedback report`: satisfaction and complaints for the governance reports (R18)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from fpcredit.cli.common import JsonOpt, accounts, emit, errors, out, parse_day

feedback_app = typer.Typer(help="Citizens' feedback: satisfaction and complaints (R18).")


@feedback_app.command("report")
def feedback_report_cmd(
    since: Annotated[
        str | None, typer.Option("--since", help="First day counted, YYYY-MM-DD.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Last day counted, YYYY-MM-DD.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Satisfaction rate (share of 4–5) by incentive or case and region type, and in all,
    against the seed's 85 % target; complaints are counted, their text is never shown."""
    from fpcredit.subjects.feedback import feedback_report

    _, store = accounts()
    first = parse_day(since) if since else None
    last = parse_day(until) if until else None
    with errors():
        report = feedback_report(store, since=first, until=last)
    emit(report, as_json, _print_report)


_ABOUT = {"incentive": "subject.about_incentive", "case": "subject.about_case"}


def _percent(rate: str | None) -> str:
    return "—" if rate is None else f"{float(rate) * 100:.1f} %"


def _print_report(report: dict[str, Any]) -> None:
    from fpcredit.messages import text

    out.print(text("subject.report_title"), highlight=False)
    if not report["count"]:
        out.print(text("subject.report_empty"), highlight=False)
        return
    for line in report["lines"]:
        region = line["region_type"] or text("subject.region_unknown")
        out.print(
            text("subject.report_line", about=text(_ABOUT[line["about"]]),
                 ref=line["ref"], region_type=region, count=line["count"],
                 satisfied=line["satisfied"], rate=_percent(line["rate"]),
                 complaints=line["complaints"]),
            highlight=False, soft_wrap=True,
        )  # fmt: skip
    out.print(
        text("subject.report_total", count=report["count"], rate=_percent(report["rate"]),
             target=_percent(report["target"]), complaints=report["complaints"]),
        highlight=False,
    )  # fmt: skip
