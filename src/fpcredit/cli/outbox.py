"""`fpcredit outbox`: messages waiting in the outbox (SMS codes in development)."""

from __future__ import annotations

from typing import Any

import typer

from fpcredit.cli.common import JsonOpt, PurposeOpt, RevealOpt, emit, errors, out, reading

outbox_app = typer.Typer(help="Messages waiting in the outbox (SMS codes in development).")


@outbox_app.command("list")
def outbox_list(
    purpose: PurposeOpt = None, reveal: RevealOpt = False, as_json: JsonOpt = False
) -> None:
    """Messages in the outbox (development SMS channel): recipients masked, login codes hidden
    unless --reveal (--purpose service_delivery; each citizen on the trail)."""
    from fpcredit.guard.keys.crypto import load_vault
    from fpcredit.operator_reads import outbox_read

    settings, store, read = reading("outbox_list", purpose, reveal)
    with errors():
        messages = outbox_read(store, load_vault(settings.keys_dir), read)
    emit(messages, as_json, _print_messages)


def _print_messages(messages: list[dict[str, Any]]) -> None:
    for m in messages:
        out.print(f"#{m['id']} {m.get('created_at', '')} → {m['recipient']}: {m['text']}")
