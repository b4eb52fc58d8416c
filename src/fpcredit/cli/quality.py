"""`fpcredit quality`: quarantined rows and flagged fields."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from fpcredit.cli.common import JsonOpt, PurposeOpt, emit, errors, out, reading

quality_app = typer.Typer(help="Data quality: quarantined rows and flagged fields.")


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

    settings, store, read = reading("quality_list", purpose)
    with errors():
        chosen = lang or settings.language
        issues = quality_read(store, read, source, limit or None, "en" if chosen == "en" else "zh")
    emit(issues, as_json, _print_issues)


def _print_issues(issues: list[dict[str, Any]]) -> None:
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
