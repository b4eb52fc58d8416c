"""三员分立 in the library: each administrator's duties, none acting as another, on the trail."""

from __future__ import annotations

from collections.abc import Callable
from itertools import permutations

import pytest
import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.errors import AuthError, PolicyError
from fpcredit.evaluate.active import activations, active_policy, policy_of
from fpcredit.evaluate.policy import default_policy_path, load_policy
from fpcredit.guard.access import ADMIN_ROLES, ROLE_PURPOSES, STAFF_ROLES, Purpose, Role
from fpcredit.guard.auth import accounts
from fpcredit.guard.auth.admin import DUTIES, Actor, Administration, appending_to
from fpcredit.guard.auth.operator import operator_actor
from fpcredit.guard.keys.crypto import Vault
from fpcredit.guard.trail.log import Event, Trail
from fpcredit.guard.trail.verify import verify
from fpcredit.store import schema as s
from fpcredit.store.db import Store

ADMINS = {Role.SYSADMIN: "xitong.li", Role.SECADMIN: "anquan.zhao", Role.AUDITOR: "shenji.qian"}
CLERK = "wang.fang"
POLICY = default_policy_path().read_bytes()


@pytest.fixture
def fast(settings: Settings) -> Settings:
    # Cheap Argon2 parameters keep the suite fast; production uses RFC 9106's.
    return settings.model_copy(
        update={"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1}
    )


@pytest.fixture
def office(store: Store, fast: Settings, vault: Vault) -> str:
    """Three administrators and a county clerk, made by the operator; a client's id."""
    op = Administration(store, fast, Actor.operator(), lambda e: None, vault=vault)
    for role, name in ADMINS.items():
        op.add_user(role, "000000", name)
    op.add_user(Role.COUNTY, "330106", CLERK)
    return op.add_client("health", ["data_quality"])[0]


def _as(
    store: Store, settings: Settings, vault: Vault, role: Role
) -> tuple[Administration, list[Event]]:
    events: list[Event] = []
    actor = Actor(f"{role.value}:{ADMINS[role]}", role, "10.0.0.7")
    return Administration(store, settings, actor, events.append, vault=vault), events


def _duties(admin: Administration, client_id: str) -> dict[str, Callable[[], object]]:
    """One call of every administrative action, on the clerk's account or the client."""
    return {
        "user_list": admin.users,
        "user_add": lambda: admin.add_user(Role.COUNTY, "330106", "zhou.min"),
        "user_reset": lambda: admin.reset_user(CLERK),
        "user_disable": lambda: admin.disable_user(CLERK),
        "user_enable": lambda: admin.enable_user(CLERK),
        "client_list": admin.clients,
        "client_add": lambda: admin.add_client("police", ["service_delivery"]),
        "client_disable": lambda: admin.disable_client(client_id),
        "client_purposes": lambda: admin.set_client_purposes(client_id, ["service_delivery"]),
        "key_rotate": lambda: admin.rotate_keys(),
        "policy_list": admin.policies,
        "policy_activate": lambda: admin.activate_policy(POLICY, "pair test"),
    }


def test_duties_belong_to_administrators_who_read_no_personal_data() -> None:
    for action, roles in DUTIES.items():
        assert roles and roles <= ADMIN_ROLES, action
    assert not ROLE_PURPOSES[Role.SYSADMIN] and not ROLE_PURPOSES[Role.SECADMIN]
    # The audit administrator keeps what it had for the trail, and nothing more.
    assert ROLE_PURPOSES[Role.AUDITOR] == {Purpose.AUDIT, Purpose.SUPERVISION}


@pytest.mark.parametrize(
    ("who", "other"),
    list(permutations([Role.SYSADMIN, Role.SECADMIN, Role.AUDITOR], 2)),
    ids=lambda r: r.value,
)
def test_no_administrator_can_act_as_another(
    store: Store, fast: Settings, vault: Vault, office: str, who: Role, other: Role
) -> None:
    """Every duty of `other` that is not also `who`'s is refused to `who`, on the trail."""
    admin, events = _as(store, fast, vault, who)
    calls = _duties(admin, office)
    assert set(calls) == set(DUTIES)
    theirs = [a for a, roles in DUTIES.items() if other in roles and who not in roles]
    for action in theirs:
        with pytest.raises(AuthError) as refused:
            calls[action]()
        assert refused.value.code == "refused_role", action
        assert (events[-1].action, events[-1].outcome) == (action, "refused_role")
        assert events[-1].actor == f"{who.value}:{ADMINS[who]}"
        assert events[-1].address == "10.0.0.7"
    # Nor can it take over the other's login: their account is the operator's alone.
    for take_over in (admin.reset_user, admin.disable_user, admin.enable_user):
        with pytest.raises(AuthError) as refused:
            take_over(ADMINS[other])
        assert refused.value.code in {"refused_role", "refused_target"}
        assert events[-1].subject == f"user:{ADMINS[other]}"
    with pytest.raises(AuthError) as refused:
        admin.add_user(other, "000000", "second.admin")
    assert refused.value.code in {"refused_role", "refused_target"}
    assert accounts.get_user(store, ADMINS[other]).role is other
    assert "second.admin" not in {u.username for u in accounts.list_users(store)}


def test_each_administrator_does_its_own_duties(
    store: Store, fast: Settings, vault: Vault, office: str
) -> None:
    for role in (Role.SYSADMIN, Role.SECADMIN):
        admin, events = _as(store, fast, vault, role)
        calls = _duties(admin, office)
        for action in [a for a, roles in DUTIES.items() if role in roles and a != "key_rotate"]:
            calls[action]()
            if action not in ("user_list", "client_list", "policy_list"):
                assert (events[-1].action, events[-1].outcome) == (action, "ok"), action
    auditor, _ = _as(store, fast, vault, Role.AUDITOR)
    assert [a.policy_id for a in auditor.policies()] == ["default"]


def test_a_system_administrator_manages_staff_only(
    store: Store, fast: Settings, vault: Vault, office: str
) -> None:
    sysadmin, events = _as(store, fast, vault, Role.SYSADMIN)
    regions = {Role.NATIONAL: "000000", Role.PROVINCE: "330000", Role.CITY: "330100"}
    for role in STAFF_ROLES:
        made = sysadmin.add_user(role, regions.get(role, "330106"), f"{role.value}.zhang")
        assert made.user.role is role and made.password
    for role in ADMIN_ROLES:
        with pytest.raises(AuthError) as refused:
            sysadmin.add_user(role, "000000", f"new.{role.value[:3]}")
        assert refused.value.code == "refused_target"
        assert events[-1].outcome == "refused_target"


def test_an_account_keeps_its_one_role(
    store: Store, fast: Settings, vault: Vault, office: str
) -> None:
    """No account holds two roles: a role is set once, when the account is made."""
    sysadmin, events = _as(store, fast, vault, Role.SYSADMIN)
    for step in (sysadmin.reset_user, sysadmin.disable_user, sysadmin.enable_user):
        step(CLERK)
        assert accounts.get_user(store, CLERK).role is Role.COUNTY
    with pytest.raises(AuthError) as taken:
        sysadmin.add_user(Role.NATIONAL, "000000", CLERK)
    assert taken.value.code == "user_exists" and events[-1].outcome == "user_exists"
    op = Administration(store, fast, Actor.operator(), lambda e: None, vault=vault)
    with pytest.raises(AuthError):
        op.add_user(Role.AUDITOR, "000000", ADMINS[Role.SYSADMIN])
    with store.engine.connect() as conn:
        roles = dict(conn.execute(sa.select(s.users.c.username, s.users.c.role)).all())
    assert roles[CLERK] == "county" and roles[ADMINS[Role.SYSADMIN]] == "sysadmin"


def test_administrators_serve_the_whole_platform(
    store: Store, fast: Settings, vault: Vault
) -> None:
    for role in (Role.SYSADMIN, Role.SECADMIN):
        with pytest.raises(AuthError) as refused:
            accounts.add_user(store, role, "330106", "region.li", settings=fast, vault=vault)
        assert refused.value.code == "bad_region"


def test_actions_are_on_the_trail_with_a_hashed_target(
    store: Store, fast: Settings, vault: Vault, office: str
) -> None:
    trail = Trail(store, fast)
    op = Administration(store, fast, Actor.operator(), appending_to(trail), vault=vault)
    before = trail.size()
    op.disable_user(CLERK)
    with pytest.raises(AuthError):
        op.reset_user("no.such.user")
    # The accounts table's digest moves with the change too (guard/trail/sealing.py): not an action.
    entries = [trail.entry(i) for i in range(before, trail.size())]
    entries = [e for e in entries if e.state != "digest"]
    assert [(e.actor, e.action, e.outcome) for e in entries] == [
        (operator_actor(), "user_disable", "ok"),
        (operator_actor(), "user_reset", "unknown_user"),
    ]
    assert entries[0].subject_hash == trail.subject_hash(f"user:{CLERK}")
    assert CLERK not in str(entries[0].as_json())


def test_client_purposes_change_and_close_its_sessions(
    store: Store, fast: Settings, vault: Vault, office: str
) -> None:
    from fpcredit.guard.auth.identity import Authenticator

    secadmin, _ = _as(store, fast, vault, Role.SECADMIN)
    sysadmin, _ = _as(store, fast, vault, Role.SYSADMIN)
    client_id, secret = sysadmin.add_client("police", ["service_delivery"])
    auth = Authenticator(store, fast, vault=vault)
    token = auth.login_client(client_id, secret).token
    changed = secadmin.set_client_purposes(client_id, ["data_quality", "service_delivery"])
    assert {p.value for p in changed.purposes} == {"data_quality", "service_delivery"}
    with pytest.raises(AuthError):
        auth.authenticate(token)
    again = auth.login_client(client_id, secret).principal
    assert {p.value for p in again.purposes} == {"data_quality", "service_delivery"}
    with pytest.raises(AuthError) as refused:
        secadmin.set_client_purposes(client_id, ["credit_evaluation"])
    assert refused.value.code == "bad_purpose"


def test_policy_activation_is_covered_by_the_trail(
    store: Store, fast: Settings, vault: Vault, office: str
) -> None:
    secadmin, events = _as(store, fast, vault, Role.SECADMIN)
    assert active_policy(store).sha256 == load_policy().sha256  # none activated: the default
    changed = POLICY.replace(b"version: 1.1.0", b"version: 1.1.1", 1)
    made = secadmin.activate_policy(changed, "quarterly review")
    assert (made.version, made.activated_by) == ("1.1.1", f"secadmin:{ADMINS[Role.SECADMIN]}")
    assert active_policy(store).policy.version == "1.1.1"
    assert events[-1].subject.endswith(made.sha256) and events[-1].outcome == "ok"  # type: ignore[union-attr]
    with pytest.raises(PolicyError):
        secadmin.activate_policy(b"id: x\n", "broken")
    assert events[-1].outcome == "invalid" and len(activations(store)) == 1
    Trail(store, fast).checkpoint()
    report = verify(store, fast)
    assert report["ok"] and "policies" in report["covered_tables"], report
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE policies SET text = replace(text, '1.1.1', '1.1.2')"))
    assert not verify(store, fast)["ok"]
    with pytest.raises(PolicyError, match="SHA-256"):
        policy_of(store, made.number)
