"""Sending citizens' one-time codes: the SMS channel seam and the development outbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Final, Protocol

import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.guard.keys.crypto import Vault
from fpcredit.store import schema as s
from fpcredit.store.db import Store, utc_now

__all__ = ["OutboxChannel", "SmsChannel", "list_outbox", "mask_phone", "sms_channel"]

# Field names bind the ciphertexts to their column (see Vault.encrypt).
_RECIPIENT: Final = "outbox_recipient"
_MESSAGE: Final = "outbox_message"


class SmsChannel(Protocol):
    """Delivers one text message to one mobile number (a gateway in production)."""

    def send(self, phone: str, message: str) -> None: ...


class OutboxChannel:
    """The development channel: each message becomes an `outbox` row, number and text encrypted.

    Nothing leaves the machine; `list_outbox` (the CLI's `fpcredit outbox list`) shows them.
    """

    def __init__(
        self, store: Store, vault: Vault, clock: Callable[[], dt.datetime] = utc_now
    ) -> None:
        self._store, self._vault, self._clock = store, vault, clock

    def send(self, phone: str, message: str) -> None:
        with self._store.engine.begin() as conn:
            conn.execute(
                s.outbox.insert().values(
                    channel="sms",
                    recipient_enc=self._vault.encrypt(phone, _RECIPIENT),
                    message_enc=self._vault.encrypt(message, _MESSAGE),
                    created_at=self._clock(),
                )
            )


def sms_channel(
    settings: Settings, store: Store, vault: Vault, clock: Callable[[], dt.datetime] = utc_now
) -> SmsChannel:
    """The channel `settings.sms_channel` names (only `outbox` so far; gateways plug in here)."""
    assert settings.sms_channel == "outbox"  # the setting's Literal type admits nothing else
    return OutboxChannel(store, vault, clock)


def mask_phone(phone: str) -> str:
    """`138****5678`: enough to tell which phone, not enough to call it."""
    if len(phone) < 8:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def list_outbox(store: Store, vault: Vault) -> list[dict[str, Any]]:
    """Every outbox message, oldest first: id, channel, masked recipient, text, times (ISO)."""
    o = s.outbox
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(o).order_by(o.c.id)).all()
    out: list[dict[str, Any]] = []
    for row in rows:
        phone = vault.decrypt(row.recipient_enc, _RECIPIENT) or ""
        out.append(
            {
                "id": row.id,
                "channel": row.channel,
                "recipient": mask_phone(phone),
                "text": vault.decrypt(row.message_enc, _MESSAGE),
                "created_at": row.created_at.isoformat(),
                "sent_at": row.sent_at.isoformat() if row.sent_at else None,
            }
        )
    return out
