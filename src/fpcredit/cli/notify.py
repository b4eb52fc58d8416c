"""`fpcredit notify`: the notification worker, the dead letters, departments' webhooks (R24)."""

from __future__ import annotations

import signal
import threading
from typing import Annotated, Any

import typer

from fpcredit.cli.common import JsonOpt, accounts, emit, errors, fail, out

notify_app = typer.Typer(help="Notifications: the worker, the dead letters, webhooks (R24).")
webhook_app = typer.Typer(help="Departments' webhooks: where their notifications are posted.")
notify_app.add_typer(webhook_app, name="webhook")


@notify_app.command("run")
def notify_run(
    once: Annotated[
        bool, typer.Option("--once", help="Deliver what is due now, then exit.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Deliver the notifications (SMS to persons, signed webhooks to departments) with retries;
    runs until interrupted unless --once."""
    from fpcredit.guard.keys.crypto import load_vault
    from fpcredit.notify.worker import worker_for

    settings, store = accounts()
    with errors():
        worker, close = worker_for(settings, store, load_vault(settings.keys_dir))
    try:
        if once:
            done = worker.run_once()
            report = {"delivered": done.delivered, "retried": done.retried, "dead": done.dead}
            emit(report, as_json, _print_drained)
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            worker.run(stop)
        except KeyboardInterrupt:
            stop.set()
    finally:
        close()


def _on_trail(settings: Any, store: Any, action: str, subject: str) -> None:
    """The operator's change of where notifications go, or of a dead one, on the trail."""
    from fpcredit.guard.auth.operator import operator_actor
    from fpcredit.guard.trail.entries import Event
    from fpcredit.guard.trail.log import Trail

    Trail(store, settings).append_many([Event(operator_actor(), action, "ok", subject)])


def _print_drained(report: dict[str, int]) -> None:
    from fpcredit.messages import text

    out.print(text("notify.drained", None, **report), highlight=False)


@notify_app.command("list")
def notify_list(
    state: Annotated[
        str | None, typer.Option(help="Only this state: pending, delivered or dead.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Notifications, newest first: kind, audience, attempts, state (no phone, name or ID)."""
    from fpcredit.messages import text
    from fpcredit.notify.inbox import listing

    if state is not None and state not in ("pending", "delivered", "dead"):
        fail(text("notify.bad_state", state=state))
    store = accounts()[1]
    emit(listing(store, state, limit), as_json, _print_rows)


@notify_app.command("dead")
def notify_dead(
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """The dead letters: notifications given up on, each with the reason of its last failure."""
    from fpcredit.notify.inbox import listing

    store = accounts()[1]
    emit(listing(store, "dead", limit), as_json, _print_rows)


def _print_rows(rows: list[dict[str, Any]]) -> None:
    from fpcredit.messages import text

    if not rows:
        out.print(text("notify.nothing"))
    for r in rows:
        who = f"person {r['person_id']}" if r["person_id"] is not None else r["audience"]
        reason = f" ({r['reason']})" if r["reason"] else ""
        out.print(
            f"{r['message_id']} {r['created_at'][:19]} {r['kind']} → {who}: {r['state']}, "
            f"{r['attempts']} attempt(s){reason}",
            highlight=False,
        )


@notify_app.command("retry")
def notify_retry(
    message_id: Annotated[str, typer.Argument(help="The message id of a dead notification.")],
) -> None:
    """Queue a dead notification again (its attempts counted afresh)."""
    from fpcredit.messages import text
    from fpcredit.notify.inbox import retry

    settings, store = accounts()
    if not retry(store, message_id):
        fail(text("notify.no_message", message_id=message_id))
    _on_trail(settings, store, "notify_retry", f"notification:{message_id}")
    out.print(text("notify.retried", message_id=message_id), highlight=False)


@webhook_app.command("set")
def webhook_set(
    source: Annotated[str, typer.Argument(help="The department's source code, e.g. health.")],
    url: Annotated[str, typer.Argument(help="Where its notifications are posted (http/https).")],
    as_json: JsonOpt = False,
) -> None:
    """Register or replace a department's webhook; prints the new signing secret ONCE."""
    from fpcredit.guard.keys.crypto import load_vault
    from fpcredit.notify.webhooks import set_webhook

    settings, store = accounts()
    with errors():
        secret = set_webhook(store, load_vault(settings.keys_dir), source, url)
        _on_trail(settings, store, "notify_webhook_set", f"webhook:{source}")
    emit({"source": source, "url": url, "secret": secret}, as_json, _print_set)


def _print_set(data: dict[str, str]) -> None:
    from fpcredit.messages import text

    out.print(text("notify.webhook_set", None, **data), highlight=False, soft_wrap=True)


@webhook_app.command("list")
def webhook_list(as_json: JsonOpt = False) -> None:
    """The registered webhooks (never their secrets)."""
    from fpcredit.notify.webhooks import list_webhooks

    store = accounts()[1]
    emit(list_webhooks(store), as_json, _print_hooks)


def _print_hooks(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        out.print(f"{r['source']} {r['url']} ({r['updated_at'][:19]})", highlight=False)
