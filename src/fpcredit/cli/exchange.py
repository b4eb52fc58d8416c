"""`fpcredit exchange`: this province on the cross-province exchange (R8, docs/exchange.md)."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from fpcredit.cli.common import JsonOpt, accounts, emit, errors, fail, load_settings, out

exchange_app = typer.Typer(help="The cross-province exchange over NATS JetStream (R8).")
partner_app = typer.Typer(help="The registry of other provinces' public keys.")
exchange_app.add_typer(partner_app, name="partner")


@exchange_app.command("init")
def exchange_init(
    province: Annotated[
        str, typer.Option("--province", help="This home's province: two digits of GB/T 2260.")
    ],
    as_json: JsonOpt = False,
) -> None:
    """Make this home a province of the exchange: its signing (Ed25519) and sealing (X25519)
    keys under FPCREDIT_HOME/keys; prints its card for the other provinces."""
    from fpcredit.exchange.identity import create_identity

    settings = load_settings()
    with errors():
        me = create_identity(settings.keys_dir, province)
    emit(me.card(), as_json, _print_card)


@exchange_app.command("card")
def exchange_card(as_json: JsonOpt = False) -> None:
    """This province's card (its public keys), to hand to the other provinces."""
    from fpcredit.exchange.identity import require_identity

    settings = load_settings()
    with errors():
        me = require_identity(settings.keys_dir)
    emit(me.card(), as_json, _print_card)


def _print_card(card: dict[str, str]) -> None:
    out.print(json.dumps(card, ensure_ascii=False), highlight=False, soft_wrap=True)


@partner_app.command("add")
def partner_add(
    card: Annotated[Path, typer.Argument(help="A province's card (JSON), `exchange card`.")],
    as_json: JsonOpt = False,
) -> None:
    """Register another province's public keys (a newer card replaces its keys); on the trail."""
    from fpcredit.exchange.identity import add_partner, load_identity
    from fpcredit.guard.auth.operator import operator_actor
    from fpcredit.messages import text

    settings, store = accounts()
    try:
        doc = json.loads(card.read_text("utf-8"))
    except (OSError, ValueError) as e:
        fail(text("exchange.card_unreadable", path=str(card), why=type(e).__name__))
    with errors():
        me = load_identity(settings.keys_dir)
        added = add_partner(
            store, settings.keys_dir, doc, operator_actor(), me.province if me else None
        )
    report = {"province": added.province, "added_at": added.added_at.isoformat()}
    emit(report, as_json, lambda r: out.print(text("exchange.partner_added", None, **r)))


@partner_app.command("list")
def partner_list(as_json: JsonOpt = False) -> None:
    """The provinces this one exchanges with, and when their keys were registered."""
    from fpcredit.exchange.identity import partners

    store = accounts()[1]
    with store.engine.connect() as conn:
        found = [
            {"province": p.province, "added_at": p.added_at.isoformat()}
            for p in partners(conn).values()
        ]
    emit(found, as_json, _print_partners)


def _print_partners(rows: list[dict[str, str]]) -> None:
    for r in rows:
        out.print(f"{r['province']}  {r['added_at']}", highlight=False)


@exchange_app.command("run")
def exchange_run(
    once: Annotated[
        bool,
        typer.Option("--once", help="Relay what waits and take what has come, then exit."),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Relay the outbox to this province's stream and take the partners' messages for it
    (verify, open, ingest, link, acknowledge after commit); runs until interrupted unless
    --once. A NATS server away is waited for: messages wait in the outbox."""
    from fpcredit.exchange.identity import require_identity
    from fpcredit.exchange.stream import Exchange
    from fpcredit.guard.keys.crypto import load_vault

    settings, store = accounts()
    with errors():
        me = require_identity(settings.keys_dir)
        vault = load_vault(settings.keys_dir)
    exchange = Exchange(store, vault, me, settings.nats_url, batch=settings.exchange_batch)
    with errors():
        progress = asyncio.run(_run(exchange, once))
    report = {
        "published": progress.published,
        **progress.received.as_json(),
        "linked_later": progress.linked_later,
        "errors": progress.errors,
    }
    emit(report, as_json, _print_run)


async def _run(exchange: Any, once: bool) -> Any:
    from nats.errors import Error as NatsError

    from fpcredit.messages import text

    if once:
        try:
            while await exchange.relay_once():
                pass
            while (await exchange.receive_once(wait_s=0.5)).received:
                pass
            await exchange.resolve()
        except (NatsError, OSError, TimeoutError) as e:
            await exchange.close()
            fail(text("exchange.nats_down", url=exchange.servers, why=type(e).__name__))
        await exchange.close()
        return exchange.progress
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return await exchange.run(stop)


def _print_run(report: dict[str, Any]) -> None:
    from fpcredit.messages import text

    out.print(text("exchange.run_report", **report), highlight=False)


@exchange_app.command("status")
def exchange_status_cmd(as_json: JsonOpt = False) -> None:
    """Lag, pending and rejected counts: the outbox (queued, sent, pending, the oldest pending
    message's age), the inbox (accepted, waiting for their person, linked later, rejected and
    why) and the latency from the sender's commit to ours."""
    from fpcredit.exchange.identity import load_identity
    from fpcredit.exchange.status import exchange_status

    settings, store = accounts()
    report = exchange_status(store, load_identity(settings.keys_dir))
    emit(report, as_json, _print_status)


def _print_status(r: dict[str, Any]) -> None:
    from rich.table import Table

    from fpcredit.messages import text

    if r["province"] is None:
        out.print(text("exchange.no_identity"))
        return
    out.print(
        text("exchange.status_head", province=r["province"], partners=len(r["partners"])),
        highlight=False,
    )
    table = Table(show_header=True)
    table.add_column(text("exchange.col_what"))
    table.add_column(text("exchange.col_count"), justify="right")
    ob, ib = r["outbox"], r["inbox"]
    for key, value in (
        ("queued", ob["queued"]),
        ("sent", ob["sent"]),
        ("pending", ob["pending"]),
        ("lag_s", ob["lag_s"]),
        ("received", ib["received"]),
        ("accepted", ib["accepted"]),
        ("waiting", ib["waiting"]),
        ("linked_later", ib["linked_later"]),
        ("rejected", ib["rejected"]),
        ("latency_p99_s", ib["latency_p99_s"]),
    ):
        table.add_row(text(f"exchange.row_{key}"), "—" if value is None else str(value))
    out.print(table)
    for reason, count in ib["reasons"].items():
        out.print(f"  {text(f'exchange.reject_{reason}')}: {count}", highlight=False)
    sys.stdout.flush()
