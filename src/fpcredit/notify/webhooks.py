"""Departments' webhooks: where a department's notifications are posted, and how each is signed.

A department registers a URL; fpcredit draws the secret, shows it once and keeps it encrypted
in the store. Each post carries `X-Fpcredit-Message-Id` (also `message_id` in the body: the
receiver de-duplicates on it) and `X-Fpcredit-Signature: t=<unix seconds>,v1=<hex>`, the
HMAC-SHA256 under the secret of `<t>.` followed by the body's bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable
from typing import Any, Final

import httpx
import sqlalchemy as sa

from fpcredit.errors import FpcreditError
from fpcredit.guard.keys.crypto import Vault
from fpcredit.messages import text
from fpcredit.notify.channels import Delivery, DeliveryError
from fpcredit.store import schema as s
from fpcredit.store.db import Store, utc_now

__all__ = [
    "MESSAGE_ID_HEADER",
    "SIGNATURE_HEADER",
    "WebhookError",
    "WebhookNotifier",
    "body_of",
    "list_webhooks",
    "set_webhook",
    "sign",
    "verify",
]

MESSAGE_ID_HEADER: Final = "X-Fpcredit-Message-Id"
SIGNATURE_HEADER: Final = "X-Fpcredit-Signature"
_FIELD: Final = "webhook_secret"  # binds the ciphertext to its column (Vault.encrypt)
_SOURCE: Final = re.compile(r"[a-z][a-z0-9_]{0,31}")


class WebhookError(FpcreditError):
    """A webhook the operator asked for that cannot be registered."""


def set_webhook(store: Store, vault: Vault, source: str, url: str) -> str:
    """Register (or replace) the webhook of department `source`; its new secret, to be shown
    once."""
    if not _SOURCE.fullmatch(source):
        raise WebhookError(text("notify.bad_source", source=source))
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise WebhookError(text("notify.bad_url", url=url)) from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise WebhookError(text("notify.bad_url", url=url))
    secret = secrets.token_urlsafe(32)
    values = {"url": url, "secret_enc": vault.encrypt(secret, _FIELD), "updated_at": utc_now()}
    w = s.notify_webhooks
    with store.engine.begin() as conn:
        done = conn.execute(w.update().where(w.c.source == source).values(**values))
        if done.rowcount == 0:
            conn.execute(w.insert().values(source=source, **values))
    return secret


def list_webhooks(store: Store) -> list[dict[str, Any]]:
    """The registered webhooks: source, URL, when set (never the secret)."""
    w = s.notify_webhooks
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(w.c.source, w.c.url, w.c.updated_at).order_by(w.c.source))
        return [
            {"source": r.source, "url": r.url, "updated_at": r.updated_at.isoformat()} for r in rows
        ]


def body_of(delivery: Delivery) -> bytes:
    """The JSON posted for a notification: no rendered text, the receiver renders it."""
    document = {
        "message_id": delivery.message_id,
        "kind": delivery.kind,
        "params": delivery.params,
        "created_at": delivery.created_at.isoformat() + "Z",
    }
    return json.dumps(document, ensure_ascii=False, sort_keys=True).encode()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Fpcredit-Signature` header value for `body` posted at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: str, header: str, body: bytes, *, tolerance_s: int = 300, now: float | None = None
) -> bool:
    """What a receiver checks: the signature is the secret's, over this body, and recent."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body).rpartition("v1=")[2]
    return hmac.compare_digest(expected, parts.get("v1", ""))


class WebhookNotifier:
    """Posts a department's notifications to its registered URL; 2xx is delivered."""

    def __init__(
        self,
        store: Store,
        vault: Vault,
        timeout_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store, self.vault, self.clock = store, vault, clock
        self.client = httpx.Client(timeout=httpx.Timeout(timeout_s), follow_redirects=False)

    def close(self) -> None:
        self.client.close()

    def deliver(self, delivery: Delivery) -> None:
        w = s.notify_webhooks
        with self.store.engine.connect() as conn:
            row = conn.execute(
                sa.select(w.c.url, w.c.secret_enc).where(w.c.source == delivery.audience)
            ).first()
        if row is None:
            raise DeliveryError("no_webhook")  # retried: the department may register one
        secret = self.vault.decrypt(row.secret_enc, _FIELD)
        assert secret is not None
        body = body_of(delivery)
        headers = {
            "Content-Type": "application/json",
            MESSAGE_ID_HEADER: delivery.message_id,
            SIGNATURE_HEADER: sign(secret, int(self.clock()), body),
        }
        try:
            response = self.client.post(row.url, content=body, headers=headers)
        except httpx.HTTPError as e:
            raise DeliveryError(f"http:{type(e).__name__}") from None
        if not response.is_success:
            raise DeliveryError(f"http_{response.status_code}")
