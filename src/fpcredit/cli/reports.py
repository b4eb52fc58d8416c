"""The library's reports as tables, where more than one command shows them (ingest and demo, link
and demo, evaluate and demo)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from fpcredit.cli.common import out
from fpcredit.evaluate.policy_model import GROUPS
from fpcredit.messages import language, text
from fpcredit.standard.elements import load_standard

__all__ = ["evaluation_report", "measured", "print_evaluation", "print_ingest", "print_link"]


def print_ingest(report: dict[str, Any]) -> None:
    """Each file's reconciliation: rows = accepted + duplicates + quarantined."""
    files = report["files"]
    table = Table("file", "rows", "accepted", "duplicates", "quarantined", "flagged", "dropped")
    for r in files:
        table.add_row(
            Path(r["path"]).name,
            *(str(r[k]) for k in ("rows", "accepted", "duplicates", "quarantined", "flagged")),
            ", ".join(r["dropped_fields"]) or "-",
        )
    out.print(table)
    for r in files:
        ok = r["rows"] == r["accepted"] + r["duplicates"] + r["quarantined"]
        out.print(
            f"{Path(r['path']).name}: {r['rows']} = {r['accepted']} + {r['duplicates']}"
            f" + {r['quarantined']}",
            "✓" if ok else "✗ MISMATCH",
        )


def print_link(report: dict[str, Any]) -> None:
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


def measured(store: Any, report: dict[str, Any], truth: Path) -> dict[str, Any]:
    """A link report with its quality against the ground truth (`truth/records.csv`)."""
    from fpcredit.link.export import links_frame
    from fpcredit.link.measure import measure

    return {**report, "quality": measure(links_frame(store), truth)}


def evaluation_report(run: Any, loaded: Any) -> dict[str, Any]:
    """A stored evaluation as `evaluate --json` shows it: its dates, policy and summary."""
    return {
        "evaluation": run.id,
        "kind": run.kind,
        "as_of": run.as_of.isoformat(),
        "score_date": run.score_date.isoformat(),
        "grade_date": run.grade_date.isoformat(),
        "policy": {
            "id": loaded.policy.id,
            "version": loaded.policy.version,
            "sha256": loaded.sha256,
        },
        **run.summary,
    }


def print_evaluation(report: dict[str, Any]) -> None:
    if "changes" in report:
        _print_changes(report)
        return
    p = report["policy"]
    head = text(
        "evaluation.run_head", id=report["evaluation"], persons=report["persons"],
        as_of=report["as_of"], score_date=report["score_date"], grade_date=report["grade_date"],
        policy=p["id"], version=p["version"],
    )  # fmt: skip
    out.print(head)
    total = max(report["persons"], 1)
    grades = ", ".join(f"{g} {n} ({n / total:.1%})" for g, n in report["grades"].items())
    out.print(text("evaluation.run_grades", grades=grades))
    for by in ("group", "occupation"):
        table = Table(title=text(f"evaluation.rate_by_{by}"), title_justify="left")
        for col in (by, "persons", "a_rate", "ratio", "four_fifths"):
            table.add_column(text(f"evaluation.column_{col}"))
        for row in report[f"by_{by}"]:
            rate = next(v for k, v in row.items() if k.endswith("_rate"))
            ratio = row["ratio_to_best"]
            fair = text(
                "evaluation.four_fifths_yes" if row["four_fifths"] else "evaluation.four_fifths_no"
            )
            table.add_row(
                _group_label(by, row[by]), str(row["persons"]), f"{rate:.3f}",
                "—" if ratio is None else f"{ratio:.3f}", fair,
            )  # fmt: skip
        out.print(table)


def _group_label(by: str, value: Any) -> str:
    """A region type or occupation in the reader's words (the code beside an occupation)."""
    if by == "group":
        return text(f"evaluation.group_{value}") if value in GROUPS else str(value)
    if value is None or value == "unknown":
        return text("evaluation.occupation_unknown")
    meaning = load_standard().label("occupation", str(value), language())
    return f"{meaning} ({value})" if meaning != value else str(value)


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
