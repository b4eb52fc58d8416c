"""Credential rules without a store: the password rule, Argon2id hashing, TOTP, tokens."""

from __future__ import annotations

import base64
import datetime as dt
import string
from pathlib import Path

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpcredit.config import Settings
from fpcredit.errors import AuthError
from fpcredit.guard.auth import passwords as pw
from fpcredit.guard.auth.tokens import (
    TOKEN_KEY_FILE,
    Claims,
    load_token_key,
    read_token,
    sign_token,
)
from fpcredit.messages import using_language

CLASSES = (string.ascii_lowercase, string.ascii_uppercase, string.digits, string.punctuation)
FAST = Settings(argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1)


def meets_rule(password: str) -> bool:
    """The rule restated independently: 8–128 printable ASCII, no space, ≥ 3 of 4 classes."""
    if not 8 <= len(password) <= 128:
        return False
    if any(not (33 <= ord(c) <= 126) for c in password):
        return False
    return sum(any(c in cls for c in password) for cls in CLASSES) >= 3


# Mostly class characters, with a few that are never allowed (space, full-width, CJK, control).
_CHARS = st.sampled_from(string.ascii_letters + string.digits + string.punctuation + " 　Ａ密\t")


RULE_REASONS = {"too_short", "too_long", "characters", "classes"}


@given(
    st.one_of(
        st.text(_CHARS, max_size=20),
        st.text(max_size=12),
        st.text(_CHARS, min_size=120, max_size=140),
    )
)
def test_a_password_is_accepted_only_if_it_meets_the_rule(password: str) -> None:
    """The class and length rule decides alone; a password that meets it may still be refused
    as guessable (the blocklist), and for nothing else."""
    problem = pw.password_problem(password)
    if meets_rule(password):
        assert problem in (None, "common")
    else:
        assert problem in RULE_REASONS


@given(st.lists(st.sampled_from(CLASSES), min_size=1, max_size=4, unique=True), st.data())
def test_class_mixes(classes: list[str], data: st.DataObject) -> None:
    password = "".join(
        data.draw(st.text(st.sampled_from(c), min_size=3, max_size=5)) for c in classes
    )
    problem = pw.password_problem(password)
    if len(classes) >= 3 and len(password) >= 8:
        assert problem in (None, "common")
    else:
        assert problem in ("classes", "too_short")


# Probe of issue 21: these met the class rule and were accepted.
COMMON = ["Password1", "Qwerty123", "P@ssw0rd", "Passw0rd!", "Admin@123", "1qaz@WSX", "Aa123456!"]


@pytest.mark.parametrize("password", COMMON)
def test_common_passwords_are_refused_though_they_meet_the_class_rule(password: str) -> None:
    assert meets_rule(password)
    assert pw.password_problem(password) == "common"


@pytest.mark.parametrize("password", ["Qz8#wLm4vT", "Fp-credit-2026", "Vx5!nRt9qL", "Kq7#mPz2w"])
def test_unguessable_passwords_pass(password: str) -> None:
    assert pw.password_problem(password, "wangfang") is None


def test_the_blocklist_reads_a_long_password_by_its_first_72_characters() -> None:
    strong = pw.generate_password(16)
    assert pw.password_problem(strong + "a" * 100) is None  # 116 characters, checked quickly
    assert pw.password_problem("Password1" * 14) == "common"


@pytest.mark.parametrize(
    ("password", "reason", "zh", "en"),
    [
        ("Ab1!", "too_short", "至少需要 8 个字符", "at least 8 characters"),
        ("abcdefgh1", "classes", "至少 3 类", "at least 3 of"),
        ("Abcdef 12", "characters", "只能包含", "only ASCII"),
        ("Wangfang#2026", "username", "不能包含用户名", "cannot contain the username"),
        ("A1!" + "x" * 200, "too_long", "不能超过 128", "longer than 128"),
        ("Password1", "common", "太常见", "too common"),
    ],
)
def test_a_refused_password_says_why_in_both_languages(
    password: str, reason: str, zh: str, en: str
) -> None:
    for lang, expected in (("zh", zh), ("en", en)):
        with using_language(lang), pytest.raises(AuthError) as caught:  # type: ignore[arg-type]
            pw.check_password(password, "wangfang")
        assert caught.value.code == "weak_password"
        assert caught.value.reason == reason
        assert expected in str(caught.value)


def test_generated_passwords_meet_the_rule_and_differ() -> None:
    made = {pw.generate_password() for _ in range(200)}
    assert len(made) == 200
    assert all(pw.password_problem(p) is None and len(p) == 16 for p in made)


def test_argon2_hash_is_salted_verifies_and_is_redone_when_the_cost_changes() -> None:
    hasher = pw.make_hasher(FAST)
    first, second = pw.hash_password(hasher, "Kq7#mPz2w"), pw.hash_password(hasher, "Kq7#mPz2w")
    assert first != second and "Kq7#mPz2w" not in first
    assert first.startswith("$argon2id$")
    assert pw.verify_password(hasher, first, "Kq7#mPz2w") == (True, None)
    assert pw.verify_password(hasher, first, "Kq7#mPz2W") == (False, None)
    assert pw.verify_password(hasher, "not a hash", "Kq7#mPz2w") == (False, None)
    stronger = pw.make_hasher(FAST.model_copy(update={"argon2_time_cost": 2}))
    ok, renewed = pw.verify_password(stronger, first, "Kq7#mPz2w")
    assert ok and renewed is not None and "t=2" in renewed


RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()  # RFC 6238 appendix B, SHA-1


def _at(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).replace(tzinfo=None)


@pytest.mark.parametrize(
    ("seconds", "code"),
    [(59, "287082"), (1111111109, "081804"), (1234567890, "005924"), (2000000000, "279037")],
)
def test_totp_matches_the_rfc_6238_vectors(seconds: int, code: str) -> None:
    assert pw.totp_code(RFC_SECRET, _at(seconds)) == code


def test_totp_window_is_one_step_either_side_and_a_used_step_never_matches_again() -> None:
    secret, now = pw.new_totp_secret(), _at(1_800_000_000)
    step = 1_800_000_000 // 30
    for offset, expected in ((-60, None), (-30, step - 1), (0, step), (30, step + 1), (60, None)):
        code = pw.totp_code(secret, now + dt.timedelta(seconds=offset))
        assert pw.match_totp(secret, code, now, None) == expected
    code = pw.totp_code(secret, now)
    assert pw.match_totp(secret, code, now, after_step=step) is None  # replay
    earlier = pw.totp_code(secret, now - dt.timedelta(seconds=30))
    assert pw.match_totp(secret, earlier, now, after_step=step) is None
    assert pw.match_totp(secret, "12345x", now, None) is None


def test_provisioning_uri_carries_issuer_and_secret() -> None:
    secret = pw.new_totp_secret()
    uri = pw.provisioning_uri(secret, "wangfang", "fpcredit")
    assert uri.startswith("otpauth://totp/fpcredit:wangfang?")
    assert f"secret={secret}" in uri and "digits=6" in uri and "period=30" in uri


def _claims(now: dt.datetime) -> Claims:
    return Claims("wangfang", "ab" * 16, now, now + dt.timedelta(seconds=300))


def test_token_key_is_private_stable_and_tokens_round_trip(tmp_path: Path) -> None:
    key = load_token_key(tmp_path / "keys")
    assert (tmp_path / "keys" / TOKEN_KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "keys").stat().st_mode & 0o777 == 0o700
    assert load_token_key(tmp_path / "keys") == key
    claims = _claims(dt.datetime(2026, 3, 2, 8, 0, 0))
    token = sign_token(key, claims)
    assert read_token(key, token) == claims
    # The token names the session and subject only: no role, region or purposes in it.
    payload = jwt.decode(token, options={"verify_signature": False})
    assert set(payload) == {"iss", "sub", "sid", "iat", "exp"}


def test_tampered_foreign_and_unsigned_tokens_are_refused(tmp_path: Path) -> None:
    key = load_token_key(tmp_path / "a")
    token = sign_token(key, _claims(dt.datetime(2026, 3, 2, 8, 0, 0)))
    head, body, sig = token.split(".")
    payload = jwt.decode(token, options={"verify_signature": False})
    forged_body = jwt.encode({**payload, "role": "national"}, key="x" * 32).split(".")[1]
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    unsigned = jwt.encode({**payload, "role": "national"}, key="", algorithm="none")
    foreign = sign_token(load_token_key(tmp_path / "b"), _claims(dt.datetime(2026, 3, 2)))
    # Signed with the right key but claiming a role: refused, not partly believed.
    claiming = jwt.encode({**payload, "role": "national", "region": "000000"}, key, "HS256")
    for bad in (
        f"{head}.{body}.{sig}x",
        f"{head}.{forged_body}.{sig}",
        f"{head}.{body}.{flipped}",
        unsigned,
        foreign,
        claiming,
        "",
    ):
        with pytest.raises(AuthError) as caught:
            read_token(key, bad)
        assert caught.value.code == "invalid_token"
