"""This province's exchange identity (signing and sealing keys) and the registry of partners."""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from fpcredit.errors import FpcreditError
from fpcredit.files import write_private
from fpcredit.guard.trail.log import record_rows
from fpcredit.messages import text
from fpcredit.standard.regions import lookup
from fpcredit.store import schema as s
from fpcredit.store.db import Store, utc_now

__all__ = [
    "ExchangeError",
    "Identity",
    "Partner",
    "add_partner",
    "create_identity",
    "load_identity",
    "partners",
]

IDENTITY_FILE: Final = "exchange-identity.json"
_RAW = serialization.Encoding.Raw
_RAW_PUB = serialization.PublicFormat.Raw
_RAW_PRIV = serialization.PrivateFormat.Raw


class ExchangeError(FpcreditError):
    """An exchange operation refused: no identity, a bad card, an unknown province."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(value: Any, what: str) -> bytes:
    try:
        raw = base64.b64decode(str(value), validate=True)
    except ValueError as e:
        raise ExchangeError(text("exchange.card_bad", why=what)) from e
    if len(raw) != 32:
        raise ExchangeError(text("exchange.card_bad", why=what))
    return raw


def check_province(code: str) -> str:
    """A two-digit province code of GB/T 2260, or ExchangeError."""
    region = lookup(f"{code}0000") if len(code) == 2 and code.isdigit() else None
    if region is None or region.level != "province":
        raise ExchangeError(text("exchange.province_unknown", code=code))
    return code


@dataclass(frozen=True)
class Identity:
    """This province on the exchange: its code, its Ed25519 signing key, its X25519 key."""

    province: str
    signing: Ed25519PrivateKey
    sealing: X25519PrivateKey

    def card(self) -> dict[str, str]:
        """The public half, for the other provinces' registries."""
        verify = self.signing.public_key().public_bytes(_RAW, _RAW_PUB)
        seal = self.sealing.public_key().public_bytes(_RAW, _RAW_PUB)
        return {"province": self.province, "verify_key": _b64(verify), "seal_key": _b64(seal)}


def _path(keys_dir: Path) -> Path:
    return keys_dir / IDENTITY_FILE


def load_identity(keys_dir: Path) -> Identity | None:
    """This home's exchange identity, or None when the exchange was never set up here."""
    try:
        doc = json.loads(_path(keys_dir).read_text("utf-8"))
    except FileNotFoundError:
        return None
    return Identity(
        doc["province"],
        Ed25519PrivateKey.from_private_bytes(base64.b64decode(doc["signing"])),
        X25519PrivateKey.from_private_bytes(base64.b64decode(doc["sealing"])),
    )


def create_identity(keys_dir: Path, province: str) -> Identity:
    """Make this home province `province` on the exchange; an existing identity is kept when
    it is the same province, refused when it is another."""
    check_province(province)
    have = load_identity(keys_dir)
    if have is not None:
        if have.province != province:
            raise ExchangeError(text("exchange.identity_other", have=have.province))
        return have
    signing, sealing = Ed25519PrivateKey.generate(), X25519PrivateKey.generate()
    none = serialization.NoEncryption()
    doc = {
        "province": province,
        "signing": _b64(signing.private_bytes(_RAW, _RAW_PRIV, none)),
        "sealing": _b64(sealing.private_bytes(_RAW, _RAW_PRIV, none)),
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    write_private(_path(keys_dir), json.dumps(doc, indent=2).encode())
    return Identity(province, signing, sealing)


def require_identity(keys_dir: Path) -> Identity:
    """This home's identity, or ExchangeError saying how to make one."""
    found = load_identity(keys_dir)
    if found is None:
        raise ExchangeError(text("exchange.no_identity"))
    return found


@dataclass(frozen=True)
class Partner:
    """Another province as this registry knows it (its newest card)."""

    province: str
    verify_key: Ed25519PublicKey
    seal_key: X25519PublicKey
    added_at: dt.datetime


def partners(conn: sa.Connection) -> dict[str, Partner]:
    """The registry: each province's newest card (a newer card is a key rotation)."""
    p = s.exchange_partners
    rows = conn.execute(sa.select(p).order_by(p.c.id)).all()
    found: dict[str, Partner] = {}
    for row in rows:
        found[row.province] = Partner(
            row.province,
            Ed25519PublicKey.from_public_bytes(base64.b64decode(row.verify_key)),
            X25519PublicKey.from_public_bytes(base64.b64decode(row.seal_key)),
            row.added_at,
        )
    return found


def add_partner(
    store: Store, keys_dir: Path, card: dict[str, Any], by: str, own: str | None
) -> Partner:
    """Register (or rotate) another province's public keys; on the trail."""
    if not isinstance(card, dict):
        raise ExchangeError(text("exchange.card_bad", why="JSON object"))
    province = check_province(str(card.get("province", "")))
    if province == own:
        raise ExchangeError(text("exchange.partner_self", code=province))
    verify = _unb64(card.get("verify_key"), "verify_key")
    seal = _unb64(card.get("seal_key"), "seal_key")
    now = utc_now()
    with store.engine.begin() as conn:
        made = conn.execute(
            s.exchange_partners.insert()
            .values(
                province=province,
                verify_key=_b64(verify),
                seal_key=_b64(seal),
                added_by=by,
                added_at=now,
            )
            .returning(s.exchange_partners.c.id)
        ).scalar_one()
        record_rows(
            conn, "exchange_partners", made, made, by, "exchange_partner", keys_dir=keys_dir
        )
    return Partner(
        province,
        Ed25519PublicKey.from_public_bytes(verify),
        X25519PublicKey.from_public_bytes(seal),
        now,
    )
