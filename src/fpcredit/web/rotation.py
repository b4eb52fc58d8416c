"""Key rotation started over the API: a background job in the service, with its status.

A rotation re-encrypts every identifier of the store: minutes at a million persons. It runs in
a thread of its own rather than in the request's: a request would outlive any proxy's timeout,
and a timeout in the thread pool cannot stop the work (a Python thread cannot be cancelled), so
it would only hide a rotation still running. One rotation at a time per service; an interrupted
one (the service stopped) is finished by starting it again (guard/keys/rotate.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, replace
from typing import Any, Literal

from fpcredit.errors import AuthError, FpcreditError
from fpcredit.guard.auth.admin import Administration
from fpcredit.guard.keys.ciphers import ProfileName
from fpcredit.messages import text

__all__ = ["RotationJob", "RotationStatus"]
log = logging.getLogger(__name__)

State = Literal["idle", "running", "done", "failed"]


@dataclass(frozen=True)
class RotationStatus:
    """Where the service's key rotation is: its state, who started it, its last step."""

    state: State = "idle"
    started_by: str | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    step: str | None = None  # the rotation's last progress message
    report: dict[str, Any] | None = None  # guard.rotate.rotate_keys's, once done
    error: str | None = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class RotationJob:
    """The one key rotation a service runs at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._status = RotationStatus()
        self._thread: threading.Thread | None = None

    def status(self) -> RotationStatus:
        with self._lock:
            return self._status

    def _set(self, **changes: Any) -> None:
        with self._lock:
            self._status = replace(self._status, **changes)

    def start(self, admin: Administration, profile: ProfileName | None) -> RotationStatus:
        """Start a rotation as `admin` (its duty checked here, on the trail when it starts
        and ends); AuthError `rotation_running` while one runs."""
        admin.check("key_rotate")
        with self._lock:
            if self._status.state == "running":
                raise AuthError("rotation_running", text("admin.rotation_running"))
            self._status = RotationStatus("running", admin.actor.code, _now())
            self._thread = threading.Thread(
                target=self._run, args=(admin, profile), name="fpcredit-key-rotation", daemon=True
            )
            self._thread.start()
            return self._status

    def _run(self, admin: Administration, profile: ProfileName | None) -> None:
        try:
            report = admin.rotate_keys(lambda step: self._set(step=step), profile=profile)
        except FpcreditError as e:
            self._set(state="failed", finished_at=_now(), error=str(e))
        except Exception as e:  # a thread's crash would otherwise vanish: logged, then shown
            log.exception("key rotation failed")
            self._set(state="failed", finished_at=_now(), error=type(e).__name__)
        else:
            self._set(state="done", finished_at=_now(), report=report)

    def wait(self, timeout: float | None = None) -> RotationStatus:
        """Wait for the running rotation to end (tests; shutting down)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.status()
