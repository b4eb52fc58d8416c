"""Delivery channels of the notifications: what one delivery carries, rendering, SMS, routing."""

from __future__ import annotations

import datetime as dt
import json
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

import sqlalchemy as sa

from fpcredit.guard.keys.crypto import Vault
from fpcredit.messages import Language, text
from fpcredit.messages.notify import TEXTS
from fpcredit.notify.outbox import AUDIENCE_PERSON
from fpcredit.notify.sms import SmsChannel
from fpcredit.store import schema as s
from fpcredit.store.db import Store

__all__ = [
    "Channel",
    "Delivery",
    "DeliveryError",
    "Router",
    "SmsNotifier",
    "phone_of",
    "render",
]

_PHONE: Final = re.compile(r"1\d{10}")
_MISSING: Final = "—"


@dataclass(frozen=True)
class Delivery:
    """One notification as a worker hands it to a channel."""

    message_id: str
    kind: str
    person_id: int | None
    audience: str
    params: dict[str, Any]
    created_at: dt.datetime
    attempts: int  # this attempt's number, from 1
    lease_until: dt.datetime | None = None  # the claim this delivery runs under

    @classmethod
    def of(cls, row: Any) -> Delivery:
        """From a `notifications` row."""
        return cls(
            row.message_id, row.kind, row.person_id, row.audience, json.loads(row.params),
            row.created_at, row.attempts, row.lease_until,
        )  # fmt: skip


class DeliveryError(Exception):
    """A delivery that did not go through. `reason` is a short code (never personal data);
    `permanent` ones are not retried (a person without a phone, a department without a URL)."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason[:200]
        self.permanent = permanent


class Channel(Protocol):
    """Delivers one notification, or raises DeliveryError."""

    def deliver(self, delivery: Delivery) -> None: ...


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def render(kind: str, params: Mapping[str, Any], lang: Language) -> str:
    """The text of a notification of `kind` in `lang` (message `notify.<kind>`)."""
    key = f"notify.{kind}"
    names = _placeholders(TEXTS[key][0]) | _placeholders(TEXTS[key][1])
    values = {n: _MISSING if params.get(n) is None else params[n] for n in names}
    return text(key, lang, **values)


def phone_of(conn: sa.Connection, vault: Vault, person_id: int) -> str | None:
    """The mobile number most recently recorded for the person (as citizens' codes use)."""
    m, r, lk = s.mentions, s.records, s.links
    query = (
        sa.select(m.c.phone_enc)
        .join(r, r.c.id == m.c.record_id)
        .join(lk, lk.c.mention_id == m.c.id)
        .where(lk.c.person_id == person_id, m.c.phone_enc.is_not(None))
        .order_by(r.c.recorded_at.desc(), m.c.id.desc())
        .limit(1)
    )
    phone = vault.decrypt(conn.scalar(query), "phone")
    return phone if phone and _PHONE.fullmatch(phone) else None


class SmsNotifier:
    """A person's notification by SMS (notify/sms.py's channel), in the service's language:
    persons have no stored language preference yet."""

    def __init__(self, store: Store, vault: Vault, sms: SmsChannel, lang: Language) -> None:
        self.store, self.vault, self.sms, self.lang = store, vault, sms, lang

    def deliver(self, delivery: Delivery) -> None:
        if delivery.person_id is None:
            raise DeliveryError("no_person", permanent=True)
        with self.store.engine.connect() as conn:
            phone = phone_of(conn, self.vault, delivery.person_id)
        if phone is None:
            raise DeliveryError("no_phone", permanent=True)
        try:
            self.sms.send(phone, render(delivery.kind, delivery.params, self.lang))
        except Exception as e:  # a gateway's refusal or a database hiccup: tried again later
            raise DeliveryError(f"sms:{type(e).__name__}") from e


class Router:
    """Persons' notifications to `person`, departments' (audience = a source) to `department`."""

    def __init__(self, person: Channel, department: Channel) -> None:
        self.person, self.department = person, department

    def deliver(self, delivery: Delivery) -> None:
        chosen = self.person if delivery.audience == AUDIENCE_PERSON else self.department
        chosen.deliver(delivery)
