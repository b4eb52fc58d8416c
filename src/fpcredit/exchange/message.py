"""The exchange message, version 1: a clear header, a body sealed for the receiving province
(HPKE, RFC 9180: X25519, HKDF-SHA256, AES-256-GCM), the whole signed by the sender (Ed25519).

The header names provinces, a message id, a purpose, a data set and a time — never a person.
Only the elements the standard marks for exchange (`exchange:` of a data set) enter the body;
`open_message` refuses anything else, with a reason code the receiver quarantines under.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hpke

from fpcredit.errors import InvalidIdNumber
from fpcredit.exchange.identity import Identity, Partner
from fpcredit.guard.access import Purpose
from fpcredit.standard import idcard
from fpcredit.standard.elements import COMMON_FIELDS, Element, Standard, load_standard

__all__ = [
    "PURPOSE",
    "SUITE",
    "VERSION",
    "Opened",
    "Rejected",
    "header_info",
    "message_id",
    "open_message",
    "seal_message",
]

VERSION: Final = 1
PURPOSE: Final = Purpose.SERVICE_DELIVERY.value
SUITE: Final = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
_HEADER: Final = ("v", "id", "from", "to", "purpose", "kind", "sent_at")
_BODY: Final = frozenset({"source", "record_key", "role", "subject", "fact"})


class Rejected(Exception):  # noqa: N818 - reads as the outcome it carries
    """A message the receiver refuses; `reason` is a code of `exchange.reject_<reason>`."""

    def __init__(self, reason: str, header: Mapping[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.header = dict(header or {})


def message_id(province: str, source: str, record_key: str, row_hash: str) -> str:
    """The id of the message carrying one record version: the same record re-sent has the
    same id, so the stream and the receiver drop the copy."""
    digest = hashlib.sha256(f"{province}\x1f{source}\x1f{record_key}\x1f{row_hash}".encode())
    return digest.hexdigest()[:32]


def _canonical(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def header_info(header: Mapping[str, Any]) -> bytes:
    # Binds the sealed body to its header: a body moved under another header does not open.
    return b"fpcredit-exchange-v1\x1f" + _canonical({k: header[k] for k in _HEADER})


def seal_message(
    me: Identity,
    to: Partner,
    msg_id: str,
    kind: str,
    body: Mapping[str, Any],
    sent_at: dt.datetime,
) -> bytes:
    """The envelope of one message (UTF-8 JSON), ready for the stream."""
    header: dict[str, Any] = {
        "v": VERSION,
        "id": msg_id,
        "from": me.province,
        "to": to.province,
        "purpose": PURPOSE,
        "kind": kind,
        "sent_at": sent_at.isoformat(timespec="microseconds"),
    }
    sealed = SUITE.encrypt(_canonical(body), to.seal_key, info=header_info(header))
    doc = {**header, "body": base64.b64encode(sealed).decode()}
    doc["sig"] = base64.b64encode(me.signing.sign(_canonical(doc))).decode()
    return _canonical(doc)


@dataclass(frozen=True)
class Opened:
    """A message verified, opened and checked against the standard."""

    id: str
    sender: str
    kind: str
    sent_at: dt.datetime
    source: str
    record_key: str
    role: str
    subject: dict[str, str | None]  # the subject's exchanged elements, normalised
    fact: dict[str, str | None]  # event_date, recorded_at and the fact's exchanged elements
    body: bytes  # canonical JSON of what was opened (the receiver's row hash is over it)


def header_of(data: bytes) -> dict[str, Any]:
    """The clear header of an envelope, or Rejected('malformed')."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise Rejected("malformed") from e
    if not isinstance(doc, dict) or any(k not in doc for k in (*_HEADER, "body", "sig")):
        raise Rejected("malformed")
    return doc


def open_message(
    data: bytes, me: Identity, registry: Mapping[str, Partner], std: Standard | None = None
) -> Opened:
    """Verify, open and check one envelope; Rejected with the first reason otherwise."""
    doc = header_of(data)
    header = {k: doc[k] for k in _HEADER}
    if doc["v"] != VERSION:
        raise Rejected("version", header)
    if doc["to"] != me.province:
        raise Rejected("not_for_us", header)
    sender = registry.get(str(doc["from"]))
    if sender is None:
        raise Rejected("sender_unknown", header)
    unsigned = {k: v for k, v in doc.items() if k != "sig"}
    try:
        sender.verify_key.verify(base64.b64decode(str(doc["sig"])), _canonical(unsigned))
    except (InvalidSignature, ValueError) as e:
        raise Rejected("signature", header) from e
    if doc["purpose"] != PURPOSE:
        raise Rejected("purpose", header)
    try:
        sent_at = dt.datetime.fromisoformat(str(doc["sent_at"]))
        plain = SUITE.decrypt(
            base64.b64decode(str(doc["body"])), me.sealing, info=header_info(header)
        )
        body = json.loads(plain)
    except (InvalidTag, ValueError, UnicodeDecodeError) as e:
        raise Rejected("seal", header) from e
    return _checked(header, sent_at, body, std or load_standard())


def _checked(header: dict[str, Any], sent_at: dt.datetime, body: Any, std: Standard) -> Opened:
    kind = str(header["kind"])
    dataset = std.datasets.get(kind)
    if dataset is None or dataset.exchange is None:
        raise Rejected("kind", header)
    if not isinstance(body, dict) or set(body) != {
        "source",
        "record_key",
        "role",
        "subject",
        "fact",
    }:
        raise Rejected("malformed", header)
    subject, fact = body["subject"], body["fact"]
    if not isinstance(subject, dict) or not isinstance(fact, dict):
        raise Rejected("malformed", header)
    allowed_fact = {*COMMON_FIELDS, *dataset.exchange.fact}
    if not set(subject) <= set(dataset.exchange.subject) or not set(fact) <= allowed_fact:
        raise Rejected("not_exchanged", header)
    for name, most in (("source", 16), ("record_key", 40), ("role", 16)):
        if not isinstance(body[name], str) or not body[name] or len(body[name]) > most:
            raise Rejected("malformed", header)
    clean_subject = {k: _value(std, k, v, header) for k, v in subject.items()}
    id_number = clean_subject.get("id_number")
    if id_number is None:
        raise Rejected("id_missing", header)
    hukou = clean_subject.get("hukou_region")
    if hukou is not None and hukou[:2] != header["to"]:
        raise Rejected("not_for_us", header)
    clean_fact = {k: _value(std, k, v, header) for k, v in fact.items()}
    for needed in COMMON_FIELDS:
        if clean_fact.get(needed) is None:
            raise Rejected("value", header)
    return Opened(
        id=str(header["id"]),
        sender=str(header["from"]),
        kind=kind,
        sent_at=sent_at,
        source=body["source"],
        record_key=body["record_key"],
        role=body["role"],
        subject=clean_subject,
        fact=clean_fact,
        body=_canonical(body),
    )


def _value(std: Standard, name: str, value: Any, header: dict[str, Any]) -> str | None:
    """One element's value as text, checked against its type in the standard."""
    if value is None:
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise Rejected("value", header)
    element: Element = std.elements[name]
    raw = str(value).strip()
    try:
        return _typed(std, element, raw)
    except (ValueError, InvalidIdNumber) as e:
        raise Rejected("id_invalid" if element.type == "id_number" else "value", header) from e


def _typed(std: Standard, element: Element, raw: str) -> str:
    kind = element.type
    if kind == "id_number":
        return idcard.normalize(raw)
    if kind == "date":
        return dt.date.fromisoformat(raw).isoformat()
    if kind == "datetime":
        return dt.datetime.fromisoformat(raw).isoformat(sep=" ")
    if kind == "code":
        if raw not in std.codes_of(element):
            raise ValueError(raw)
        return raw
    if kind == "integer":
        number = int(raw)
        if (element.min is not None and number < element.min) or (
            element.max is not None and number > element.max
        ):
            raise ValueError(raw)
        return str(number)
    if kind in ("region", "digits"):
        width = 6 if kind == "region" else element.length
        if not raw.isdigit() or len(raw) != width:
            raise ValueError(raw)
        return raw
    if kind == "name":
        if not raw or len(raw) > 64:
            raise ValueError(raw)
        return raw
    raise ValueError(kind)  # an element type the exchange does not carry
