"""What every command shares: the root app, the consoles, the options, one-line errors, JSON or a
table (`emit`), and the settings, store and trail a command opens."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from fpcredit.config import Settings
from fpcredit.errors import FpcreditError

__all__ = [
    "AsOfOpt",
    "JsonOpt",
    "PolicyOpt",
    "PurposeOpt",
    "RevealOpt",
    "accounts",
    "administration",
    "app",
    "chosen_policy",
    "emit",
    "err",
    "errors",
    "fail",
    "listening",
    "load_settings",
    "open_linking",
    "out",
    "parse_day",
    "print_json",
    "progress",
    "reading",
    "steps",
    "warn_outside_home",
]

app = typer.Typer(
    help="fpcredit — 计生信用信息平台 (family-planning credit information platform)",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Piped output has no terminal width; 120 columns keep tables readable in logs.
out = Console() if sys.stdout.isatty() else Console(width=120)
err = Console(stderr=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
PurposeOpt = Annotated[
    str | None,
    typer.Option(
        "--purpose",
        help="Why personal data is read: required, from the closed vocabulary (docs/security.md).",
    ),
]
RevealOpt = Annotated[
    bool,
    typer.Option("--reveal", help="Show identifiers and dates in clear (on the trail as such)."),
]
PolicyOpt = Annotated[
    Path | None,
    typer.Option(
        "--policy",
        help="Policy file (default: the active policy, `policy activate`; else the packaged one).",
    ),
]
AsOfOpt = Annotated[str, typer.Option("--as-of", help="Evaluation date, YYYY-MM-DD.")]

R = TypeVar("R")


def fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


@contextmanager
def errors() -> Iterator[None]:
    """Turn library errors into a one-line reason on stderr and exit code 1."""
    try:
        yield
    except FpcreditError as e:
        fail(str(e))


def progress(enabled: bool) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not enabled or not err.is_terminal,
        transient=True,
    )


def steps(bar: Progress) -> Callable[[str, int | None, int | None], None]:
    """A progress callback `(step, done, total)` drawn as one bar (a spinner while the total is
    unknown); a step with another total starts the bar afresh."""
    task: TaskID | None = None
    shown: int | None = None

    def step(description: str, done: int | None, total: int | None) -> None:
        nonlocal task, shown
        if task is None or total != shown:
            if task is not None:
                bar.remove_task(task)
            task = bar.add_task(description, total=total, completed=done or 0)
            shown = total
        else:
            bar.update(task, description=description, completed=done)

    return step


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def emit(report: R, as_json: bool, printer: Callable[[R], None]) -> None:
    """A command's answer: the report as JSON with --json, else as `printer` shows it."""
    if as_json:
        print_json(report)
    else:
        printer(report)


def load_settings() -> Settings:
    """This run's settings; their language is the run's (undone when the run ends)."""
    from fpcredit.messages import set_language

    chosen = Settings()
    set_language(chosen.language)
    return chosen


def parse_day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        fail(f"not a date (YYYY-MM-DD): {text!r}")


def chosen_policy(store: Any, path: Path | None) -> Any:
    """The named policy file, or the active policy (evaluate/active.py)."""
    from fpcredit.evaluate.active import active_policy
    from fpcredit.evaluate.policy import load_policy

    return load_policy(path) if path else active_policy(store)


def open_linking() -> tuple[Any, Any]:
    """The store and the vault of a command that links."""
    from fpcredit.guard.keys.crypto import load_vault
    from fpcredit.service import open_ready_store

    chosen = load_settings()
    return open_ready_store(chosen), load_vault(chosen.keys_dir)


def accounts() -> tuple[Settings, Any]:
    from fpcredit.service import open_ready_store

    chosen = load_settings()
    with errors():  # an uninitialised home is the user's to fix: one line, not "internal error"
        return chosen, open_ready_store(chosen)


def reading(action: str, purpose: str | None, reveal: bool = False) -> tuple[Settings, Any, Any]:
    """Settings, store and the trail entries of a command that reads personal data; a missing,
    unknown or refused --purpose stops it here with one line (and is on the trail)."""
    from fpcredit.errors import AuthError
    from fpcredit.guard.auth.operator import OperatorRead, command_purpose
    from fpcredit.guard.trail.log import Trail

    chosen, store = accounts()
    trail = Trail(store, chosen)
    try:
        named = command_purpose(action, purpose)
    except AuthError as e:
        with errors():
            OperatorRead.refused(trail, action)
        fail(str(e))
    return chosen, store, OperatorRead(trail, action, named, reveal)


def administration() -> tuple[Settings, Any]:
    """Settings and the operator's administration (break-glass: every action on the trail)."""
    from fpcredit.guard.auth.admin import Actor, Administration, appending_to
    from fpcredit.guard.trail.log import Trail

    chosen, store = accounts()
    append = appending_to(Trail(store, chosen))
    return chosen, Administration(store, chosen, Actor.operator(), append)


def listening(url: str) -> None:
    """Say on stderr where a server listens (`web/server.py` calls this back)."""
    from fpcredit.messages import text

    err.print(text("serve.listening", url=url), highlight=False)


def warn_outside_home(output: Path) -> None:
    """Say so when an export of personal data lands outside the protected FPCREDIT_HOME."""
    from fpcredit.files import is_inside
    from fpcredit.messages import text

    home = load_settings().home
    if not is_inside(output, home):
        warning = text("export.outside_home", path=output, home=home.resolve())
        err.print(warning, highlight=False, soft_wrap=True)


@app.callback()
def _each_command(ctx: typer.Context) -> None:
    """Every command that appended trail entries signs a checkpoint when it ends; the language
    its settings chose (`load_settings`) is this run's only."""
    from fpcredit.guard.trail.entries import forget_appended
    from fpcredit.messages import language, reset_language, set_language

    forget_appended()
    before = set_language(language())  # undone when the run ends, after its last message
    ctx.call_on_close(lambda: reset_language(before))
    ctx.call_on_close(_checkpoint_if_appended)


def _checkpoint_if_appended() -> None:
    """Sign (and hand to the witnesses) a checkpoint covering what this command appended; a
    refusal is printed, the command's own work stands."""
    from fpcredit.guard.trail.entries import appended_here
    from fpcredit.guard.trail.log import Trail
    from fpcredit.guard.trail.witness_client import clients, submit_all
    from fpcredit.service import open_ready_store

    if not appended_here():
        return
    chosen = Settings()
    try:
        store = open_ready_store(chosen)
        try:
            trail = Trail(store, chosen)
            submit_all(clients(trail, chosen), trail.checkpoint())
        finally:
            store.engine.dispose()
    except FpcreditError as e:
        err.print(f"[red]error:[/red] {e}", highlight=False, soft_wrap=True)
