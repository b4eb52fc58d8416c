"""`fpcredit keys`: the encryption keys under FPCREDIT_HOME/keys (R29)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import typer

from fpcredit.cli.common import (
    JsonOpt,
    administration,
    emit,
    err,
    errors,
    load_settings,
    out,
    progress,
)
from fpcredit.config import Settings

keys_app = typer.Typer(help="Encryption keys under FPCREDIT_HOME/keys (R29).")
ProfileOpt = Annotated[
    Literal["default", "gm"] | None,
    typer.Option(
        "--profile",
        help="Move the store to this crypto profile (gm: SM4-GCM, HMAC-SM3); default: keep.",
    ),
]


@keys_app.command("rotate")
def keys_rotate(profile: ProfileOpt = None, as_json: JsonOpt = False) -> None:
    """New data key; every stored identifier re-encrypted online; old keys retired when unused.

    With --profile, the store moves to that crypto profile: the new key is of its algorithm and
    every blind index is recomputed under its index algorithm, online.
    """
    settings, admin = administration()
    with errors(), progress(not as_json) as bar:
        task = bar.add_task("keys", total=None)
        report = admin.rotate_keys(lambda m: bar.update(task, description=m), profile=profile)
    emit(report, as_json, lambda r: _print_rotation(r, settings))


def _print_rotation(report: dict[str, Any], settings: Settings) -> None:
    from fpcredit.messages import text

    rows = sum(report["tables"].values())
    tables = ", ".join(f"{k} {v}" for k, v in report["tables"].items() if v)
    out.print(text("keys.rotate_active", kid=report["key_id"], rows=rows, tables=tables))
    if report["retired"]:
        out.print(text("keys.rotate_retired", kids=", ".join(report["retired"])))
    if report["kept"]:
        out.print(text("keys.rotate_still_used", kept=report["kept"]))
    _profile_note(settings)


def _profile_note(settings: Settings) -> None:
    """Say so when FPCREDIT_CRYPTO names another profile than the store's keyring holds."""
    from fpcredit.guard.keys.crypto import read_keyring
    from fpcredit.messages import text

    ring = read_keyring(settings.keys_dir)
    if ring.profile is not None and ring.profile != settings.crypto and not ring.index_next:
        err.print(text("keys.profile_differs", setting=settings.crypto, profile=ring.profile))


@keys_app.command("status")
def keys_status(as_json: JsonOpt = False) -> None:
    """The store's crypto profile: active data key and its algorithm, blind-index algorithm."""
    from fpcredit.guard.keys.crypto import read_keyring

    settings = load_settings()
    with errors():
        ring = read_keyring(settings.keys_dir)
    data = {
        "profile": ring.profile,
        "setting": settings.crypto,
        "active": ring.active,
        "algorithm": ring.algorithm(ring.active),
        "keys": {kid: ring.algorithm(kid) for kid in ring.keys},
        "index": ring.index,
        "index_next": ring.index_next,
        "rotating": "rotation" in ring.extra,
    }
    emit(data, as_json, lambda d: _print_keyring(d, ring, settings))


def _print_keyring(data: dict[str, Any], ring: Any, settings: Settings) -> None:
    from fpcredit.messages import text

    out.print(text("keys.status", profile=ring.profile, kid=ring.active,
                   data=data["algorithm"], index=ring.index))  # fmt: skip
    if ring.index_next:
        out.print(text("keys.status_moving", old=ring.index, new=ring.index_next))
    older = [f"{k} ({ring.algorithm(k)})" for k in ring.keys if k != ring.active]
    if older:
        out.print(text("keys.status_readable", kids=", ".join(older)))
    _profile_note(settings)
