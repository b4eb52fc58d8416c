"""Accounts, logins, tokens and sessions on every backend (SPEC R26, R38)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.errors import AuthError, InvalidIdNumber
from fpcredit.guard.access import NATIONAL_REGION, ROLE_PURPOSES, Purpose, Role
from fpcredit.guard.auth import accounts, clients
from fpcredit.guard.auth import passwords as pw
from fpcredit.guard.auth.identity import Authenticator
from fpcredit.guard.auth.tokens import TOKEN_KEY_FILE
from fpcredit.guard.keys.crypto import Vault
from fpcredit.notify.sms import list_outbox
from fpcredit.standard.idcard import check_digit
from fpcredit.store import schema as s
from fpcredit.store.db import Store

START = dt.datetime(2026, 3, 2, 8, 0, 0)
PASSWORD = "Qz8#wLm4vT"
PASSWORD2 = "Vx5!nRt9qL"  # a later password: the last five may not come back
ID_NUMBER = "33010619900101107" + check_digit("33010619900101107")  # ends in X
PHONE = "13812345678"


@dataclass
class Clock:
    now: dt.datetime = START

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@dataclass
class Recorder:
    sent: list[tuple[str, str]] = field(default_factory=list)

    def send(self, phone: str, message: str) -> None:
        self.sent.append((phone, message))


@pytest.fixture
def fast(settings: Settings) -> Settings:
    # Cheap Argon2 parameters keep the suite fast; production uses RFC 9106's.
    return settings.model_copy(
        update={"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1}
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def auth(store: Store, fast: Settings, vault: Vault, clock: Clock) -> Iterator[Authenticator]:
    yield Authenticator(store, fast, vault=vault, clock=clock)


def enrol(
    store: Store, fast: Settings, vault: Vault, clock: Clock, **kw: object
) -> accounts.Enrolment:
    args: dict[str, object] = {"role": Role.COUNTY, "region": "330106", "username": "wangfang"}
    args.update(kw)
    return accounts.add_user(
        store,
        args["role"],  # type: ignore[arg-type]
        str(args["region"]),
        str(args["username"]),
        args.get("password", PASSWORD),  # type: ignore[arg-type]
        settings=fast,
        vault=vault,
        now=clock(),
    )


def code(secret: str, clock: Clock) -> str:
    return pw.totp_code(secret, clock())


def refused(code_: str, call: object, *args: object, **kw: object) -> AuthError:
    with pytest.raises(AuthError) as caught:
        call(*args, **kw)  # type: ignore[operator]
    assert caught.value.code == code_, str(caught.value)
    return caught.value


# --- accounts ------------------------------------------------------------------------------


def test_add_user_hands_out_the_secret_once_and_stores_none_in_plaintext(
    store: Store, fast: Settings, vault: Vault, clock: Clock
) -> None:
    made = enrol(store, fast, vault, clock, password=None, username="WangFang ")
    assert made.user.username == "wangfang" and made.user.role is Role.COUNTY
    assert made.user.must_change and made.password is not None
    assert pw.password_problem(made.password) is None
    assert (
        made.provisioning_uri.startswith("otpauth://totp/")
        and made.totp_secret in made.provisioning_uri
    )
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(s.users)).one()
    assert row.password_hash.startswith("$argon2id$") and made.password not in row.password_hash
    assert vault.decrypt(row.totp_secret_enc, "totp_secret") == made.totp_secret
    assert made.totp_secret.encode() not in bytes(row.totp_secret_enc)
    chosen = enrol(store, fast, vault, clock, username="lina")
    assert chosen.password is None and not chosen.user.must_change


def test_usernames_are_unique_personal_and_well_formed(
    store: Store, fast: Settings, vault: Vault, clock: Clock
) -> None:
    enrol(store, fast, vault, clock)
    refused("user_exists", enrol, store, fast, vault, clock, username="WANGFANG")
    for name in ("admin", "root", "guest", "test"):
        refused("reserved_username", enrol, store, fast, vault, clock, username=name)
    for name in ("ab", "1abc", "wang fang", "王芳", "x" * 40):
        refused("bad_username", enrol, store, fast, vault, clock, username=name)
    refused(
        "weak_password", enrol, store, fast, vault, clock, username="lina", password="password1"
    )
    assert [u.username for u in accounts.list_users(store)] == ["wangfang"]


REGION_CASES: list[tuple[Role | str, str, bool]] = [
    (Role.NATIONAL, NATIONAL_REGION, True),
    (Role.NATIONAL, "330000", False),
    (Role.PROVINCE, "330000", True),
    (Role.PROVINCE, "990000", False),  # no such province
    (Role.PROVINCE, "330100", False),
    (Role.CITY, "330100", True),
    (Role.CITY, "330106", False),
    (Role.COUNTY, "330106", True),
    (Role.COUNTY, "330199", False),  # the table lists Hangzhou's counties, not this one
    (Role.COUNTY, "33010", False),
    (Role.COUNTY, NATIONAL_REGION, False),
    (Role.AUDITOR, NATIONAL_REGION, True),
    (Role.AUDITOR, "330000", True),
    ("department", NATIONAL_REGION, False),
    ("citizen", NATIONAL_REGION, False),
    ("superuser", NATIONAL_REGION, False),
]


def test_roles_are_bound_to_regions_of_their_level(
    store: Store, fast: Settings, vault: Vault, clock: Clock
) -> None:
    for n, (role, region, ok) in enumerate(REGION_CASES):
        name = f"clerk{n}"
        if ok:
            made = enrol(store, fast, vault, clock, role=role, region=region, username=name)
            assert made.user.region == region, (role, region)
        else:
            with pytest.raises(AuthError) as caught:
                enrol(store, fast, vault, clock, role=role, region=region, username=name)
            assert caught.value.code in ("bad_region", "bad_role"), (role, region)


# --- staff logins --------------------------------------------------------------------------


def test_staff_login_gives_a_principal_of_the_role_and_region(
    store: Store, fast: Settings, vault: Vault, clock: Clock, auth: Authenticator
) -> None:
    made = enrol(store, fast, vault, clock)
    issued = auth.login_staff("WangFang", PASSWORD, code(made.totp_secret, clock))
    assert "token=" not in repr(issued) and issued.token not in repr(issued)
    assert issued.expires_at == START + dt.timedelta(seconds=300)
    principal = auth.authenticate(issued.token)
    assert principal == issued.principal
    assert (principal.role, principal.subject, principal.region) == (
        Role.COUNTY,
        "wangfang",
        "330106",
    )
    assert principal.purposes == ROLE_PURPOSES[Role.COUNTY]
    assert principal.scope == "330106" and principal.may(Purpose.CREDIT_EVALUATION)


def test_a_one_time_password_must_be_changed_at_the_first_login(
    store: Store, fast: Settings, vault: Vault, clock: Clock, auth: Authenticator
) -> None:
    made = enrol(store, fast, vault, clock, password=None)
    assert made.password is not None
    totp = code(made.totp_secret, clock)
    refused("password_change_required", auth.login_staff, "wangfang", made.password, totp)
    weak = refused("weak_password", auth.login_staff, "wangfang", made.password, totp, "short")
    assert weak.reason == "too_short"
    refused("weak_password", auth.login_staff, "wangfang", made.password, totp, made.password)
    # Neither refusal used up the TOTP code.
    auth.login_staff("wangfang", made.password, totp, new_password=PASSWORD)
    assert not accounts.get_user(store, "wangfang").must_change
    clock.advance(seconds=30)
    refused(
        "bad_credentials",
        auth.login_staff,
        "wangfang",
        made.password,
        code(made.totp_secret, clock),
    )
    auth.login_staff("wangfang", PASSWORD, code(made.totp_secret, clock))


def test_totp_is_required_checked_and_never_accepted_twice(
    store: Store, fast: Settings, vault: Vault, clock: Clock, auth: Authenticator
) -> None:
    made = enrol(store, fast, vault, clock)
    for missing in ("", "12345", "abcdef"):
        refused("totp_required", auth.login_staff, "wangfang", PASSWORD, missing)
    wrong = f"{(int(code(made.totp_secret, clock)) + 1) % 10**6:06d}"
    refused("bad_credentials", auth.login_staff, "wangfang", PASSWORD, wrong)
    # A code from one step ago still works (clock drift) …
    auth.login_staff(
        "wangfang", PASSWORD, pw.totp_code(made.totp_secret, START - dt.timedelta(seconds=30))
    )
    # … and a code is good once: the current one works, then neither it nor the older one does.
    current = code(made.totp_secret, clock)
    auth.login_staff("wangfang", PASSWORD, current)
    clock.advance(seconds=10)
    refused("bad_credentials", auth.login_staff, "wangfang", PASSWORD, current)
    clock.advance(seconds=20)
    auth.login_staff("wangfang", PASSWORD, code(made.totp_secret, clock))


def test_five_failures_lock_for_fifteen_minutes_even_against_the_right_password(
    store: Store, fast: Settings, vault: Vault, clock: Clock, auth: Authenticator
) -> None:
    made = enrol(store, fast, vault, clock)
    for _ in range(4):
        refused("bad_credentials", auth.login_staff, "wangfang", "Wrong#pass1", "000000")
        clock.advance(seconds=1)
    lock = refused("locked", auth.login_staff, "wangfang", "Wrong#pass1", "000000")
    assert lock.until == clock() + dt.timedelta(minutes=15)
    clock.advance(minutes=14, seconds=59)
    again = refused("locked", auth.login_staff, "wangfang", PASSWORD, code(made.totp_secret, clock))
    assert again.until == lock.until and f"{lock.until:%Y-%m-%d %H:%M}" in str(again)
    clock.advance(seconds=1)
    auth.login_staff("wangfang", PASSWORD, code(made.totp_secret, clock))
    # Success clears the count: four more failures do not lock.
    for _ in range(4):
        refused("bad_credentials", auth.login_staff, "wangfang", "Wrong#pass1", "000000")
    assert accounts.get_user(store, "wangfang").locked_until is None


def test_wrong_totp_counts_as_a_failure_and_unknown_users_look_the_same(
    store: Store, fast: Settings, vault: Vault, clock: Clock, auth: Authenticator
) -> None:
    enrol(store, fast, vault, clock)
    for _ in range(4):
        refused("bad_credentials", auth.login_staff, "wangfang", PASSWORD, "000000")
    refused("locked", auth.login_staff, "wangfang", PASSWORD, "000000")
    for _ in range(6):
        refused("bad_credentials", auth.login_staff, "nobody", PASSWORD, "000000")


def test_accounts_unused_for_ninety_days_are_disabled_at_login(
    store: Store, fast: Settings, vault: Vault, clock: Clock, auth: Authenticator
) -> None:
    made = enrol(store, fast, vault, clock)
    enrol(store, fast, vault, clock, username="lina")
    clock.advance(days=89, hours=23)
    auth.login_staff("wangfang", PASSWORD, code(made.totp_secret, clock))
    clock.advance(hours=1)  # lina: 90 days; wangfang logged in an hour ago
    assert accounts.disable_dormant_users(store, settings=fast, now=clock()) == ["lina"]
    clock.advance(days=90)
    refused("dormant", auth.login_staff, "wangfang", PASSWORD, code(made.totp_secret, clock))
    user = accounts.get_user(store, "wangfang")
    assert user.disabled_reason == "dormant" and user.disabled_at == clock()
    reset = accounts.reset_user(store, "wangfang", settings=fast, vault=vault, now=clock())
    assert reset.password is not None and reset.totp_secret != made.totp_secret
    assert accounts.get_user(store, "wangfang").disabled_at is None
    auth.login_staff(
        "wangfang", reset.password, code(reset.totp_secret, clock), new_password=PASSWORD2
    )


def test_disable_ends_sessions_and_reset_unlocks_with_new_secrets(
    store: Store, fast: Settings, vault: Vault, clock: Clock, auth: Authenticator
) -> None:
    made = enrol(store, fast, vault, clock)
    token = auth.login_staff("wangfang", PASSWORD, code(made.totp_secret, clock)).token
    accounts.disable_user(store, "wangfang", now=clock())
    refused("session_closed", auth.authenticate, token)
    clock.advance(seconds=30)
    refused("disabled", auth.login_staff, "wangfang", PASSWORD, code(made.totp_secret, clock))
    accounts.reset_user(store, "wangfang", settings=fast, vault=vault, now=clock())
    # A reset does not re-enable.
    assert accounts.get_user(store, "wangfang").disabled_reason == "admin"
    accounts.enable_user(store, "wangfang", now=clock())
    for _ in range(5):
        refused_code = "bad_credentials" if _ < 4 else "locked"
        refused(refused_code, auth.login_staff, "wangfang", "Wrong#pass1", "000000")
    reset = accounts.reset_user(store, "wangfang", settings=fast, vault=vault, now=clock())
    assert reset.password is not None and accounts.get_user(store, "wangfang").locked_until is None
    refused(
        "bad_credentials", auth.login_staff, "wangfang", PASSWORD, code(made.totp_secret, clock)
    )
    auth.login_staff("wangfang", reset.password, code(reset.totp_secret, clock), PASSWORD2)
    refused("unknown_user", accounts.disable_user, store, "nobody")


def test_a_password_hashed_with_old_parameters_is_rehashed_at_login(
    store: Store, fast: Settings, vault: Vault, clock: Clock
) -> None:
    made = enrol(store, fast, vault, clock)
    stronger = fast.model_copy(update={"argon2_time_cost": 2})
    Authenticator(store, stronger, vault=vault, clock=clock).login_staff(
        "wangfang", PASSWORD, code(made.totp_secret, clock)
    )
    with store.engine.connect() as conn:
        stored = conn.scalar(sa.select(s.users.c.password_hash))
    assert stored is not None and "t=2" in stored


# --- tokens and sessions -------------------------------------------------------------------


def test_tokens_expire_and_sessions_close_after_fifteen_idle_minutes(
    store: Store, fast: Settings, vault: Vault, clock: Clock, auth: Authenticator
) -> None:
    made = enrol(store, fast, vault, clock)
    token = auth.login_staff("wangfang", PASSWORD, code(made.totp_secret, clock)).token
    clock.advance(seconds=299)
    auth.authenticate(token)
    clock.advance(seconds=1)
    refused("expired", auth.authenticate, token)
    # An expired token still refreshes while its session is in use …
    clock.advance(minutes=14, seconds=58)
    token = auth.refresh(token).token
    auth.authenticate(token)
    # … but not after 15 idle minutes: then the session is closed for good.
    clock.advance(minutes=15)
    refused("session_idle", auth.refresh, token)
    refused("session_closed", auth.refresh, token)


def test_a_caller_seen_within_a_second_is_known_without_the_store(
    store: Store, fast: Settings, vault: Vault, clock: Clock, auth: Authenticator
) -> None:
    """authenticate_known: the service's fast path answers only what authenticate just
    answered, and never for a forged, expired or logged-out token."""
    made = enrol(store, fast, vault, clock)
    token = auth.login_staff("wangfang", PASSWORD, code(made.totp_secret, clock)).token
    assert auth.authenticate_known("not-a-token") is None
    principal = auth.authenticate(token)
    assert auth.authenticate_known(token) == principal
    clock.advance(seconds=1)  # the session must be looked at again, by one caller …
    assert auth.authenticate_known(token) is None
    assert auth.authenticate_known(token) == principal  # … while the others go on
    # That one caller finds the session closed (by another process): nobody is let in.
    with store.engine.begin() as conn:
        conn.execute(s.sessions.update().values(closed_at=clock(), closed_reason="logout"))
    refused("session_closed", auth.authenticate, token)
    assert auth.authenticate_known(token) is None
    with store.engine.begin() as conn:
        conn.execute(s.sessions.update().values(closed_at=None, closed_reason=None))
    auth.authenticate(token)
    assert auth.authenticate_known(token) == principal
    clock.advance(seconds=298.5)
    auth.authenticate(token)
    clock.advance(seconds=0.5)  # expired, though its session was seen half a second ago
    assert auth.authenticate_known(token) is None
    refused("expired", auth.authenticate, token)
    token = auth.refresh(token).token
    auth.authenticate(token)
    auth.logout(token)
    assert auth.authenticate_known(token) is None


def test_logout_closes_the_session_and_forged_tokens_are_refused(
    store: Store,
    fast: Settings,
    vault: Vault,
    clock: Clock,
    auth: Authenticator,
    settings: Settings,
) -> None:
    made = enrol(store, fast, vault, clock)
    token = auth.login_staff("wangfang", PASSWORD, code(made.totp_secret, clock)).token
    head, body, sig = token.split(".")
    refused("invalid_token", auth.authenticate, f"{head}.{body}.{sig[::-1]}")
    refused("invalid_token", auth.authenticate, "not-a-token")
    auth.logout(token)
    auth.logout(token)
    refused("session_closed", auth.authenticate, token)
    key = (settings.keys_dir / TOKEN_KEY_FILE).read_bytes()
    assert (settings.keys_dir / TOKEN_KEY_FILE).stat().st_mode & 0o077 == 0
    assert key not in repr(auth).encode()


# --- department clients --------------------------------------------------------------------


def test_department_clients_log_in_with_their_registered_purposes(
    store: Store, fast: Settings, clock: Clock, auth: Authenticator
) -> None:
    client_id, secret = clients.add_client(
        store,
        "health",
        [Purpose.INCENTIVE_VERIFICATION, "data_quality"],
        settings=fast,
        now=clock(),
    )
    assert client_id.startswith("health-") and len(secret) >= 40
    add = clients.add_client
    refused("client_exists", add, store, "health", ["data_quality"], settings=fast)
    refused("bad_source", add, store, "insurer", ["data_quality"], settings=fast)
    refused("bad_purpose", add, store, "police", ["credit_evaluation"], settings=fast)
    refused("bad_purpose", add, store, "police", ["marketing"], settings=fast)
    refused("bad_purpose", add, store, "police", [], settings=fast)
    principal = auth.authenticate(auth.login_client(client_id, secret).token)
    assert (principal.role, principal.subject, principal.source) == (
        Role.DEPARTMENT,
        client_id,
        "health",
    )
    assert principal.purposes == {Purpose.INCENTIVE_VERIFICATION, Purpose.DATA_QUALITY}
    assert not principal.may(Purpose.SERVICE_DELIVERY)
    refused("bad_credentials", auth.login_client, client_id, secret + "x")
    refused("bad_credentials", auth.login_client, "health-00000000", secret)
    clients.disable_client(store, client_id, now=clock())
    refused("disabled", auth.login_client, client_id, secret)
    assert clients.list_clients(store)[0].disabled_at == clock()
    clients.add_client(store, "health", ["data_quality"], settings=fast)  # the replacement


# --- citizens ------------------------------------------------------------------------------


def file_person(store: Store, vault: Vault, id_number: str, phone: str | None) -> int:
    """A filed person with one record carrying the phone (as ingestion and linkage write it)."""
    with store.engine.begin() as conn:
        ingestion = conn.execute(
            s.ingestions.insert()
            .returning(s.ingestions.c.id)
            .values(
                source="health",
                path="x.csv",
                file_sha256="0" * 64,
                standard_version="1.1.0",
                rows=1,
                accepted=1,
                duplicates=0,
                quarantined=0,
                flagged=0,
                dropped_fields="[]",
                started_at=START,
                finished_at=START,
            )
        ).scalar_one()
        record = conn.execute(
            s.records.insert()
            .returning(s.records.c.id)
            .values(
                source="health",
                record_key=id_number[-6:],
                row_hash="1" * 64,
                kind="birth",
                event_date=START.date(),
                recorded_at=START,
                ingestion_id=ingestion,
                row_number=1,
            )
        ).scalar_one()
        person = conn.execute(
            s.persons.insert()
            .returning(s.persons.c.id)
            .values(
                created_at=START,
                mentions=1,
                hukou_region="330106",
                id_number_enc=vault.encrypt(id_number, "id_number"),
                id_number_bidx=vault.blind_index(id_number, "id_number"),
            )
        ).scalar_one()
        mention = conn.execute(
            s.mentions.insert()
            .returning(s.mentions.c.id)
            .values(
                record_id=record,
                role="mother",
                id_status="valid",
                id_number_enc=vault.encrypt(id_number, "id_number"),
                id_number_bidx=vault.blind_index(id_number, "id_number"),
                phone_enc=vault.encrypt(phone, "phone"),
            )
        ).scalar_one()
        conn.execute(
            s.links.insert().values(mention_id=mention, person_id=person, **{"pass": "id"})
        )
    return int(person)


def sent_code(auth: Authenticator, vault: Vault) -> str:
    text = str(list_outbox(auth.store, vault)[-1]["text"])
    return next(w for w in text.replace("，", " ").split() if w.isdigit() and len(w) == 6)


def test_citizen_logs_in_with_a_one_time_code_sent_to_the_phone_on_file(
    store: Store, vault: Vault, clock: Clock, auth: Authenticator
) -> None:
    person = file_person(store, vault, ID_NUMBER, PHONE)
    auth.request_citizen_code(ID_NUMBER[:-1] + ID_NUMBER[-1].lower())  # 'x' is accepted too
    [message] = list_outbox(store, vault)
    assert message["recipient"] == "138****5678" and message["channel"] == "sms"
    code_ = sent_code(auth, vault)
    assert f"{code_}" in message["text"] and "5" in message["text"]
    principal = auth.authenticate(auth.login_citizen(ID_NUMBER, code_).token)
    assert (principal.role, principal.subject) == (Role.CITIZEN, str(person))
    assert principal.purposes == {Purpose.SELF_SERVICE} and principal.region == "330106"
    refused("bad_code", auth.login_citizen, ID_NUMBER, code_)  # single use


def test_citizen_codes_expire_burn_after_five_wrong_tries_and_are_throttled(
    store: Store, vault: Vault, clock: Clock, auth: Authenticator
) -> None:
    file_person(store, vault, ID_NUMBER, PHONE)
    auth.request_citizen_code(ID_NUMBER)
    first = sent_code(auth, vault)
    clock.advance(seconds=30)
    auth.request_citizen_code(ID_NUMBER)  # too soon: no second message
    assert len(list_outbox(store, vault)) == 1
    clock.advance(minutes=4, seconds=30)
    refused("bad_code", auth.login_citizen, ID_NUMBER, first)  # 5 minutes old
    auth.request_citizen_code(ID_NUMBER)
    second = sent_code(auth, vault)
    wrong = f"{(int(second) + 1) % 10**6:06d}"
    for _ in range(5):
        refused("bad_code", auth.login_citizen, ID_NUMBER, wrong)
    refused("bad_code", auth.login_citizen, ID_NUMBER, second)  # burnt
    clock.advance(minutes=1)
    auth.request_citizen_code(ID_NUMBER)
    third = sent_code(auth, vault)
    clock.advance(minutes=4, seconds=59)
    auth.login_citizen(ID_NUMBER, third)


def test_unknown_numbers_get_the_same_answer_but_no_code_and_invalid_ones_are_refused(
    store: Store, vault: Vault, auth: Authenticator
) -> None:
    other = "11010519491231002X"
    auth.request_citizen_code(other)  # returns normally, like for a filed person
    no_phone = "33010619900101130" + check_digit("33010619900101130")
    file_person(store, vault, no_phone, None)
    auth.request_citizen_code(no_phone)
    assert list_outbox(store, vault) == []
    refused("bad_code", auth.login_citizen, other, "123456")
    with pytest.raises(InvalidIdNumber) as caught:
        auth.request_citizen_code(ID_NUMBER[:-1] + ("0" if ID_NUMBER[-1] != "0" else "1"))
    assert caught.value.reason == "check_digit"
    with pytest.raises(InvalidIdNumber):
        auth.login_citizen("123", "123456")


def test_biometric_verification_refuses_until_configured_and_keeps_nothing(
    store: Store, fast: Settings, vault: Vault, clock: Clock, auth: Authenticator
) -> None:
    person = file_person(store, vault, ID_NUMBER, PHONE)
    refused("biometric_not_configured", auth.verify_holder, ID_NUMBER, b"face")
    seen: list[tuple[int, bytes]] = []

    class Fake:
        def verify(self, person_id: int, evidence: bytes) -> bool:
            seen.append((person_id, evidence))
            return evidence == b"face"

    checker = Authenticator(store, fast, vault=vault, clock=clock, verifier=Fake())
    assert checker.verify_holder(ID_NUMBER, b"face") and not checker.verify_holder(ID_NUMBER, b"x")
    assert not checker.verify_holder("11010519491231002X", b"face")
    assert seen == [(person, b"face"), (person, b"x")]
    with pytest.raises(InvalidIdNumber):
        checker.verify_holder("110105194912310021", b"face")


# --- nothing secret at rest ----------------------------------------------------------------


def test_no_identity_table_holds_a_password_secret_id_number_or_phone(
    store: Store, fast: Settings, vault: Vault, clock: Clock, auth: Authenticator
) -> None:
    made = enrol(store, fast, vault, clock, password=None)
    assert made.password is not None
    auth.login_staff("wangfang", made.password, code(made.totp_secret, clock), PASSWORD)
    client_id, client_secret = clients.add_client(store, "police", ["data_quality"], settings=fast)
    client_token = auth.login_client(client_id, client_secret).token
    file_person(store, vault, ID_NUMBER, PHONE)
    auth.request_citizen_code(ID_NUMBER)
    citizen_code = sent_code(auth, vault)
    citizen_token = auth.login_citizen(ID_NUMBER, citizen_code).token
    secrets = [made.password, PASSWORD, made.totp_secret, client_secret, ID_NUMBER, PHONE]
    secrets += [client_token, citizen_token, f"验证码为 {citizen_code}"]
    forms = [x.encode() for x in secrets] + [x.encode("utf-16-le") for x in secrets]
    key = (fast.keys_dir / TOKEN_KEY_FILE).read_bytes()
    forms += [key, vault.index_key, *vault.keys.values()]
    tables = (s.users, s.clients, s.sessions, s.citizen_codes, s.outbox)
    scanned = 0
    with store.engine.connect() as conn:
        for table in tables:
            for row in conn.execute(sa.select(table)).mappings():
                for value in row.values():
                    if isinstance(value, str | bytes | memoryview):
                        blob = value.encode() if isinstance(value, str) else bytes(value)
                        scanned += 1
                        assert not any(f in blob for f in forms), table.name
    assert scanned > 20
