"""Signed access tokens (HS256 JWT); the signing key lives only in a 0600 file under keys/."""

from __future__ import annotations

import base64
import datetime as dt
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jwt

from fpcredit.errors import AuthError, ConfigError
from fpcredit.guard.access import NATIONAL_REGION, Purpose, Role
from fpcredit.messages import text

__all__ = ["ISSUER", "TOKEN_KEY_FILE", "Claims", "load_token_key", "read_token", "sign_token"]

TOKEN_KEY_FILE: Final = "token-signing.key"
ISSUER: Final = "fpcredit"
_ALGORITHM: Final = "HS256"
_KEY_BYTES: Final = 32
_REQUIRED: Final = ["iss", "sub", "role", "region", "purposes", "sid", "iat", "exp"]


def load_token_key(keys_dir: Path) -> bytes:
    """The signing key, created on first use; it never enters the database or a log."""
    path = keys_dir / TOKEN_KEY_FILE
    if not path.exists():
        keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Write a private temporary file and link it into place: link never overwrites, so two
        # processes starting together agree on one key and nobody reads a half-written file.
        tmp = keys_dir / f".{TOKEN_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(base64.b64encode(secrets.token_bytes(_KEY_BYTES)))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    try:
        key = base64.b64decode(path.read_bytes(), validate=True)
    except ValueError as e:
        raise ConfigError(text("keys_damaged", folder=keys_dir)) from e
    if len(key) != _KEY_BYTES:
        raise ConfigError(text("keys_damaged", folder=keys_dir))
    return key


@dataclass(frozen=True)
class Claims:
    """What a token asserts about its bearer; times are naive UTC, whole seconds."""

    role: Role
    subject: str
    region: str
    purposes: frozenset[Purpose]
    session_id: str
    issued_at: dt.datetime
    expires_at: dt.datetime
    source: str | None = None


def _epoch(at: dt.datetime) -> int:
    return int(at.replace(tzinfo=dt.UTC).timestamp())


def _naive(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).replace(tzinfo=None)


def sign_token(key: bytes, claims: Claims) -> str:
    """The compact JWT for `claims`."""
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "sub": claims.subject,
        "role": claims.role.value,
        "region": claims.region,
        "purposes": sorted(p.value for p in claims.purposes),
        "sid": claims.session_id,
        "iat": _epoch(claims.issued_at),
        "exp": _epoch(claims.expires_at),
    }
    if claims.source is not None:
        payload["src"] = claims.source
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
            options={"require": _REQUIRED, "verify_exp": False, "verify_iat": False},
        )
        return Claims(
            role=Role(payload["role"]),
            subject=str(payload["sub"]),
            region=str(payload.get("region") or NATIONAL_REGION),
            purposes=frozenset(Purpose(p) for p in payload["purposes"]),
            session_id=str(payload["sid"]),
            issued_at=_naive(int(payload["iat"])),
            expires_at=_naive(int(payload["exp"])),
            source=payload.get("src"),
        )
    except (jwt.InvalidTokenError, ValueError, TypeError, KeyError) as e:
        raise AuthError("invalid_token", text("auth.invalid_token")) from e
