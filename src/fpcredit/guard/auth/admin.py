"""三员分立 (GB/T 22239-2019 §8.1.4): what each administrator may do, checked, and every
administrative action on the trail.

The system administrator (`sysadmin`) manages staff accounts (national … county) and department
clients; the security administrator (`secadmin`) the data keys, the purposes a department
client may name and which policy is active; the audit administrator (`auditor`) reads the trail
(web/api/audit.py). None can act as another: each action is one role's duty (`DUTIES`), and a
system administrator never creates, resets, disables or enables an administrator's account, so
no administrator can take over another's login. Administrators' accounts are made and reset only
at the server's command line by the operating-system operator (`os:<user>`, break-glass), who
may do everything here and is on the trail like anyone else.

Every action, done or refused, appends an entry: actor (`role:username` or `os:<user>`), the
action, its outcome (`ok`, `refused_role`, `refused_target`, or the refusal's code), the target
as the hashed subject where there is one (`user:<name>`, `client:<id>`, `policy:<sha256>`), and
the caller's address. Nothing here, or anywhere, edits or deletes an entry of the trail.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from fpcredit.config import Settings
from fpcredit.errors import AuthError, PolicyError
from fpcredit.evaluate import active
from fpcredit.guard.access import ADMIN_ROLES, Principal, Purpose, Role
from fpcredit.guard.auth import accounts
from fpcredit.guard.auth import clients as client_accounts
from fpcredit.guard.auth.operator import operator_actor
from fpcredit.guard.keys.ciphers import ProfileName
from fpcredit.guard.keys.crypto import Vault, load_vault
from fpcredit.guard.trail.log import Event, Trail
from fpcredit.store.db import Store

__all__ = ["DUTIES", "Actor", "Administration", "Append", "appending_to"]

T = TypeVar("T")
Append = Callable[[Event], object]

_SYS, _SEC, _AUDIT = Role.SYSADMIN, Role.SECADMIN, Role.AUDITOR
# Each administrative action and the administrator roles whose duty it is.
DUTIES: Final[dict[str, frozenset[Role]]] = {
    "user_list": frozenset({_SYS}),
    "user_add": frozenset({_SYS}),
    "user_reset": frozenset({_SYS}),
    "user_disable": frozenset({_SYS}),
    "user_enable": frozenset({_SYS}),
    "client_list": frozenset({_SYS, _SEC}),  # the security administrator sets their purposes
    "client_add": frozenset({_SYS}),
    "client_disable": frozenset({_SYS}),
    "client_purposes": frozenset({_SEC}),
    "key_rotate": frozenset({_SEC}),
    "policy_list": frozenset({_SEC, _AUDIT}),  # the auditor checks what was activated, and why
    "policy_activate": frozenset({_SEC}),
}


@dataclass(frozen=True)
class Actor:
    """Who administers: an administrator's session, or the operator at the command line."""

    code: str  # the trail's actor: `sysadmin:li.ming`, `os:root`
    role: Role | None = None  # None: the operating-system operator (break-glass)
    address: str | None = None  # the caller's network address

    @classmethod
    def of(cls, principal: Principal, address: str | None = None) -> Actor:
        return cls(f"{principal.role.value}:{principal.subject}", principal.role, address)

    @classmethod
    def operator(cls) -> Actor:
        return cls(operator_actor())


def appending_to(trail: Trail) -> Append:
    """A `Append` that appends each entry to `trail` and waits for its commit."""

    def append(event: Event) -> object:
        return trail.append_many([event])

    return append


def _user_subject(username: str) -> str:
    return f"user:{username.strip().lower()}"


class Administration:
    """The administrative actions `actor` may take, each checked and put on `trail`."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        actor: Actor,
        append: Append,
        *,
        vault: Vault | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.actor = actor
        self.append = append
        self._vault = vault

    @property
    def vault(self) -> Vault:
        if self._vault is None:
            self._vault = load_vault(self.settings.keys_dir)
        return self._vault

    # -- checks and the trail --

    def record(self, action: str, outcome: str = "ok", subject: str | None = None) -> None:
        a = self.actor
        self.append(Event(a.code, action, outcome, subject, None, a.address))

    def check(self, action: str, subject: str | None = None) -> None:
        """Refuse (`refused_role`, on the trail) an action that is not the actor's duty."""
        role = self.actor.role
        if role is not None and role not in DUTIES[action]:
            self.record(action, "refused_role", subject)
            raise accounts.refuse("refused_role", "admin.refused_role", role=role, action=action)

    def _target(self, action: str, role: Role | str, subject: str) -> None:
        """Refuse (`refused_target`) a system administrator's action on an administrator's
        account: those are the operating-system operator's alone."""
        if self.actor.role is None or role not in {r.value for r in ADMIN_ROLES}:
            return
        self.record(action, "refused_target", subject)
        raise accounts.refuse("refused_target", "admin.refused_target", role=role)

    def _done(self, action: str, subject: str | None, work: Callable[[], T]) -> T:
        """Run `work`, then put its outcome on the trail: `ok`, or the refusal's code."""
        try:
            result = work()
        except AuthError as e:
            self.record(action, e.code, subject)
            raise
        except PolicyError:
            self.record(action, "invalid", subject)
            raise
        except Exception:  # a rotation's crash too: its end must be on the trail
            self.record(action, "failed", subject)
            raise
        self.record(action, "ok", subject)
        return result

    def _existing(self, action: str, username: str) -> accounts.User:
        """The target account of `action`, after the duty and target checks."""
        subject = _user_subject(username)
        self.check(action, subject)
        user = self._done_lookup(action, subject, lambda: accounts.get_user(self.store, username))
        self._target(action, user.role, subject)
        return user

    def _done_lookup(self, action: str, subject: str, work: Callable[[], T]) -> T:
        try:
            return work()
        except AuthError as e:
            self.record(action, e.code, subject)
            raise

    # -- staff accounts (the system administrator) --

    def users(self) -> list[accounts.User]:
        self.check("user_list")
        return accounts.list_users(self.store)

    def add_user(
        self, role: Role | str, region: str, username: str, password: str | None = None
    ) -> accounts.Enrolment:
        """A new account; its one-time password and TOTP secret are in the answer only."""
        subject = _user_subject(username)
        self.check("user_add", subject)
        self._target("user_add", role, subject)

        def add() -> accounts.Enrolment:
            return accounts.add_user(
                self.store, role, region, username, password, settings=self.settings,
                vault=self.vault,
            )  # fmt: skip

        return self._done("user_add", subject, add)

    def reset_user(self, username: str) -> accounts.Enrolment:
        user = self._existing("user_reset", username)
        return self._done(
            "user_reset",
            _user_subject(user.username),
            lambda: accounts.reset_user(
                self.store, user.username, settings=self.settings, vault=self.vault
            ),
        )

    def disable_user(self, username: str) -> accounts.User:
        user = self._existing("user_disable", username)
        subject = _user_subject(user.username)
        return self._done(
            "user_disable", subject, lambda: accounts.disable_user(self.store, user.username)
        )

    def enable_user(self, username: str) -> accounts.User:
        user = self._existing("user_enable", username)
        subject = _user_subject(user.username)
        return self._done(
            "user_enable", subject, lambda: accounts.enable_user(self.store, user.username)
        )

    # -- department clients (system administrator; their purposes: security administrator) --

    def clients(self) -> list[client_accounts.Client]:
        self.check("client_list")
        return client_accounts.list_clients(self.store)

    def add_client(
        self, source: str, purposes: Iterable[Purpose | str], incentives: Iterable[str] = ()
    ) -> tuple[str, str]:
        """(client_id, client_secret): the secret is in the answer only. `incentives` are those
        of the active policy the department provides and may verify."""
        self.check("client_add")
        catalogue = {i.id: i.department for i in active.active_policy(self.store).policy.incentives}
        try:
            made = client_accounts.add_client(
                self.store,
                source,
                purposes,
                incentives=incentives,
                catalogue=catalogue,
                settings=self.settings,
            )
        except AuthError as e:
            self.record("client_add", e.code)
            raise
        self.record("client_add", "ok", f"client:{made[0]}")
        return made

    def disable_client(self, client_id: str) -> None:
        subject = f"client:{client_id}"
        self.check("client_disable", subject)
        self._done(
            "client_disable", subject, lambda: client_accounts.disable_client(self.store, client_id)
        )

    def set_client_purposes(
        self, client_id: str, purposes: Iterable[Purpose | str]
    ) -> client_accounts.Client:
        subject = f"client:{client_id}"
        self.check("client_purposes", subject)
        wanted = list(purposes)
        return self._done(
            "client_purposes",
            subject,
            lambda: client_accounts.set_client_purposes(self.store, client_id, wanted),
        )

    # -- keys and policies (the security administrator) --

    def rotate_keys(
        self, progress: Callable[[str], None] | None = None, profile: ProfileName | None = None
    ) -> dict[str, Any]:
        """`guard.rotate.rotate_keys`, its start and its end on the trail (it may run long)."""
        from fpcredit.guard.keys.rotate import rotate_keys

        self.check("key_rotate")
        self.record("key_rotate", "started")
        return self._done(
            "key_rotate",
            None,
            lambda: rotate_keys(self.settings, self.store, progress, profile=profile),
        )

    def policies(self) -> list[active.Activation]:
        self.check("policy_list")
        return active.activations(self.store)

    def activate_policy(
        self, data: bytes, reason: str, origin: str = "policy.yaml"
    ) -> active.Activation:
        """Validate the policy text and make it the active policy (PolicyError: why not)."""
        subject = f"policy:{hashlib.sha256(data).hexdigest()}"
        self.check("policy_activate", subject)

        def activate() -> active.Activation:
            keys_dir = self.settings.keys_dir
            return active.activate(
                self.store, data, actor=self.actor.code, reason=reason, keys_dir=keys_dir,
                origin=origin,
            )  # fmt: skip

        return self._done("policy_activate", subject, activate)
