"""The exchange message on its own: what opens, what is refused and why, and that nothing a
sender can put on the stream makes the receiver fail other than by a Rejected reason."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fpcredit.exchange.identity import ExchangeError, Identity, Partner, create_identity
from fpcredit.exchange.message import Rejected, message_id, open_message, seal_message
from tests.exchange.conftest import migrant

SENT = dt.datetime(2026, 6, 1, 8, 0, 0)


def _partner(me: Identity) -> Partner:
    return Partner(me.province, me.signing.public_key(), me.sealing.public_key(), SENT)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Identity, Identity]:
    root = tmp_path_factory.mktemp("ids")
    return create_identity(root / "b", "33"), create_identity(root / "a", "34")


def _body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source": "health",
        "record_key": "330000000001",
        "role": "mother",
        "subject": {
            "id_number": migrant(1),
            "name": "李秀英",
            "sex": "2",
            "birth_date": None,
            "hukou_region": "340111",
        },
        "fact": {
            "event_date": "2026-05-03",
            "recorded_at": "2026-05-20 10:00:00",
            "birth_certificate_no": "330000000001",
            "birth_order": "1",
            "child_sex": "1",
            "region": "330106",
        },
    }
    body.update(over)
    return body


def _sealed(b: Identity, a: Identity, body: dict[str, Any] | None = None) -> bytes:
    msg = message_id("33", "health", "330000000001", "h")
    return seal_message(b, _partner(a), msg, "birth_registration", body or _body(), SENT)


def _reason(data: bytes, a: Identity, registry: dict[str, Partner]) -> str:
    with pytest.raises(Rejected) as caught:
        open_message(data, a, registry)
    return caught.value.reason


def test_a_sealed_message_opens_for_its_receiver_only(pair: tuple[Identity, Identity]) -> None:
    b, a = pair
    data = _sealed(b, a)
    opened = open_message(data, a, {"33": _partner(b)})
    assert opened.subject["id_number"] == migrant(1)
    assert opened.fact["birth_order"] == "1" and opened.sender == "33"
    # B itself cannot open what it sealed for A, and neither could a third province.
    b_as_receiver = Identity("34", b.signing, b.sealing)
    assert _reason(data, b_as_receiver, {"33": _partner(b)}) == "seal"


def test_each_refusal_has_its_reason(pair: tuple[Identity, Identity], tmp_path: Path) -> None:
    b, a = pair
    registry = {"33": _partner(b)}
    doc = json.loads(_sealed(b, a))

    def edited(**changes: Any) -> bytes:
        return json.dumps({**doc, **changes}).encode()

    assert _reason(b"not json", a, registry) == "malformed"
    assert _reason(edited(v=2), a, registry) == "version"
    assert _reason(edited(to="35"), a, registry) == "not_for_us"
    assert _reason(_sealed(b, a), a, {}) == "sender_unknown"
    assert _reason(edited(kind="vaccination"), a, registry) == "signature"  # header is signed
    sig = base64.b64decode(doc["sig"])
    bad = base64.b64encode(bytes([sig[0] ^ 1]) + sig[1:]).decode()
    assert _reason(edited(sig=bad), a, registry) == "signature"
    unexchanged = _body(fact={**_body()["fact"], "pregnancies": "2"})
    assert _reason(_sealed(b, a, unexchanged), a, registry) == "not_exchanged"
    phone = _body(subject={**_body()["subject"], "phone": "13812345678"})
    assert _reason(_sealed(b, a, phone), a, registry) == "not_exchanged"
    bad_id = _body(subject={**_body()["subject"], "id_number": migrant(1)[:-1] + "X"})
    assert _reason(_sealed(b, a, bad_id), a, registry) == "id_invalid"
    bad_code = _body(fact={**_body()["fact"], "child_sex": "7"})
    assert _reason(_sealed(b, a, bad_code), a, registry) == "value"
    elsewhere = _body(subject={**_body()["subject"], "hukou_region": "360102"})
    assert _reason(_sealed(b, a, elsewhere), a, registry) == "not_for_us"
    with pytest.raises(ExchangeError):
        create_identity(tmp_path / "x", "99")  # not a province


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_mutation_of_an_envelope_is_refused_with_a_reason(
    pair: tuple[Identity, Identity], data: st.DataObject
) -> None:
    b, a = pair
    registry = {"33": _partner(b)}
    envelope = bytearray(_sealed(b, a))
    at = data.draw(st.integers(0, len(envelope) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda v: v != envelope[at]))
    envelope[at] = value
    try:
        open_message(bytes(envelope), a, registry)
    except Rejected as r:
        assert r.reason in {"malformed", "version", "not_for_us", "sender_unknown", "signature"}
    else:  # only a change JSON reads as the same document (an escape, say) can still open
        assert json.loads(bytes(envelope)) == json.loads(_sealed(b, a))


@given(st.binary(max_size=400))
def test_random_bytes_are_refused_as_malformed(noise: bytes) -> None:
    me = Identity("34", *_keys())
    with pytest.raises(Rejected):
        open_message(noise, me, {})


def _keys() -> tuple[Any, Any]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    return Ed25519PrivateKey.generate(), X25519PrivateKey.generate()
