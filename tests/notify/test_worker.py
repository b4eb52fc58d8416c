"""The worker against a real department system: outages, retries, dead letters, backoff."""

from __future__ import annotations

import json
import socket
from unittest.mock import ANY

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from fpcredit.cli import app
from fpcredit.config import Settings
from fpcredit.guard.keys.crypto import Vault
from fpcredit.notify.channels import Router, SmsNotifier
from fpcredit.notify.sms import OutboxChannel
from fpcredit.notify.webhooks import WebhookNotifier, set_webhook, sign, verify
from fpcredit.notify.worker import Backoff, Worker
from fpcredit.store import schema as s
from fpcredit.store.db import Store
from tests.notify.conftest import Clock, Department, enqueue_for, quick
from tests.notify.receiver import Receiver, Server


def _worker(settings: Settings, store: Store, vault: Vault, clock: Clock) -> Worker:
    hooks = WebhookNotifier(store, vault, settings.notify_timeout_s)
    sms = SmsNotifier(store, vault, OutboxChannel(store, vault), "zh")
    return Worker(store, settings, Router(sms, hooks), clock=clock)


def _states(store: Store) -> dict[str, str]:
    n = s.notifications
    with store.engine.connect() as conn:
        return dict(conn.execute(sa.select(n.c.message_id, n.c.state)).all())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_receiver_down_for_a_while_gets_every_message_once(
    settings: Settings, store: Store, vault: Vault, clock: Clock
) -> None:
    settings = quick(settings, notify_attempts=10)
    port = _free_port()  # nobody listens there yet: connections are refused
    secret = set_webhook(store, vault, "health", f"http://127.0.0.1:{port}/hook")
    ids = enqueue_for(store, "health", 45)
    worker = _worker(settings, store, vault, clock)

    refused = worker.run_once()
    assert (refused.delivered, refused.retried) == (0, 45)
    receiver = Receiver(secret=secret, status=500)
    server = Server(receiver, port)  # up, but failing
    try:
        clock.advance(60)
        failing = worker.run_once()
        assert (failing.delivered, failing.retried) == (0, 45)
        assert receiver.posts == 45
        receiver.status = 200  # recovered
        clock.advance(60)
        assert worker.run_once().delivered == 45
        clock.advance(3600)
        assert worker.run_once().delivered == 0  # nothing sent twice once delivered
    finally:
        server.close()
    assert receiver.unique() == set(ids)
    assert len(receiver.accepted) == len(ids)  # each exactly once
    assert receiver.bad_signatures == 0
    assert set(_states(store).values()) == {"delivered"}


def test_a_permanently_failing_receiver_ends_in_the_dead_letters(
    settings: Settings, store: Store, vault: Vault, clock: Clock, department: Department
) -> None:
    settings = quick(settings, notify_attempts=3)
    department.receiver.secret = set_webhook(store, vault, "police", department.server.url)
    department.receiver.status = 500
    ids = enqueue_for(store, "police", 4)
    worker = _worker(settings, store, vault, clock)
    for _ in range(3):
        worker.run_once()
        clock.advance(60)
    assert set(_states(store).values()) == {"dead"}
    assert department.receiver.posts == 12

    runner = CliRunner()
    env = {"FPCREDIT_HOME": str(settings.home), "FPCREDIT_DATABASE_URL": settings.database_url}
    shown = runner.invoke(app, ["notify", "dead", "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    dead = json.loads(shown.output)
    assert {d["message_id"] for d in dead} == set(ids)
    assert {d["reason"] for d in dead} == {"http_500"}
    text = runner.invoke(app, ["notify", "dead"], env=env)
    assert ids[0] in text.output and "http_500" in text.output

    again = runner.invoke(app, ["notify", "retry", ids[0]], env=env)
    assert again.exit_code == 0, again.output
    assert _states(store)[ids[0]] == "pending"
    unknown = runner.invoke(app, ["notify", "retry", ids[0]], env=env)
    assert unknown.exit_code == 1  # no longer dead
    department.receiver.status = 200
    assert worker.run_once().delivered == 1
    assert department.receiver.unique() == {ids[0]}


def test_backoff_grows_and_is_jittered() -> None:
    policy = Backoff(base_s=2.0, max_s=1000.0)
    for failed in range(1, 8):
        samples = [policy.delay(failed) for _ in range(200)]
        low = 2.0 * 2 ** (failed - 1)
        assert all(low <= d <= low + 2.0 for d in samples)  # base·2ⁿ⁻¹ plus up to base
        assert len(set(samples)) > 100  # jittered: two workers do not retry in step
    means = [sum(policy.delay(f) for _ in range(200)) / 200 for f in range(1, 8)]
    assert means == sorted(means) and means[-1] > 30 * means[0]
    capped = Backoff(base_s=2.0, max_s=10.0)
    assert max(capped.delay(20) for _ in range(50)) <= 10.0


def test_signature_binds_the_body_and_the_time() -> None:
    body = b'{"message_id": "m"}'
    header = sign("s3cret", 1_700_000_000, body)
    assert verify("s3cret", header, body, now=1_700_000_010)
    assert not verify("other", header, body, now=1_700_000_010)
    assert not verify("s3cret", header, body + b" ", now=1_700_000_010)
    assert not verify("s3cret", header, body, now=1_700_009_999)  # replayed much later
    assert not verify("s3cret", "garbage", body)


def test_a_department_without_a_webhook_is_retried_then_dead(
    settings: Settings, store: Store, vault: Vault, clock: Clock
) -> None:
    settings = quick(settings, notify_attempts=2)
    enqueue_for(store, "civil", 1)
    worker = _worker(settings, store, vault, clock)
    assert worker.run_once().retried == 1
    clock.advance(60)
    assert worker.run_once().dead == 1


@pytest.mark.parametrize("url", ["ftp://x.example/h", "not a url", "http://"])
def test_webhook_urls_are_checked(store: Store, vault: Vault, url: str) -> None:
    from fpcredit.notify.webhooks import WebhookError

    with pytest.raises(WebhookError):
        set_webhook(store, vault, "health", url)


def test_concurrent_workers_never_claim_the_same_row(
    settings: Settings, store: Store, clock: Clock
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from fpcredit.notify.worker import claim

    ids = enqueue_for(store, "health", 200)
    with ThreadPoolExecutor(4) as pool:
        batches = list(pool.map(lambda _: claim(store, clock(), 30.0, 20), range(12)))
    claimed = [d.message_id for batch in batches for d in batch]
    assert len(claimed) == len(set(claimed)) == 200
    assert set(claimed) <= set(ids)
    assert claim(store, clock(), 30.0, 20) == []  # all leased
    clock.advance(31)
    assert len(claim(store, clock(), 30.0, 500)) == 200  # the leases expired


def test_webhook_commands(settings: Settings, store: Store, vault: Vault) -> None:
    runner = CliRunner()
    env = {"FPCREDIT_HOME": str(settings.home), "FPCREDIT_DATABASE_URL": settings.database_url}
    made = runner.invoke(
        app, ["notify", "webhook", "set", "health", "https://h.example/hook", "--json"], env=env
    )
    assert made.exit_code == 0, made.output
    secret = json.loads(made.output)["secret"]
    listed = runner.invoke(app, ["notify", "webhook", "list", "--json"], env=env)
    assert json.loads(listed.output) == [
        {"source": "health", "url": "https://h.example/hook", "updated_at": ANY}
    ]
    assert secret not in listed.output
    bad = runner.invoke(app, ["notify", "webhook", "set", "Health!", "https://h.example"], env=env)
    assert bad.exit_code == 1
    enqueue_for(store, "health", 2)
    pending = runner.invoke(app, ["notify", "list", "--state", "pending", "--json"], env=env)
    assert len(json.loads(pending.output)) == 2
    assert runner.invoke(app, ["notify", "list", "--state", "odd"], env=env).exit_code == 1
