"""The edges of identity (issue 21): password history, reserved names, sessions as the only
truth of a caller, and citizen codes whose handling does not tell who is filed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.errors import AuthError
from fpcredit.guard.access import NATIONAL_REGION, ROLE_PURPOSES, Role
from fpcredit.guard.auth import accounts, clients
from fpcredit.guard.auth.citizens import CodeQueue
from fpcredit.guard.auth.identity import Authenticator
from fpcredit.guard.auth.tokens import TOKEN_KEY_FILE, load_token_key
from fpcredit.guard.keys.crypto import Vault
from fpcredit.notify.sms import list_outbox
from fpcredit.service import initialise, open_ready_store
from fpcredit.standard.idcard import check_digit
from fpcredit.store import schema as s
from fpcredit.store.db import Store
from tests.guard.test_identity import (
    ID_NUMBER,
    PASSWORD,
    PHONE,
    Clock,
    code,
    enrol,
    file_person,
    refused,
    sent_code,
)

UNFILED = "11010519491231002X"


@pytest.fixture
def fast(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1}
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def auth(store: Store, fast: Settings, vault: Vault, clock: Clock) -> Iterator[Authenticator]:
    made = Authenticator(store, fast, vault=vault, clock=clock)
    yield made
    made.codes.close()


# --- passwords -----------------------------------------------------------------------------


def test_none_of_the_last_five_passwords_comes_back_one_time_ones_included(
    store: Store, fast: Settings, vault: Vault, clock: Clock, auth: Authenticator
) -> None:
    made = enrol(store, fast, vault, clock, password=None)
    first_otp, secret = made.password, made.totp_secret
    assert first_otp is not None

    def change(old: str, new: str) -> None:
        clock.advance(seconds=30)  # a TOTP code is good once
        auth.login_staff("wangfang", old, code(secret, clock), new)

    def reused(old: str, new: str) -> None:
        clock.advance(seconds=30)
        totp = code(secret, clock)
        error = refused("weak_password", auth.login_staff, "wangfang", old, totp, new)
        assert error.reason == "reused"

    reused(first_otp, first_otp)
    change(first_otp, "Lk4#pWz8Rt")
    reset = accounts.reset_user(store, "wangfang", settings=fast, vault=vault, now=clock())
    assert reset.password is not None
    secret = reset.totp_secret
    # The probe of issue 21: the previous one-time password was accepted as the new one.
    reused(reset.password, first_otp)
    reused(reset.password, "Lk4#pWz8Rt")
    change(reset.password, "Mv7!qXe2Ns")
    change("Mv7!qXe2Ns", "Hb3$kTy6Wd")
    change("Hb3$kTy6Wd", "Gc9%rJu5Pf")
    # The last five: Gc9…, Hb3…, Mv7…, the second one-time password, Lk4…
    for old in ("Gc9%rJu5Pf", "Hb3$kTy6Wd", "Mv7!qXe2Ns", reset.password, "Lk4#pWz8Rt"):
        reused("Gc9%rJu5Pf", old)
    change("Gc9%rJu5Pf", first_otp)  # the sixth back may return
    with store.engine.connect() as conn:
        kept = conn.scalar(sa.select(sa.func.count()).select_from(s.password_history))
    assert kept == 5


def test_a_common_password_is_refused_at_enrolment_and_at_a_change(
    store: Store, fast: Settings, vault: Vault, clock: Clock, auth: Authenticator
) -> None:
    for common in ("Password1", "Qwerty123", "P@ssw0rd"):
        error = refused("weak_password", enrol, store, fast, vault, clock, password=common)
        assert error.reason == "common"
    made = enrol(store, fast, vault, clock)
    totp = code(made.totp_secret, clock)
    error = refused("weak_password", auth.login_staff, "wangfang", PASSWORD, totp, "Qwerty123")
    assert error.reason == "common"
    auth.login_staff("wangfang", PASSWORD, totp)  # the refusal did not use up the code


# --- usernames -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["Admin2", "admin2", "root_1", "test-user", "sysadmin", "webadmin", "guest.01", "superuser",
     "demo3", "liuserong"],
)  # fmt: skip
def test_usernames_holding_a_reserved_word_are_refused(
    store: Store, fast: Settings, vault: Vault, clock: Clock, name: str
) -> None:
    error = refused("reserved_username", enrol, store, fast, vault, clock, username=name)
    assert name.lower() in str(error)


@pytest.mark.parametrize("name", ["wangfang", "li.na", "zhang-wei", "liu.serong", "chen_jing2"])
def test_personal_usernames_pass(
    store: Store, fast: Settings, vault: Vault, clock: Clock, name: str
) -> None:
    assert enrol(store, fast, vault, clock, username=name).user.username == name


# --- sessions are the truth ----------------------------------------------------------------


def test_role_and_region_come_from_the_session_never_from_the_token(
    store: Store,
    fast: Settings,
    vault: Vault,
    clock: Clock,
    auth: Authenticator,
) -> None:
    """The probe of issue 21: with the signing key, a token claiming role=national overrode
    its session. Now the token names the session only, and the session row decides."""
    made = enrol(store, fast, vault, clock)
    token = auth.login_staff("wangfang", PASSWORD, code(made.totp_secret, clock)).token
    key = load_token_key(fast.keys_dir)
    payload = jwt.decode(token, key, algorithms=["HS256"], options={"verify_exp": False})
    assert set(payload) == {"iss", "sub", "sid", "iat", "exp"}
    minted = jwt.encode(
        {**payload, "role": "national", "region": NATIONAL_REGION, "purposes": ["audit"]},
        key,
        algorithm="HS256",
    )
    refused("invalid_token", auth.authenticate, minted)
    other = jwt.encode({**payload, "sub": "someone"}, key, algorithm="HS256")
    refused("invalid_token", auth.authenticate, other)  # a session names its own subject
    fresh = Authenticator(store, fast, vault=vault, clock=clock)  # nothing cached
    principal = fresh.authenticate(jwt.encode(payload, key, algorithm="HS256"))
    assert (principal.role, principal.region) == (Role.COUNTY, "330106")
    assert principal.purposes == ROLE_PURPOSES[Role.COUNTY]
    # The row is sealed: one changed behind the platform's back (a caller made national by an
    # UPDATE) is refused at the next recheck, on the fast path too.
    with store.engine.begin() as conn:
        conn.execute(s.sessions.update().values(region="000000", purposes='["supervision"]'))
    clock.advance(seconds=1)
    assert auth.authenticate_known(token) is None  # this caller rechecks
    refused("invalid_token", auth.authenticate, token)


def test_sessions_hold_what_each_kind_of_caller_may_do(
    store: Store, fast: Settings, vault: Vault, clock: Clock, auth: Authenticator
) -> None:
    client_id, secret = clients.add_client(store, "health", ["data_quality"], settings=fast)
    auth.login_client(client_id, secret)
    file_person(store, vault, ID_NUMBER, PHONE)
    auth.request_citizen_code(ID_NUMBER)
    auth.login_citizen(ID_NUMBER, sent_code(auth, vault))
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(s.sessions.c.role, s.sessions.c.region, s.sessions.c.purposes,
                      s.sessions.c.source).order_by(s.sessions.c.role)
        ).all()  # fmt: skip
    assert [tuple(r) for r in rows] == [
        ("citizen", "330106", '["self_service"]', None),
        ("department", NATIONAL_REGION, '["data_quality"]', "health"),
    ]
    assert (fast.keys_dir / TOKEN_KEY_FILE).stat().st_mode & 0o777 == 0o600


# --- citizen codes -------------------------------------------------------------------------


def _work(store: Store, call: object) -> tuple[list[str], int]:
    """The SQL statements and keyed hashes a call makes (parameters aside)."""
    statements: list[str] = []
    hashes = 0
    real, real_many = Vault.blind_index, Vault.blind_indexes

    def count(self: Vault, *args: object, **kw: object) -> object:
        nonlocal hashes
        hashes += 1
        return real(self, *args, **kw)  # type: ignore[arg-type]

    def count_many(self: Vault, *args: object, **kw: object) -> object:
        nonlocal hashes
        hashes += 1  # the lookup's indexes: one computation of the number's index(es)
        return real_many(self, *args, **kw)  # type: ignore[arg-type]

    def seen(conn: object, cursor: object, statement: str, *rest: object) -> None:
        statements.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", seen)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Vault, "blind_index", count)
        patch.setattr(Vault, "blind_indexes", count_many)
        try:
            with pytest.raises(AuthError) as caught:
                call()  # type: ignore[operator]
            assert caught.value.code == "bad_code"
        finally:
            sa.event.remove(store.engine, "before_cursor_execute", seen)
    return statements, hashes


def test_an_unfiled_number_costs_a_login_the_work_of_a_wrong_code(
    store: Store, vault: Vault, auth: Authenticator
) -> None:
    file_person(store, vault, ID_NUMBER, PHONE)
    auth.request_citizen_code(ID_NUMBER)
    wrong = f"{(int(sent_code(auth, vault)) + 1) % 10**6:06d}"
    filed = _work(store, lambda: auth.login_citizen(ID_NUMBER, wrong))
    unfiled = _work(store, lambda: auth.login_citizen(UNFILED, wrong))
    assert filed == unfiled
    assert filed[1] == 2  # the number's blind index and the code's keyed hash, both times


def test_a_code_request_is_answered_before_any_lookup_and_the_same_for_everyone(
    store: Store, vault: Vault, auth: Authenticator
) -> None:
    file_person(store, vault, ID_NUMBER, PHONE)
    no_phone = "33010619900101130" + check_digit("33010619900101130")
    file_person(store, vault, no_phone, None)
    with auth.codes.held():  # the sender does nothing until the block ends
        for number in (ID_NUMBER, UNFILED, no_phone):
            assert auth.queue_citizen_code(number) is None
        assert list_outbox(store, vault) == []
    auth.codes.drain()
    [message] = list_outbox(store, vault)
    assert message["recipient"] == "138****5678"


def test_a_full_queue_drops_requests_and_still_answers() -> None:
    handled: list[str] = []
    queue = CodeQueue(handled.append, size=1)
    with queue.held():
        for n in range(4):
            queue.submit(f"n{n}")  # returns at once, queue full or not
    queue.drain()
    queue.close()
    # At most one request in the worker's hands and one in the queue: two or more dropped.
    assert queue.dropped >= 2 and len(handled) == 4 - queue.dropped
    assert handled == sorted(handled)


def test_a_failing_request_does_not_stop_the_sender() -> None:
    seen: list[str] = []

    def handle(number: str) -> None:
        seen.append(number)
        if number == "bad":
            raise RuntimeError("the store went away")

    queue = CodeQueue(handle, size=10)
    for number in ("bad", "good"):
        queue.submit(number)
    queue.drain()
    queue.close()
    assert seen == ["bad", "good"]


# --- the home ------------------------------------------------------------------------------


def test_the_home_is_created_private_and_tightened_at_every_open(tmp_path: Path) -> None:
    """The probe of issue 21: FPCREDIT_HOME was 0755."""
    fresh = tmp_path / "fresh" / "home"
    old = os.umask(0o022)
    try:
        initialise(Settings(home=fresh))
    finally:
        os.umask(old)
    assert fresh.stat().st_mode & 0o777 == 0o700
    assert (fresh / "keys").stat().st_mode & 0o777 == 0o700
    fresh.chmod(0o755)
    initialise(Settings(home=fresh))  # init again
    assert fresh.stat().st_mode & 0o777 == 0o700
    fresh.chmod(0o755)
    open_ready_store(Settings(home=fresh)).engine.dispose()  # any command's open
    assert fresh.stat().st_mode & 0o777 == 0o700
