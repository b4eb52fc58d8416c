"""The credit evaluation from the command line: evaluate, explain."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from fpcredit.cli.common import (
    AsOfOpt,
    JsonOpt,
    PolicyOpt,
    PurposeOpt,
    RevealOpt,
    app,
    chosen_policy,
    emit,
    errors,
    load_settings,
    out,
    parse_day,
    reading,
)
from fpcredit.cli.reports import evaluation_report, print_evaluation
from fpcredit.messages import text


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

    read = reading("evaluate_changes", purpose, reveal)[2] if changes else None
    with errors():
        settings = load_settings()
        day = parse_day(as_of)
        store = open_ready_store(settings)
        loaded = chosen_policy(store, policy)
        if read is not None:
            report = changes_read(read, changes_since_last(store, settings.home, loaded, day))
        else:
            report = evaluation_report(run_evaluate(store, settings.home, loaded, day), loaded)
    emit(report, as_json, print_evaluation)


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

    _, store, read = reading("explain", purpose, reveal)
    with errors():
        day = parse_day(as_of)
        report = explain_read(store, read, person_id, day, chosen_policy(store, policy))
    emit(report, as_json, _print_explanation)


def _print_explanation(r: dict[str, Any]) -> None:
    head = text(
        "evaluation.explain_head", person=r["person_id"], as_of=r["as_of"], total=r["total"],
        score_date=r["score_date"], grade=r["grade"], grade_date=r["grade_date"],
        points=r["points"], policy=r["policy"]["id"], version=r["policy"]["version"],
    )  # fmt: skip
    out.print(head)
    table = Table(title_justify="left")
    columns = ("indicator", "name", "status", "value", "points", "weight", "counted")
    for col in (*columns, "contribution"):
        table.add_column(text(f"evaluation.column_{col}"))
    for line in r["indicators"]:
        value = "" if line["value"] is None else f"{line['num']}/{line['den']}"
        if line["den"] == 1:
            value = str(line["num"])
        counted = "yes" if line["included"] else ("not_raising" if line["bonus"] else "")
        table.add_row(
            line["indicator"], line["name"], text(f"evaluation.status_{line['status']}"), value,
            "" if line["points"] is None else str(line["points"]), f"{line['weight']:.2f}",
            text(f"evaluation.counted_{counted}") if counted and line["status"] == "scored"
            else "",
            f"{line['contribution']:.2f}",
        )  # fmt: skip
    out.print(table)
    for d in r["dimensions"]:
        if d["included"]:
            weight = f"{d['weight']:.2f}"
            out.print(text("evaluation.dimension_line", name=d["name"], score=d["score"],
                           weight=weight))  # fmt: skip
        else:
            why = (
                text("evaluation.left_out_none_applies")
                if d["score"] is None
                else text("evaluation.left_out_not_raising")
            )
            out.print(text("evaluation.dimension_left_out", name=d["name"], why=why))
    nxt = r["to_raise_grade"]
    if nxt["already_best"]:
        out.print(text("evaluation.already_best"))
    elif nxt.get("reachable"):
        out.print(text("evaluation.to_reach", grade=nxt["grade"], total=nxt["total"]))
        for a in nxt["actions"]:
            out.print(f"  • {a['action']} [{a['indicator']}]")
    elif nxt.get("path"):
        out.print(nxt["path"]["text"])
    else:
        out.print(text("evaluation.no_path"))
