"""Persons' notifications by SMS: the phone on file, decrypted; the text in the service language."""

from __future__ import annotations

import sqlalchemy as sa

from fpcredit.config import Settings
from fpcredit.guard.keys.crypto import Vault
from fpcredit.notify.channels import Router, SmsNotifier, render
from fpcredit.notify.outbox import enqueue
from fpcredit.notify.sms import OutboxChannel, list_outbox
from fpcredit.notify.webhooks import WebhookNotifier
from fpcredit.notify.worker import Worker
from fpcredit.store import schema as s
from fpcredit.store.db import Store
from tests.guard.test_identity import file_person
from tests.notify.conftest import Clock, quick


def test_a_person_is_texted_at_the_phone_on_file(
    settings: Settings, store: Store, vault: Vault, clock: Clock
) -> None:
    texted = file_person(store, vault, "330106199001011234", "13800138000")
    silent = file_person(store, vault, "330106199202021238", None)
    params = {"as_of": "2026-06-30", "old_grade": "C", "new_grade": "B"}
    with store.engine.begin() as conn:
        sent = enqueue(conn, "grade_changed", person_id=texted, params=params)
        lost = enqueue(conn, "grade_changed", person_id=silent, params=params)
    hooks = WebhookNotifier(store, vault, 1.0)
    sms = SmsNotifier(store, vault, OutboxChannel(store, vault), "zh")
    worker = Worker(store, quick(settings), Router(sms, hooks), clock=clock)
    done = worker.run_once()
    assert (done.delivered, done.dead) == (1, 1)  # no phone: nothing to retry
    outbox = list_outbox(store, vault)
    assert [m["recipient"] for m in outbox] == ["138****8000"]
    assert outbox[0]["text"] == render("grade_changed", params, "zh")
    assert "由 C 调整为 B" in outbox[0]["text"]
    n = s.notifications
    with store.engine.connect() as conn:
        rows = dict(conn.execute(sa.select(n.c.message_id, n.c.last_error)).all())
    assert rows == {sent: None, lost: "no_phone"}


def test_rendering_fills_a_missing_placeholder() -> None:
    assert render("case_step", {"case_id": 9}, "en") == "[FP credit] Case 9 moved on: —."
