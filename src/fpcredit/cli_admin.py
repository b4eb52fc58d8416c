"""The `fpcredit` administration commands: accounts, clients and policy activation.

The operating-system operator's break-glass (docs/security.md, 三员分立): everything
`guard.admin.Administration` allows, each action on the trail as `os:<user>`. Registered on the
`users` and `policy` groups of `fpcredit.cli`, which imports this module at its end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from fpcredit.cli import (
    JsonOpt,
    _administration,
    _errors,
    _print_json,
    out,
    policy_app,
    users_app,
)


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
    if as_json:
        _print_json(data)
        return
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
    admin = _administration()[1]
    with _errors():
        made = admin.add_user(role, region, username)
    _print_enrolment(made, as_json)


@users_app.command("reset")
def users_reset(
    username: Annotated[str, typer.Argument(help="The account.")], as_json: JsonOpt = False
) -> None:
    """New one-time password and TOTP secret (printed once); unlocks and re-enables."""
    admin = _administration()[1]
    with _errors():
        made = admin.reset_user(username)
    _print_enrolment(made, as_json)


@users_app.command("disable")
def users_disable(username: Annotated[str, typer.Argument(help="The account.")]) -> None:
    """Disable an account; its sessions close at once."""
    admin = _administration()[1]
    with _errors():
        user = admin.disable_user(username)
    out.print(f"{user.username}: disabled")


@users_app.command("enable")
def users_enable(username: Annotated[str, typer.Argument(help="The account.")]) -> None:
    """Enable a disabled account again (its 90-day dormancy clock starts anew)."""
    from fpcredit.messages import text

    admin = _administration()[1]
    with _errors():
        user = admin.enable_user(username)
    out.print(text("users.enabled_done", username=user.username), highlight=False)


@users_app.command("list")
def users_list(as_json: JsonOpt = False) -> None:
    """Accounts and department clients, without any secret."""
    admin = _administration()[1]
    with _errors():
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
    if as_json:
        _print_json(data)
        return
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
    as_json: JsonOpt = False,
) -> None:
    """Register a department system (client credentials); prints its secret ONCE."""
    from fpcredit.guard.access import ROLE_PURPOSES, Role

    admin = _administration()[1]
    with _errors():
        purposes = purpose or sorted(ROLE_PURPOSES[Role.DEPARTMENT])
        client_id, secret = admin.add_client(source, purposes)
    allowed = ", ".join(sorted(purposes))
    if as_json:
        _print_json({"client_id": client_id, "client_secret": secret, "purposes": sorted(purposes)})
        return
    from fpcredit.messages import text

    message = text("users.client_enrolled", client_id=client_id, client_secret=secret,
                   purposes=allowed)  # fmt: skip
    out.print(message, highlight=False, soft_wrap=True)


@users_app.command("client-disable")
def users_client_disable(
    client_id: Annotated[str, typer.Argument(help="The client id (users list shows them).")],
) -> None:
    """Retire a department client; its sessions close at once."""
    from fpcredit.messages import text

    admin = _administration()[1]
    with _errors():
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

    admin = _administration()[1]
    with _errors():
        client = admin.set_client_purposes(client_id, purpose)
    named = ", ".join(sorted(client.purposes))
    out.print(text("users.client_purposes_set", client_id=client_id, purposes=named))


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

    admin = _administration()[1]
    with _errors():
        try:
            data = path.read_bytes()
        except OSError as e:
            why = text("policy_unreadable", why=e.strerror)
            raise PolicyError(str(path), [(None, why)]) from None
        made = admin.activate_policy(data, reason, str(path))
    if as_json:
        _print_json(made.as_json())
        return
    out.print(text("policy.activated", **made.as_json()), highlight=False, soft_wrap=True)


@policy_app.command("list")
def policy_list(as_json: JsonOpt = False) -> None:
    """Every activation of a policy (who, when, why); the last one is in force."""
    from fpcredit.messages import text

    admin = _administration()[1]
    with _errors():
        rows = [a.as_json() for a in admin.policies()]
    if as_json:
        _print_json({"policies": rows})
        return
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
