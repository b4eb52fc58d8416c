"""`fpcredit policy`: credit policies (评价政策) — check a file; activate one and list the
activations (the operator's break-glass, on the trail)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from fpcredit.cli.common import JsonOpt, administration, emit, errors, load_settings, out

policy_app = typer.Typer(help="Credit policies (评价政策): check, activate, list.")


@policy_app.command("check")
def policy_check(
    path: Annotated[Path, typer.Argument(help="The policy YAML file.")],
    as_json: JsonOpt = False,
) -> None:
    """Validate a policy file; print its hash and the AHP derivation of its weights."""
    from fpcredit.evaluate.policy import load_policy
    from fpcredit.evaluate.report import derivation

    load_settings()
    with errors():
        report = derivation(load_policy(path))
    emit(report, as_json, _print_policy)


def _print_policy(report: dict[str, Any]) -> None:
    out.print(
        f"[green]ok[/green] {report['path']}: {report['id']} {report['version']}"
        f" (effective {report['effective']}), sha256 {report['sha256'][:16]}…"
    )
    out.print(
        f"{report['dimensions']} dimensions, {report['indicators']} indicators,"
        f" {report['incentives']} incentives; grades {' > '.join(report['grades'])}"
    )
    for block in report["ahp"]:
        table = Table(title=f"AHP · {block['block']}", title_justify="left")
        for col in ("member", "stored", "derived (0.6 expert + 0.4 public)"):
            table.add_column(col, justify="left" if col == "member" else "right")
        derived = block["derived"] or [None] * len(block["members"])
        for m, w, d in zip(block["members"], block["stored"], derived, strict=True):
            table.add_row(m, f"{w:.4f}", "—" if d is None else f"{d:.4f}")
        out.print(table)
        for who in ("expert", "public"):
            c = block.get(who)
            if c:
                out.print(
                    f"  {who}: n={c['n']} λmax={c['lambda_max']:.4f} CI={c['ci']:.4f}"
                    f" RI={c['ri']:.2f} CR={c['cr']:.4f}"
                )


@policy_app.command("activate")
def policy_activate(
    path: Annotated[Path, typer.Argument(help="The policy YAML file.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it is activated (kept with it).")],
    as_json: JsonOpt = False,
) -> None:
    """Validate a policy file (as `policy check`) and make it the active policy: evaluations,
    explanations and the service use it when no --policy is named. On the trail."""
    from fpcredit.errors import PolicyError
    from fpcredit.messages import text

    admin = administration()[1]
    with errors():
        try:
            data = path.read_bytes()
        except OSError as e:
            why = text("policy.unreadable", why=e.strerror)
            raise PolicyError(str(path), [(None, why)]) from None
        made = admin.activate_policy(data, reason, str(path))
    emit(
        made.as_json(),
        as_json,
        lambda r: out.print(text("policy.activated", **r), highlight=False, soft_wrap=True),
    )


@policy_app.command("list")
def policy_list(as_json: JsonOpt = False) -> None:
    """Every activation of a policy (who, when, why); the last one is in force."""
    admin = administration()[1]
    with errors():
        rows = [a.as_json() for a in admin.policies()]
    emit({"policies": rows}, as_json, _print_activations)


def _print_activations(report: dict[str, Any]) -> None:
    from fpcredit.messages import text

    rows = report["policies"]
    if not rows:
        out.print(text("policy.none_activated"))
        return
    table = Table("#", "policy", "version", "sha256", "by", "at (UTC)", "reason")
    for a in rows:
        table.add_row(
            str(a["number"]), a["policy_id"], a["version"], a["sha256"][:16] + "…",
            a["activated_by"], a["activated_at"], a["reason"],
        )  # fmt: skip
    out.print(table)
