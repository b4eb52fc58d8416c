"""The browser tests' fixtures: one demo home per test session, a real `fpcredit serve` over it,
and Debian's Chromium driven by Playwright at a phone's and a desktop's size.

Every test here is marked `browser` and `slow` (skipped locally with `-m "not slow"`).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from filelock import FileLock
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from fpcredit.config import Settings
from fpcredit.service import load_province, seed_demo_accounts
from fpcredit.synth import generate
from tests.web.browser.harness import CHROMIUM, CHROMIUM_ARGS, DESKTOP, PHONE, DemoServer, watch

PEOPLE = 1200
SEED = 23
# A fixed day, as tests/web/conftest.py: the same province, grades and screenshots every day.
AS_OF = dt.date(2026, 6, 30)
FPCREDIT = str(Path(sys.executable).parent / "fpcredit")
# Browser tests send many requests from one address and log in again and again.
NO_RATE_LIMITS = {
    "FPCREDIT_RATE_LIMIT_PER_S": "0",
    "FPCREDIT_RATE_LIMIT_SUBJECT_PER_S": "0",
    "FPCREDIT_RATE_LIMIT_LOGIN_PER_MIN": "0",
    "FPCREDIT_RATE_LIMIT_CODE_PER_MIN": "0",
    # A journey logs one citizen in again within a minute: a code each time.
    "FPCREDIT_OTP_RESEND_S": "0",
}


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)


def _build(folder: Path) -> Path:
    """Synthetic province → loaded (the official evaluation exists) → demo accounts."""
    generate(people=PEOPLE, seed=SEED, out=folder / "feeds", until=AS_OF)
    home = folder / "home"
    settings = Settings(home=home)
    load_province(settings, folder / "feeds", AS_OF)
    seed_demo_accounts(settings)
    return home


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo home, built once per test session: under pytest-xdist the workers share the
    parent of their base temp folders, and the first to take the lock builds it there."""
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker's base folder is in the session's; without it the base folder is
    # the session's own (its parent outlives the session: a home built there would be reused
    # by a later session, built by older code).
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    built = shared / "browser-demo"
    with FileLock(str(shared / "browser-demo.lock")):
        if not (built / "ready").exists():
            shutil.rmtree(built, ignore_errors=True)
            _build(built)
            (built / "ready").touch()
    return built / "home"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"fpcredit serve exited {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url}/healthz never answered:\n{log.read_text()}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server and anything it started (its own process group)."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


@pytest.fixture(scope="session")
def demo_server(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """A real `fpcredit serve` on a free port over this worker's own copy of the demo home.

    One server per xdist worker, each on its copy: the store is SQLite, and a live store is
    written by one process (the server's trail group commit runs on its event loop; its
    checkpointer and notification worker write too), so two servers over one home would
    contend for its writes. A copy also keeps one worker's logins (first-login password
    changes, TOTP steps used, codes) from another's."""
    from fpcredit.service import DEMO_ACCOUNTS_FILE, DemoAccounts

    folder = tmp_path_factory.mktemp("server")
    home = folder / "home"
    shutil.copytree(demo_home, home)  # modes kept: 0700 folders, 0600 keys
    accounts = DemoAccounts.from_json((home / DEMO_ACCOUNTS_FILE).read_text(encoding="utf-8"))
    port, log = _port(), folder / "serve.log"
    env = {**os.environ, "FPCREDIT_HOME": str(home), **NO_RATE_LIMITS}
    env.pop("FPCREDIT_DATABASE_URL", None)  # the home's own SQLite
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [FPCREDIT, "serve", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped whole
        )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(base, proc, log)
        yield DemoServer(base, home, accounts)
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless; never a downloaded one. Per module, not per session:
    Playwright's sync API keeps its event loop running on the main thread while it is started,
    so every later test of the same worker that calls `asyncio.run` would be refused."""
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()
    finally:
        playwright.stop()


def _device(width: int, height: int) -> dict[str, Any]:
    """A phone's settings below 768 px wide (as PHONE: touch, 2× pixels), else a desktop's."""
    if width < 768:
        return {**PHONE, "viewport": {"width": width, "height": height}}
    return {**DESKTOP, "viewport": {"width": width, "height": height}}


@pytest.fixture
def page_at(browser: Browser) -> Iterator[Callable[[int, int], Page]]:
    """`page_at(375, 812)` (a phone: touch, 2× pixels) or `page_at(1440, 900)` (a desktop): a
    new page in its own context, locale zh-CN, watched for console errors (`check_page`)."""
    contexts: list[BrowserContext] = []

    def make(width: int, height: int) -> Page:
        context = browser.new_context(locale="zh-CN", **_device(width, height))
        contexts.append(context)
        return watch(context.new_page())

    yield make
    for context in contexts:
        context.close()
