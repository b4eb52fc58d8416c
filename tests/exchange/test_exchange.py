"""Two provinces on a private NATS server: a migrant's birth in B becomes a fact of the right
person in A, exactly once, with nothing in clear on the stream and both trails whole."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import nats
import sqlalchemy as sa

from fpcredit.collect.quality import list_issues
from fpcredit.exchange import writes
from fpcredit.exchange.identity import Identity, Partner, create_identity
from fpcredit.exchange.message import SUITE, header_info, message_id, seal_message
from fpcredit.exchange.status import exchange_status
from fpcredit.exchange.stream import Exchange, stream_name, subject
from fpcredit.store import schema as s
from tests.exchange.conftest import (
    NatsServer,
    Province,
    birth_in_b,
    known_in_a,
    migrant,
    pump,
    run,
)


def _known(a: Province, mothers: list[str]) -> None:
    a.ingest_health("known", [known_in_a(n, m) for n, m in enumerate(mothers)])
    a.link()


def test_a_migrants_birth_in_b_becomes_a_fact_of_her_file_in_a(
    provinces: tuple[Province, Province], nats_server: NatsServer
) -> None:
    a, b = provinces
    mothers = [migrant(n) for n in range(6)]
    _known(a, mothers)
    rows = [birth_in_b(n, m) for n, m in enumerate(mothers)]
    rows.append(birth_in_b(99, "330106199001010012", hukou="330106"))  # B's own: stays in B
    report = b.ingest_health("births", rows)
    assert report.accepted == 7
    assert b.count(s.exchange_outbox) == 6  # queued in the ingestion's transaction

    run(pump(b.exchange(nats_server.url), a.exchange(nats_server.url)))

    facts = a.exchange_facts()
    assert len(facts) == 6
    for fact, mother, n in zip(facts, mothers, range(6), strict=True):
        assert fact.person_id == a.person_of(mother)  # her file, not a new one
        assert fact.kind == "birth_registration"
        assert fact.record_key == f"33/health/{330000000000 + n}"  # provenance: B, its record
        attrs = json.loads(fact.attrs)
        assert set(attrs) == {"birth_certificate_no", "birth_order", "child_sex", "region"}
    status = exchange_status(a.store, a.me)
    assert status["inbox"]["accepted"] == 6 and status["inbox"]["rejected"] == 0
    assert exchange_status(b.store, b.me)["outbox"] == {
        "queued": 6,
        "sent": 6,
        "pending": 0,
        "pending_by_province": {},
        "lag_s": 0.0,
    }
    assert a.verified() and b.verified()


def test_no_identifier_is_in_clear_on_the_stream_and_nothing_unmarked_is_published(
    provinces: tuple[Province, Province], nats_server: NatsServer
) -> None:
    a, b = provinces
    mothers = [migrant(n) for n in range(3)]
    rows = [birth_in_b(n, m) for n, m in enumerate(mothers)]
    b.ingest_health("births", rows)
    run(pump(b.exchange(nats_server.url)))

    async def raw() -> list[bytes]:
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        info = await js.stream_info(stream_name("33"))
        got = [
            (await js.get_msg(stream_name("33"), seq)).data or b""
            for seq in range(info.state.first_seq, info.state.last_seq + 1)
        ]
        await nc.close()
        return got

    messages = run(raw())
    assert len(messages) == 3
    secrets = {
        v
        for r in rows
        for k, v in r.items()
        if k in ("母亲身份证号", "母亲姓名", "父亲身份证号", "父亲姓名", "新生儿姓名", "联系电话")
    }
    for data in messages:
        text = data.decode()
        for secret in secrets:
            assert secret not in text
            assert secret.encode().hex() not in text
        header = json.loads(data)
        assert set(header) == {"v", "id", "from", "to", "purpose", "kind", "sent_at", "body", "sig"}
        assert header["purpose"] == "service_delivery"
        # A opens the body: only what the standard marks for exchange is in it.
        plain = SUITE.decrypt(
            base64.b64decode(header["body"]), a.me.sealing, info=header_info(header)
        )
        body = json.loads(plain)
        assert set(body["subject"]) == {"id_number", "name", "sex", "birth_date", "hukou_region"}
        assert set(body["fact"]) == {
            "event_date",
            "recorded_at",
            "birth_certificate_no",
            "birth_order",
            "child_sex",
            "region",
        }
        assert "pregnancies" not in plain.decode() and "phone" not in plain.decode()
    assert b.verified()


def _publish(url: str, province: str, data: bytes, msg_id: str | None) -> None:
    async def go() -> None:
        nc = await nats.connect(url)
        js = nc.jetstream()
        await Exchange.ensure_stream(js, province)
        headers = {"Nats-Msg-Id": msg_id} if msg_id else None
        await js.publish(
            subject(province, "34"), data, stream=stream_name(province), headers=headers
        )
        await nc.close()

    asyncio.run(go())


def _sent_once(a: Province, b: Province, n: int, url: str) -> tuple[bytes, str]:
    """A mother A knows gives birth in B; B relays it (A does not take it yet). Returns the
    message's envelope and id."""
    mother = migrant(n)
    _known(a, [mother])
    b.ingest_health("births", [birth_in_b(n, mother)])
    run(pump(b.exchange(url)))
    o = s.exchange_outbox
    with b.store.engine.connect() as conn:
        envelope, msg = conn.execute(sa.select(o.c.envelope, o.c.message_id)).one()
    return bytes(envelope), str(msg)


def test_the_same_message_twice_is_one_fact(
    provinces: tuple[Province, Province], nats_server: NatsServer
) -> None:
    a, b = provinces
    envelope, msg = _sent_once(a, b, 1, nats_server.url)
    _publish(nats_server.url, "33", envelope, msg)  # dropped by the stream (same id)
    _publish(nats_server.url, "33", envelope, None)  # past the window: a second copy
    run(pump(a.exchange(nats_server.url)))
    assert len(a.exchange_facts()) == 1
    status = exchange_status(a.store, a.me)["inbox"]
    assert status["accepted"] == 1 and status["rejected"] == 0
    with a.store.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(s.exchange_inbox)) == 1
    assert a.verified()


def _forged(url: str, by: Identity, a: Province, claim: str | None, n: int) -> None:
    """A message for A on B's stream, sealed for A but signed by `by` (claiming `claim`)."""
    mother = migrant(n)
    body = {
        "source": "health",
        "record_key": f"9{n:011d}",
        "role": "mother",
        "subject": {
            "id_number": mother,
            "name": "李秀",
            "sex": "2",
            "birth_date": None,
            "hukou_region": "340111",
        },
        "fact": {
            "event_date": "2024-01-02",
            "recorded_at": "2024-01-03 10:00:00",
            "birth_certificate_no": f"9{n:011d}",
            "birth_order": "1",
            "child_sex": "1",
            "region": "330106",
        },
    }
    target = Partner("34", a.me.signing.public_key(), a.me.sealing.public_key(), dt.datetime.now())
    me = Identity(claim or by.province, by.signing, by.sealing)
    msg = message_id(me.province, "health", str(body["record_key"]), "x")
    data = seal_message(me, target, msg, "birth_registration", body, dt.datetime(2024, 1, 3))
    _publish(url, "33", data, msg)


def test_bad_signature_and_unknown_province_are_quarantined_with_their_reason(
    provinces: tuple[Province, Province], nats_server: NatsServer, tmp_path: Path
) -> None:
    a, _b = provinces
    _known(a, [migrant(1), migrant(2)])
    stranger = create_identity(tmp_path / "stranger-keys", "36")
    # Claims to be B but is signed with another key; and one from 江西, whom A does not know.
    _forged(nats_server.url, stranger, a, "33", 1)
    _forged(nats_server.url, stranger, a, None, 2)
    run(pump(a.exchange(nats_server.url)))
    assert a.exchange_facts() == []
    inbox = exchange_status(a.store, a.me)["inbox"]
    assert inbox["rejected"] == 2
    assert inbox["reasons"] == {"sender_unknown": 1, "signature": 1}
    with a.store.engine.connect() as conn:
        rules = sorted(
            conn.scalars(sa.select(s.quarantine.c.rule).where(s.quarantine.c.source == "exchange"))
        )
    assert rules == ["exchange_sender_unknown", "exchange_signature"]
    assert a.verified()


def test_a_person_a_does_not_know_waits_in_quarantine_and_is_linked_when_she_arrives(
    provinces: tuple[Province, Province], nats_server: NatsServer
) -> None:
    a, b = provinces
    known, newcomer = migrant(1), migrant(2)
    _known(a, [known])
    b.ingest_health("births", [birth_in_b(1, known), birth_in_b(2, newcomer)])
    run(pump(b.exchange(nats_server.url), a.exchange(nats_server.url)))
    assert len(a.exchange_facts()) == 1
    inbox = exchange_status(a.store, a.me)["inbox"]
    assert (inbox["accepted"], inbox["waiting"]) == (1, 1)
    assert inbox["reasons"] == {"person_unknown": 1}
    quarantined = a.count(s.quarantine, s.quarantine.c.rule == "exchange_person_unknown")
    assert quarantined == 1
    issue = s.quality_issues.c.rule == "exchange_person_unknown"
    assert a.count(s.quality_issues, issue) == 1
    listed = list_issues(a.store, "exchange")  # what `fpcredit quality list` prints
    assert [i["rule"] for i in listed] == ["exchange_person_unknown"]
    assert "本省尚无此人档案" in listed[0]["message"] and "跨省交换消息" in listed[0]["message"]

    # She arrives (A's own record of her), is linked; the waiting message follows.
    a.ingest_health("arrival", [known_in_a(2, newcomer)])
    a.link()
    ex = a.exchange(nats_server.url)
    assert run(ex.resolve()) == 1
    facts = a.exchange_facts()
    assert len(facts) == 2
    assert facts[1].person_id == a.person_of(newcomer)
    assert a.count(s.quarantine, s.quarantine.c.source == "exchange") == 0
    assert a.count(s.quality_issues, s.quality_issues.c.source == "exchange") == 0
    inbox = exchange_status(a.store, a.me)["inbox"]
    assert (inbox["waiting"], inbox["linked_later"]) == (0, 1)
    assert run(ex.resolve()) == 0  # once
    assert a.verified()


def test_a_corrected_record_replaces_its_older_version_in_a(
    provinces: tuple[Province, Province], nats_server: NatsServer
) -> None:
    a, b = provinces
    mother = migrant(4)
    _known(a, [mother])
    b.ingest_health("first", [birth_in_b(4, mother, 孩次="1")])
    b.ingest_health("corrected", [birth_in_b(4, mother, 孩次="2", 登记时间="2021-06-01 09:00:00")])
    assert b.count(s.exchange_outbox) == 2  # two versions, two messages
    run(pump(b.exchange(nats_server.url), a.exchange(nats_server.url)))
    f = s.facts
    with a.store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(f.c.attrs, f.c.superseded_at).where(f.c.source == "exchange").order_by(f.c.id)
        ).all()
    assert [json.loads(r.attrs)["birth_order"] for r in rows] == ["1", "2"]
    assert rows[0].superseded_at == dt.datetime(2021, 6, 1, 9, 0)
    assert rows[1].superseded_at is None
    assert a.verified()


def test_the_same_record_under_another_message_id_is_not_written_twice(
    provinces: tuple[Province, Province], nats_server: NatsServer
) -> None:
    a, b = provinces
    envelope, _ = _sent_once(a, b, 5, nats_server.url)
    # B's operator re-signs the same body under a new id (a rebuilt outbox, say).
    doc = json.loads(envelope)
    body = json.loads(
        SUITE.decrypt(base64.b64decode(doc["body"]), a.me.sealing, info=header_info(doc))
    )
    again = seal_message(
        b.me,
        Partner("34", a.me.signing.public_key(), a.me.sealing.public_key(), dt.datetime.now()),
        "f" * 32,
        "birth_registration",
        body,
        dt.datetime(2026, 6, 2),
    )
    _publish(nats_server.url, "33", again, "f" * 32)
    run(pump(a.exchange(nats_server.url)))
    assert len(a.exchange_facts()) == 1
    inbox = exchange_status(a.store, a.me)["inbox"]
    assert (inbox["accepted"], inbox["duplicates"], inbox["rejected"]) == (1, 1, 0)
    assert a.verified()


def test_a_message_the_store_refuses_is_quarantined_and_does_not_hold_up_the_rest(
    provinces: tuple[Province, Province], nats_server: NatsServer, monkeypatch: Any
) -> None:
    a, b = provinces
    mothers = [migrant(n) for n in range(3)]
    _known(a, mothers)
    b.ingest_health("births", [birth_in_b(n, m) for n, m in enumerate(mothers)])
    run(pump(b.exchange(nats_server.url)))
    real = writes.write_facts
    poison = "330000000001"

    def refusing(conn: Any, vault: Any, items: Any, *args: Any) -> Any:
        if any(i.opened.record_key == poison for i in items):
            raise sa.exc.IntegrityError("INSERT", {}, Exception("constraint"))
        return real(conn, vault, items, *args)

    monkeypatch.setattr(writes, "write_facts", refusing)
    run(pump(a.exchange(nats_server.url)))
    facts = a.exchange_facts()
    assert sorted(f.record_key for f in facts) == [
        "33/health/330000000000",
        "33/health/330000000002",
    ]
    inbox = exchange_status(a.store, a.me)["inbox"]
    assert inbox["rejected"] == 1 and inbox["reasons"] == {"unwritable": 1}
    assert a.verified()
