"""What a browser test checks on every page it visits (`check_page`), and the demo server it
visits (`DemoServer`: its address, accounts, and the codes a person would read on a phone).

Chromium is Debian's (`/usr/bin/chromium`, installed by scripts/setup) driven by Playwright's
`executable_path`: nothing is downloaded at test time. axe-core is vendored beside this file
(scripts/vendor-assets) and injected through DevTools evaluation, which the page's CSP
(`script-src 'self'`, no inline scripts) does not govern: the page is checked as served.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from playwright.sync_api import ConsoleMessage, Page

from fpcredit.config import Settings
from fpcredit.guard.auth.passwords import TOTP_STEP_S, totp_code
from fpcredit.guard.keys.crypto import load_vault
from fpcredit.notify.sms import list_outbox
from fpcredit.service import DemoAccounts, DemoCitizen, open_ready_store

ROOT: Final = Path(__file__).resolve().parents[3]
SCREENSHOTS: Final = ROOT / "var" / "screenshots"
AXE: Final = Path(__file__).parent / "vendor" / "axe.min.js"
CHROMIUM: Final = "/usr/bin/chromium"
# Root in a container has no user namespace for Chromium's sandbox.
CHROMIUM_ARGS: Final = ["--no-sandbox", "--disable-dev-shm-usage"]
WCAG: Final = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING: Final = {"serious", "critical"}
PHONE: Final[dict[str, Any]] = {
    "viewport": {"width": 375, "height": 812},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
DESKTOP: Final[dict[str, Any]] = {"viewport": {"width": 1440, "height": 900}}
NEW_PASSWORD: Final = "Fp-credit-2026"  # what a test sets at a staff account's first login

# The problems each watched page logged: console errors (CSP violations among them) and
# uncaught exceptions, by the page's id.
_problems: dict[int, list[str]] = {}


def watch(page: Page) -> Page:
    """Collect the page's console errors and uncaught exceptions for `check_page`."""
    found = _problems.setdefault(id(page), [])

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            found.append(f"console: {message.text} ({message.location.get('url', '')})")

    page.on("console", console)
    page.on("pageerror", lambda error: found.append(f"pageerror: {error}"))
    return page


def problems(page: Page) -> list[str]:
    """What the page logged since `watch` (CSP violations are console errors in Chromium)."""
    return list(_problems.get(id(page), []))


def run_axe(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations of WCAG 2.1 A and AA on the page as it is now."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated through DevTools: not subject to the page's CSP, nothing added to its DOM.
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    options = {"runOnly": {"type": "tag", "values": WCAG}, "resultTypes": ["violations"]}
    result = page.evaluate("options => window.axe.run(document, options)", options)
    return list(result["violations"])


def describe(violations: list[dict[str, Any]]) -> str:
    """One line per violation, then its target nodes."""
    lines = []
    for v in violations:
        lines.append(f"{v['id']} [{v['impact']}]: {v['help']} ({v.get('helpUrl', '')})")
        lines += [f"    {node['target']}: {node.get('failureSummary', '')}" for node in v["nodes"]]
    return "\n".join(lines)


def screenshot(page: Page, name: str) -> Path:
    """The whole page as `var/screenshots/{name}-{w}x{h}.png` (the viewport's size)."""
    size = page.viewport_size or {"width": 0, "height": 0}
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}-{size['width']}x{size['height']}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def check_page(page: Page, name: str) -> Path:
    """Screenshot the page, then assert: no horizontal scroll, no serious or critical WCAG 2.1
    A/AA violation (axe-core), nothing logged as an error (console, CSP, exceptions).
    Returns the screenshot's path."""
    shot = screenshot(page, name)
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{name}: scrolls sideways ({widths[0]} > {widths[1]}px)"
    blocking = [v for v in run_axe(page) if v["impact"] in BLOCKING]
    assert not blocking, f"{name}: accessibility violations\n{describe(blocking)}"
    logged = problems(page)
    assert not logged, f"{name}: the page logged errors\n" + "\n".join(logged)
    return shot


def _step_start(step: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(step * TOTP_STEP_S, dt.UTC).replace(tzinfo=None)


@dataclass
class DemoServer:
    """A running `fpcredit serve` over a demo home (tests/web/browser/conftest.py)."""

    base_url: str
    home: Path
    accounts: DemoAccounts
    # Each staff account's password now: the one-time one until a test changes it.
    passwords: dict[str, str] = field(default_factory=dict)
    _last_step: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.passwords.update({s.username: s.password for s in self.accounts.staff})

    @property
    def settings(self) -> Settings:
        return Settings(home=self.home)

    def url(self, path: str) -> str:
        return self.base_url + path

    def totp(self, username: str) -> str:
        """A TOTP code for the account that the server has not seen yet: a code is good once
        (RFC 6238 §5.2), so a second login within 30 s takes the next step's (the server
        accepts ±1 step), waiting for it only when that one is used too."""
        staff = next(s for s in self.accounts.staff if s.username == username)
        now = int(time.time()) // TOTP_STEP_S
        step = max(now, self._last_step.get(username, now - 1) + 1)
        if step > now + 1:
            time.sleep((step - 1) * TOTP_STEP_S - time.time() + 0.1)
        self._last_step[username] = step
        return totp_code(staff.totp_secret, _step_start(step))

    def outbox_last_id(self) -> int:
        """The newest outbox message's id (0: none): pass it to `citizen_code` as `after`
        before asking for a code."""
        messages = self._outbox()
        return int(messages[-1]["id"]) if messages else 0

    def citizen_code(self, citizen: DemoCitizen, after: int = 0, timeout_s: float = 15) -> str:
        """The login code last texted to the citizen after outbox message `after`, waiting
        for it (the server sends codes from a background thread)."""
        deadline = time.monotonic() + timeout_s
        while True:
            mine = [
                m for m in self._outbox() if m["recipient"] == citizen.phone and m["id"] > after
            ]
            found = re.search(r"\d{6}", mine[-1]["text"]) if mine else None
            if found:
                return found.group()
            if time.monotonic() > deadline:
                raise AssertionError(f"no code texted to {citizen.phone} after message {after}")
            time.sleep(0.1)

    def _outbox(self) -> list[dict[str, Any]]:
        settings = self.settings
        store = open_ready_store(settings)
        try:
            return list_outbox(store, load_vault(settings.keys_dir))
        finally:
            store.engine.dispose()


__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "DESKTOP",
    "NEW_PASSWORD",
    "PHONE",
    "SCREENSHOTS",
    "DemoServer",
    "check_page",
    "describe",
    "problems",
    "run_axe",
    "screenshot",
    "watch",
]
