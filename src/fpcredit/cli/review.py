"""`fpcredit review`: clerical review of doubtful links (人工复核), merge and unmerge."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from fpcredit.cli.common import (
    JsonOpt,
    PurposeOpt,
    RevealOpt,
    emit,
    errors,
    fail,
    open_linking,
    out,
    print_json,
    reading,
)

review_app = typer.Typer(help="Clerical review of doubtful links (人工复核), merge and unmerge.")
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
    from fpcredit.guard.keys.crypto import load_vault
    from fpcredit.operator_reads import review_list_read

    settings, store, read = reading("review_list", purpose)
    with errors():
        items = review_list_read(store, load_vault(settings.keys_dir), read, status_, limit)
    emit({"reviews": items}, as_json, _print_reviews)


def _print_reviews(report: dict[str, Any]) -> None:
    table = Table("id", "probability", "source", "record", "role", "name", "candidate person")
    for i in report["reviews"]:
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
    from fpcredit.guard.keys.crypto import load_vault
    from fpcredit.operator_reads import review_show_read

    settings, store, read = reading("review_show", purpose, reveal)
    with errors():
        detail = review_show_read(store, load_vault(settings.keys_dir), read, review_id)
    emit(detail, as_json, _print_review)


def _print_review(detail: dict[str, Any]) -> None:
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

    with errors():
        store, vault = open_linking()
        print_json(accept(store, vault, review_id, _by_default(by), reason))


@review_app.command("reject")
def review_reject(review_id: int, reason: ReasonOpt, by: ByOpt = "") -> None:
    """The record is not the candidate person; no relink will join them."""
    from fpcredit.link.review import reject

    with errors():
        store, vault = open_linking()
        print_json(reject(store, vault, review_id, _by_default(by), reason))


@review_app.command("merge")
def review_merge(keep: int, other: int, reason: ReasonOpt, by: ByOpt = "") -> None:
    """Two persons are one: OTHER's records join KEEP (OTHER's id then points to KEEP)."""
    from fpcredit.link.review import merge

    with errors():
        store, vault = open_linking()
        print_json(merge(store, vault, keep, other, _by_default(by), reason))


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
            fail(f"--record {r!r}: expected SOURCE:RECORD_KEY")
        pairs.append((source, key))
    with errors():
        store, vault = open_linking()
        print_json(unmerge(store, vault, person_id, pairs, _by_default(by), reason))
