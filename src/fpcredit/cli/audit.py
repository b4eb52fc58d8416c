"""`fpcredit audit` (the tamper-evident trail, R30) and `fpcredit witness` (a witness that
cosigns another log's checkpoints, C2SP)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from fpcredit.cli.common import (
    JsonOpt,
    accounts,
    emit,
    err,
    errors,
    load_settings,
    out,
)

audit_app = typer.Typer(help="The tamper-evident trail (R30).")
witness_app = typer.Typer(help="A witness that cosigns another log's checkpoints (C2SP).")


@audit_app.command("verify")
def audit_verify(
    verifier_key: Annotated[
        str | None, typer.Option(help="Pin the checkpoint key (name+hash+key); default: ours.")
    ] = None,
    witness: Annotated[
        str | None,
        typer.Option(help="Also hold the trail against this witness's latest cosigned checkpoint."),
    ] = None,
    witness_key: Annotated[
        str | None,
        typer.Option(help="The witness's verifier key; default: its entry in FPCREDIT_WITNESSES."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Recompute the trail from the tables, the checkpoint file and a witness; exit 1 naming the
    first bad entry if it fails."""
    from fpcredit.guard.trail.verify import verify

    settings, store = accounts()
    with errors():
        report = verify(
            store, settings, verifier_key=verifier_key, witness=witness, witness_key=witness_key
        )
    emit(report, as_json, _print_verification)
    if not report["ok"]:
        raise typer.Exit(1)


def _print_verification(report: dict[str, Any]) -> None:
    if report["ok"]:
        out.print(
            f"ok: {report['entries']} entries, covering {', '.join(report['covered_tables'])}"
        )
    else:
        err.print(
            f"[red]trail broken[/red] at entry {report['first_bad']} of {report['entries']}: "
            f"{report['reason']}",
            highlight=False,
            soft_wrap=True,
        )


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign a checkpoint of the trail now, hand it to the witnesses and print it (C2SP signed
    note)."""
    from fpcredit.guard.trail.log import Trail
    from fpcredit.guard.trail.witness_client import clients, submit_all

    settings, store = accounts()
    with errors():
        trail = Trail(store, settings)
        note = trail.checkpoint()
        submit_all(clients(trail, settings), note)
    sys.stdout.write(note)
    err.print(f"verifier key: {trail.verifier_key()}", highlight=False, soft_wrap=True)


LogOpt = Annotated[
    list[str],
    typer.Option("--log", help="A log to witness: ORIGIN=VERIFIER_KEY (repeat for more)."),
]
WitnessNameOpt = Annotated[
    str, typer.Option(help="The witness's key name, used only when its key is created.")
]


@witness_app.command("serve")
def witness_serve(
    log: LogOpt,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8100,
    name: WitnessNameOpt = "fpcredit-witness",
) -> None:
    """Run a witness (C2SP tlog-witness): POST /add-checkpoint, GET /latest-checkpoint."""
    from fpcredit.guard.trail.witness import Witness
    from fpcredit.messages import text
    from fpcredit.web.server import serve_witness

    settings = load_settings()
    with errors():
        witness = Witness.open(settings.home, log, name)

    def say(url: str) -> None:
        vkey = witness.verifier_key()
        message = text("witness.listening", name=witness.signer.name, url=url, vkey=vkey)
        err.print(message, highlight=False, soft_wrap=True)

    serve_witness(witness, host, port, listening=say)


@witness_app.command("key")
def witness_key_command(name: WitnessNameOpt = "fpcredit-witness") -> None:
    """Print this home's witness verifier key (creating the key on first use), for the log's
    FPCREDIT_WITNESSES."""
    from fpcredit.files import read_or_create
    from fpcredit.guard.trail.cosignature import CosignatureSigner
    from fpcredit.guard.trail.witness import KEY_FILE

    settings = load_settings()
    with errors():
        path = settings.keys_dir / KEY_FILE
        raw = read_or_create(path, lambda: CosignatureSigner.generate(name).key_string().encode())
        signer = CosignatureSigner.from_key_string(raw.decode())
    sys.stdout.write(signer.verifier.key_string() + "\n")
