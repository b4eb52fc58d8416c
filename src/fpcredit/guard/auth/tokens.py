"""Signed access tokens (HS256 JWT) naming a session; the key is a 0600 file under keys/."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jwt

from fpcredit.errors import AuthError, ConfigError
from fpcredit.files import read_or_create
from fpcredit.messages import text

__all__ = ["ISSUER", "TOKEN_KEY_FILE", "Claims", "load_token_key", "read_token", "sign_token"]

TOKEN_KEY_FILE: Final = "token-signing.key"
ISSUER: Final = "fpcredit"
_ALGORITHM: Final = "HS256"
_KEY_BYTES: Final = 32
# A token names its session and subject, nothing more: what the caller may do (role, region,
# purposes) is the session row's, so a token minted with the key cannot claim more. A token
# with any other claim is refused rather than partly believed.
_CLAIMS: Final = frozenset({"iss", "sub", "sid", "iat", "exp"})


def load_token_key(keys_dir: Path) -> bytes:
    """The signing key, created on first use; it never enters the database or a log."""
    path = keys_dir / TOKEN_KEY_FILE
    raw = read_or_create(path, lambda: base64.b64encode(secrets.token_bytes(_KEY_BYTES)))
    try:
        key = base64.b64decode(raw, validate=True)
    except ValueError as e:
        raise ConfigError(text("keys.damaged", folder=keys_dir)) from e
    if len(key) != _KEY_BYTES:
        raise ConfigError(text("keys.damaged", folder=keys_dir))
    return key


@dataclass(frozen=True)
class Claims:
    """What a token asserts: whose session it is; times are naive UTC, whole seconds."""

    subject: str
    session_id: str
    issued_at: dt.datetime
    expires_at: dt.datetime


def _epoch(at: dt.datetime) -> int:
    return int(at.replace(tzinfo=dt.UTC).timestamp())


def _naive(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).replace(tzinfo=None)


def sign_token(key: bytes, claims: Claims) -> str:
    """The compact JWT for `claims`."""
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "sub": claims.subject,
        "sid": claims.session_id,
        "iat": _epoch(claims.issued_at),
        "exp": _epoch(claims.expires_at),
    }
    return jwt.encode(payload, key, algorithm=_ALGORITHM)


def read_token(key: bytes, token: str) -> Claims:
    """The claims of a token signed with `key`; AuthError `invalid_token` otherwise.

    Expiry is not checked here: the caller compares `expires_at` with its own (injectable) clock.
    """
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[_ALGORITHM],  # fixed: never let the token choose (e.g. "none")
            issuer=ISSUER,
            options={"require": sorted(_CLAIMS), "verify_exp": False, "verify_iat": False},
        )
        if set(payload) != _CLAIMS:
            raise ValueError("unexpected claims")
        return Claims(
            subject=str(payload["sub"]),
            session_id=str(payload["sid"]),
            issued_at=_naive(int(payload["iat"])),
            expires_at=_naive(int(payload["exp"])),
        )
    except (jwt.InvalidTokenError, ValueError, TypeError, KeyError, OverflowError, OSError) as e:
        raise AuthError("invalid_token", text("auth.invalid_token")) from e
