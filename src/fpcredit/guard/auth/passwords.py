"""Staff credentials: the password rule, Argon2id hashing and the TOTP second factor (RFC 6238)."""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import secrets
import string
import threading
from collections.abc import Iterable
from functools import cache
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP
from zxcvbn import zxcvbn

from fpcredit.config import Settings
from fpcredit.errors import AuthError
from fpcredit.messages import text

__all__ = [
    "HISTORY",
    "MAX_LENGTH",
    "MIN_CLASSES",
    "MIN_LENGTH",
    "MIN_SCORE",
    "TOTP_DIGITS",
    "TOTP_STEP_S",
    "check_password",
    "generate_password",
    "hash_password",
    "make_hasher",
    "match_totp",
    "new_totp_secret",
    "password_problem",
    "provisioning_uri",
    "reused",
    "totp_code",
    "verify_password",
    "weak",
]

MIN_LENGTH: Final = 8
# Argon2 takes any length; the cap only stops megabyte "passwords" from costing hashing time.
MAX_LENGTH: Final = 128
MIN_CLASSES: Final = 3
# The four classes of GB/T 22239. Together they are printable ASCII without the space: staff type
# passwords on varied keyboards and input methods, and anything else could be entered in more
# than one way (full-width forms, Unicode normalisation) and then fail to match.
_CLASSES: Final = (
    frozenset(string.ascii_lowercase),
    frozenset(string.ascii_uppercase),
    frozenset(string.digits),
    frozenset(string.punctuation),
)
_ALLOWED: Final = frozenset().union(*_CLASSES)
# Generated one-time passwords are read out or copied by hand: no look-alike characters.
_GENERATED: Final = (
    "abcdefghijkmnpqrstuvwxyz",
    "ABCDEFGHJKLMNPQRSTUVWXYZ",
    "23456789",
    "!#$%&*+-=?@^_",
)

# The blocklist: zxcvbn (Dropbox's estimator, MIT; its ranked lists of leaked passwords, common
# words and names, keyboard patterns, sequences, repeats, dates and l33t forms). A password it
# expects to fall within 10^8 guesses (score < 3: "Password1", "Qwerty123", "P@ssw0rd") is
# refused. It reads at most 72 characters (its own limit: longer inputs cost quadratic time);
# characters after those only add to the strength.
MIN_SCORE: Final = 3
_SCORED_LENGTH: Final = 72
_APP_WORDS: Final = ("fpcredit", "jisheng", "xinyong")  # this system's own names
# zxcvbn keeps the caller's words in a module-level dictionary while it scores: one at a time.
_scoring = threading.Lock()
# No reuse of the last five passwords (the one in use and one-time passwords count).
HISTORY: Final = 5

TOTP_DIGITS: Final = 6
TOTP_STEP_S: Final = 30
_TOTP_SECRET_BYTES: Final = 20  # 160 bits, the HMAC-SHA1 block RFC 4226 recommends


def password_problem(password: str, username: str | None = None) -> str | None:
    """Which part of the rule `password` breaks (a `weak_password` reason), or None."""
    if len(password) < MIN_LENGTH:
        return "too_short"
    if len(password) > MAX_LENGTH:
        return "too_long"
    if not set(password) <= _ALLOWED:
        return "characters"
    if sum(1 for c in _CLASSES if c.intersection(password)) < MIN_CLASSES:
        return "classes"
    if username and len(username) >= 3 and username.lower() in password.lower():
        return "username"
    if _score(password, username) < MIN_SCORE:
        return "common"
    return None


def _score(password: str, username: str | None) -> int:
    words = [*_APP_WORDS, *([username] if username else [])]
    with _scoring:
        return int(zxcvbn(password[:_SCORED_LENGTH], user_inputs=words)["score"])


def weak(reason: str) -> AuthError:
    """AuthError `weak_password` saying in zh/en which part of the rule (`reason`) was broken."""
    return AuthError(
        "weak_password",
        text(
            f"auth.password_{reason}",
            min=MIN_LENGTH,
            max=MAX_LENGTH,
            classes=MIN_CLASSES,
            history=HISTORY,
        ),
        reason=reason,
    )


def check_password(password: str, username: str | None = None) -> None:
    """Raise AuthError `weak_password` (with a zh/en reason) unless `password` meets the rule."""
    reason = password_problem(password, username)
    if reason is not None:
        raise weak(reason)


def generate_password(length: int = 16) -> str:
    """A random password with every class, for one-time use (the holder must change it)."""
    rng = secrets.SystemRandom()
    chars = [rng.choice(alphabet) for alphabet in _GENERATED]
    everything = "".join(_GENERATED)
    chars += [rng.choice(everything) for _ in range(length - len(chars))]
    rng.shuffle(chars)
    return "".join(chars)


def make_hasher(settings: Settings) -> PasswordHasher:
    """Argon2id with the configured cost; hashes made with other costs are redone at login."""
    return _hasher(
        settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism
    )


@cache
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


def hash_password(hasher: PasswordHasher, password: str) -> str:
    """The PHC-format Argon2id hash (salted; never equal to the password)."""
    return hasher.hash(password)


def verify_password(hasher: PasswordHasher, stored: str, password: str) -> tuple[bool, str | None]:
    """(matches, a new hash when the stored one used other parameters and must be replaced)."""
    try:
        hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, None
    return True, hasher.hash(password) if hasher.check_needs_rehash(stored) else None


def reused(hasher: PasswordHasher, hashes: Iterable[str], password: str) -> bool:
    """Whether `password` matches any of the stored `hashes` (each one is checked)."""
    found = False
    for stored in hashes:
        found = verify_password(hasher, stored, password)[0] or found
    return found


def new_totp_secret() -> str:
    """A fresh TOTP secret, base32 without padding (what authenticator apps expect)."""
    raw = secrets.token_bytes(_TOTP_SECRET_BYTES)
    return base64.b32encode(raw).decode().rstrip("=")


def _totp(secret: str) -> TOTP:
    raw = base64.b32decode(secret + "=" * (-len(secret) % 8))
    # SHA-1 is the RFC 6238 default and the only one every authenticator app accepts.
    return TOTP(raw, TOTP_DIGITS, SHA1(), TOTP_STEP_S)


def provisioning_uri(secret: str, username: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app reads (usually shown as a QR code)."""
    return _totp(secret).get_provisioning_uri(username, issuer)


def _unix(at: dt.datetime) -> float:
    # The store's clock is naive UTC.
    return (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).timestamp()


def totp_code(secret: str, at: dt.datetime) -> str:
    """The code an authenticator app shows at `at` (naive UTC)."""
    return _totp(secret).generate(_unix(at)).decode()


def match_totp(secret: str, code: str, at: dt.datetime, after_step: int | None) -> int | None:
    """The time step `code` belongs to, within ±1 step of `at`, or None.

    Steps at or before `after_step` (the last accepted one) never match: a code is good once,
    and so is any earlier code an onlooker may have seen (RFC 6238 §5.2).
    """
    totp, now = _totp(secret), int(_unix(at)) // TOTP_STEP_S
    found = None
    for step in (now - 1, now, now + 1):
        if after_step is not None and step <= after_step:
            continue
        # Compare every candidate, so that timing does not tell which step matched.
        if hmac.compare_digest(totp.generate(step * TOTP_STEP_S), code.encode()):
            found = found if found is not None else step
    return found
