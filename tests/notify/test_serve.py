"""`fpcredit serve` runs the worker: the app's lifespan starts it and stops it."""

from __future__ import annotations

import threading
import time

from fastapi.testclient import TestClient

from fpcredit.config import Settings
from fpcredit.guard.keys.crypto import load_vault
from fpcredit.notify.webhooks import set_webhook
from fpcredit.service import initialise
from fpcredit.store.db import Store
from fpcredit.web.app import create_app
from tests.notify.conftest import Department, enqueue_for, quick


def test_the_service_delivers_in_the_background(
    settings: Settings, store: Store, department: Department
) -> None:
    initialise(settings)
    settings = quick(settings, notify_poll_s=0.1)
    vault = load_vault(settings.keys_dir)
    department.receiver.secret = set_webhook(store, vault, "health", department.server.url)
    app = create_app(settings)
    with TestClient(app):
        ids = enqueue_for(store, "health", 3)
        deadline = time.monotonic() + 30
        while department.receiver.unique() != set(ids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert department.receiver.unique() == set(ids)
    assert not [t for t in threading.enumerate() if t.name == "fpcredit-notify"]
