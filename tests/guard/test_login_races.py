"""Logins at once on one account: no failure lost, no TOTP code used twice, no false alarm."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from fpcredit.config import Settings
from fpcredit.errors import AuthError
from fpcredit.guard.auth import clients
from fpcredit.guard.auth import passwords as pw
from fpcredit.guard.auth.identity import Authenticator
from fpcredit.guard.keys.crypto import Vault
from fpcredit.store.db import Store
from tests.guard.test_identity import (
    ID_NUMBER,
    PASSWORD,
    PHONE,
    Clock,
    enrol,
    file_person,
    sent_code,
)

_AT_ONCE = 8


def _together(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls in threads released at one moment; each result or the AuthError."""
    start = threading.Barrier(len(calls))
    out: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        start.wait()
        try:
            out[i] = calls[i]()
        except AuthError as e:
            out[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


@pytest.fixture
def slow_enough(settings: Settings) -> Settings:
    # Argon2 costly enough that attempts overlap, cheap enough for the suite.
    return settings.model_copy(
        update={"argon2_time_cost": 2, "argon2_memory_kib": 8192, "argon2_parallelism": 1}
    )


def test_failures_at_once_are_each_counted(
    store: Store, slow_enough: Settings, vault: Vault
) -> None:
    clock = Clock()
    made = enrol(store, slow_enough, vault, clock)
    auth = Authenticator(store, slow_enough, vault=vault, clock=clock)
    wrong = [
        lambda: auth.login_staff("wangfang", "Wrong#pass1", "000000")
        for _ in range(slow_enough.lockout_failures)
    ]
    answers = _together(wrong)
    assert all(isinstance(a, AuthError) for a in answers)
    # Every failure was counted: the account is locked, even against the right password.
    with pytest.raises(AuthError) as caught:
        auth.login_staff("wangfang", PASSWORD, pw.totp_code(made.totp_secret, clock()))
    assert caught.value.code == "locked"


def test_one_totp_code_lets_in_one_of_many_logins_at_once(
    store: Store, slow_enough: Settings, vault: Vault
) -> None:
    clock = Clock()
    made = enrol(store, slow_enough, vault, clock)
    auth = Authenticator(store, slow_enough, vault=vault, clock=clock)
    auth.login_staff(  # the one-time password changed, so later logins need only the code
        "wangfang", PASSWORD, pw.totp_code(made.totp_secret, clock()), "Another#pass2026"
    )
    clock.advance(seconds=60)
    code = pw.totp_code(made.totp_secret, clock())
    answers = _together([lambda: auth.login_staff("wangfang", "Another#pass2026", code)] * _AT_ONCE)
    let_in = [a for a in answers if not isinstance(a, AuthError)]
    assert len(let_in) == 1, answers
    # The others are replays: failures, counted (the fifth locks the account).
    assert {a.code for a in answers if isinstance(a, AuthError)} <= {"bad_credentials", "locked"}


def test_a_client_logging_in_many_times_at_once_is_never_taken_for_tampering(
    store: Store, slow_enough: Settings, vault: Vault, caplog: pytest.LogCaptureFixture
) -> None:
    client_id, secret = clients.add_client(store, "health", ["data_quality"], settings=slow_enough)
    auth = Authenticator(store, slow_enough, vault=vault, clock=Clock())
    for _ in range(3):
        answers = _together([lambda: auth.login_client(client_id, secret)] * _AT_ONCE)
        assert not [a for a in answers if isinstance(a, AuthError)], answers
    assert "does not match its seal" not in caplog.text


def _citizen_with_code(store: Store, settings: Settings, vault: Vault) -> tuple[Authenticator, str]:
    """A filed person with a phone, sent a code: the authenticator and the code."""
    auth = Authenticator(store, settings, vault=vault, clock=Clock())
    file_person(store, vault, ID_NUMBER, PHONE)
    auth.request_citizen_code(ID_NUMBER)
    return auth, sent_code(auth, vault)


def test_guesses_of_a_citizen_code_at_once_are_each_counted(
    store: Store, slow_enough: Settings, vault: Vault
) -> None:
    auth, right = _citizen_with_code(store, slow_enough, vault)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    guesses = slow_enough.otp_max_attempts + 3
    answers = _together([lambda: auth.login_citizen(ID_NUMBER, wrong)] * guesses)
    assert all(isinstance(a, AuthError) and a.code == "bad_code" for a in answers)
    # Burnt after the allowed number of tries, however many came at once.
    with pytest.raises(AuthError) as caught:
        auth.login_citizen(ID_NUMBER, right)
    assert caught.value.code == "bad_code"


def test_one_citizen_code_lets_in_one_of_many_logins_at_once(
    store: Store, slow_enough: Settings, vault: Vault
) -> None:
    auth, right = _citizen_with_code(store, slow_enough, vault)
    answers = _together([lambda: auth.login_citizen(ID_NUMBER, right)] * _AT_ONCE)
    assert len([a for a in answers if not isinstance(a, AuthError)]) == 1, answers
