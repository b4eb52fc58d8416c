"""A page session: the API token in a signed, HttpOnly cookie, and the CSRF token of its forms.

The cookie holds the same short-lived access token an API client holds (guard/auth/sessions.py
decides, at every use, whether its session is alive), who it names (for the page header only:
every decision is the gate's, from the token), the purpose the clerk chose for the task, and a
random nonce the CSRF token of every form is derived from. It is signed with a key derived from
the token-signing key (keys/), so a browser cannot change what it says and a restart keeps it
valid. A visitor who has not logged in gets a cookie with only the nonce, so the login forms are
protected too; a login rotates the nonce.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Final

from fpcredit.guard.auth.tokens import load_token_key

__all__ = ["COOKIE", "PageSession", "Signer"]

COOKIE: Final = "fp_session"
# Over TLS the cookie is `__Host-` prefixed: Secure, host-only, path / (RFC 6265bis §4.1.3.2).
SECURE_COOKIE: Final = "__Host-fp_session"
_LABEL: Final = b"fpcredit pages v1"


@dataclass(frozen=True)
class PageSession:
    """What the session cookie says. `token` is empty until a login."""

    nonce: str
    token: str = ""
    expires: float = 0.0  # when the token expires (epoch seconds): refreshed before that
    role: str = ""
    subject: str = ""
    region: str = ""
    purpose: str = ""  # a clerk's purpose for the task (console); a citizen's is self_service

    @property
    def signed_in(self) -> bool:
        return bool(self.token)

    def due_for_refresh(self, lifetime_s: float) -> bool:
        """Whether the token has lived half its life (a refresh keeps the session going)."""
        return self.signed_in and time.time() > self.expires - lifetime_s / 2

    def with_purpose(self, purpose: str) -> PageSession:
        return replace(self, purpose=purpose)

    @classmethod
    def fresh(cls) -> PageSession:
        return cls(nonce=secrets.token_urlsafe(18))


class Signer:
    """Signs and reads session cookies, and derives and checks the CSRF token of a form."""

    def __init__(self, keys_dir: Path) -> None:
        self._key = hmac.new(load_token_key(keys_dir), _LABEL, hashlib.sha256).digest()

    def _mac(self, what: bytes) -> str:
        digest = hmac.new(self._key, what, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def dump(self, session: PageSession) -> str:
        # Unpadded: a cookie value with "=" is sent quoted, and read back quoted by some clients.
        body = base64.urlsafe_b64encode(json.dumps(asdict(session)).encode()).decode().rstrip("=")
        return f"{body}.{self._mac(b'cookie|' + body.encode())}"

    def load(self, raw: str | None) -> PageSession | None:
        """The session a cookie holds, or None for a missing, altered or malformed one."""
        if not raw or raw.count(".") != 1:
            return None
        body, mac = raw.split(".")
        if not hmac.compare_digest(mac, self._mac(b"cookie|" + body.encode())):
            return None
        try:
            values = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            return PageSession(**values)
        except (ValueError, TypeError):
            return None

    def csrf(self, session: PageSession) -> str:
        """The token every form of this session carries."""
        return self._mac(b"csrf|" + session.nonce.encode())

    def csrf_ok(self, session: PageSession, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(self.csrf(session), presented or "")
