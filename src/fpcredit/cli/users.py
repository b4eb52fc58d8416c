"""`fpcredit users`: staff and administrator accounts, department clients (三员分立).

The operating-system operator's break-glass (docs/security.md): everything
`guard.admin.Administration` allows, each action on the trail as `os:<user>`.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from fpcredit.cli.common import JsonOpt, administration, emit, errors, out

users_app = typer.Typer(help="Staff and administrator accounts, department clients (三员分立).")


def _print_enrolment(made: Any, as_json: bool) -> None:
    data = {
        "username": made.user.username,
        "role": made.user.role.value,
        "region": made.user.region,
        "password": made.password,
        "must_change_password": made.user.must_change,
        "totp_secret": made.totp_secret,
        "totp_uri": made.provisioning_uri,
    }
    emit(data, as_json, _print_enrolled)


def _print_enrolled(data: dict[str, Any]) -> None:
    from fpcredit.messages import text

    out.print(text("users.enrolled", **data), highlight=False, soft_wrap=True)


@users_app.command("add")
def users_add(
    role: Annotated[
        str,
        typer.Option(help="national, province, city, county, or sysadmin, secadmin, auditor."),
    ],
    region: Annotated[str, typer.Option(help="6-digit region code (national: 000000).")],
    username: Annotated[str, typer.Option(help="Unique account name.")],
    as_json: JsonOpt = False,
) -> None:
    """Create a staff or administrator account (the only way to make an administrator's:
    break-glass, on the trail); prints its one-time password and TOTP secret ONCE."""
    admin = administration()[1]
    with errors():
        made = admin.add_user(role, region, username)
    _print_enrolment(made, as_json)


@users_app.command("reset")
def users_reset(
    username: Annotated[str, typer.Argument(help="The account.")], as_json: JsonOpt = False
) -> None:
    """New one-time password and TOTP secret (printed once); unlocks and re-enables."""
    admin = administration()[1]
    with errors():
        made = admin.reset_user(username)
    _print_enrolment(made, as_json)


@users_app.command("disable")
def users_disable(username: Annotated[str, typer.Argument(help="The account.")]) -> None:
    """Disable an account; its sessions close at once."""
    admin = administration()[1]
    with errors():
        user = admin.disable_user(username)
    out.print(f"{user.username}: disabled")


@users_app.command("enable")
def users_enable(username: Annotated[str, typer.Argument(help="The account.")]) -> None:
    """Enable a disabled account again (its 90-day dormancy clock starts anew)."""
    from fpcredit.messages import text

    admin = administration()[1]
    with errors():
        user = admin.enable_user(username)
    out.print(text("users.enabled_done", username=user.username), highlight=False)


@users_app.command("list")
def users_list(as_json: JsonOpt = False) -> None:
    """Accounts and department clients, without any secret."""
    admin = administration()[1]
    with errors():
        users, clients = admin.users(), admin.clients()
    data: dict[str, list[dict[str, Any]]] = {
        "users": [
            {
                "username": u.username,
                "role": u.role.value,
                "region": u.region,
                "last_login_at": u.last_login_at,
                "locked_until": u.locked_until,
                "disabled": u.disabled_reason,
            }
            for u in users
        ],
        "clients": [
            {"client_id": c.client_id, "source": c.source, "purposes": sorted(c.purposes),
             "disabled": c.disabled_at is not None}
            for c in clients
        ],
    }  # fmt: skip
    emit(data, as_json, _print_accounts)


def _print_accounts(data: dict[str, list[dict[str, Any]]]) -> None:
    table = Table("username", "role", "region", "last login", "locked until", "disabled")
    for u in data["users"]:
        table.add_row(*(str(u[k] or "") for k in u))
    out.print(table)
    for c in data["clients"]:
        out.print(f"client {c['client_id']} ({c['source']}): {', '.join(c['purposes'])}")


@users_app.command("client")
def users_client(
    source: Annotated[str, typer.Argument(help="The department: health, police, civil, …")],
    purpose: Annotated[
        list[str] | None, typer.Option("--purpose", help="Allowed purpose (repeatable).")
    ] = None,
    incentive: Annotated[
        list[str] | None,
        typer.Option("--incentive", help="An incentive it provides and may verify (repeatable)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a department system (client credentials); prints its secret ONCE."""
    from fpcredit.guard.access import ROLE_PURPOSES, Role

    admin = administration()[1]
    with errors():
        purposes = purpose or sorted(ROLE_PURPOSES[Role.DEPARTMENT])
        client_id, secret = admin.add_client(source, purposes, incentive or ())
    data = {
        "client_id": client_id,
        "client_secret": secret,
        "purposes": sorted(purposes),
        "incentives": sorted(incentive or ()),
    }
    emit(data, as_json, _print_client)


def _print_client(data: dict[str, Any]) -> None:
    from fpcredit.messages import text

    message = text(
        "users.client_enrolled",
        client_id=data["client_id"],
        client_secret=data["client_secret"],
        purposes=", ".join(data["purposes"]),
    )
    out.print(message, highlight=False, soft_wrap=True)


@users_app.command("client-disable")
def users_client_disable(
    client_id: Annotated[str, typer.Argument(help="The client id (users list shows them).")],
) -> None:
    """Retire a department client; its sessions close at once."""
    from fpcredit.messages import text

    admin = administration()[1]
    with errors():
        admin.disable_client(client_id)
    out.print(text("users.client_disabled", client_id=client_id), highlight=False)


@users_app.command("client-purposes")
def users_client_purposes(
    client_id: Annotated[str, typer.Argument(help="The client id.")],
    purpose: Annotated[
        list[str], typer.Option("--purpose", help="Allowed purpose (repeatable; replaces all).")
    ],
) -> None:
    """Set which purposes a department client may name (an access setting); its sessions end."""
    from fpcredit.messages import text

    admin = administration()[1]
    with errors():
        client = admin.set_client_purposes(client_id, purpose)
    named = ", ".join(sorted(client.purposes))
    out.print(text("users.client_purposes_set", client_id=client_id, purposes=named))
