"""Run an appender in its own process, kill -9 it mid-burst, and collect what it acknowledged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from fpcredit.config import Settings


def acknowledged_before_kill(script: str, settings: Settings, at_least: int) -> list[int]:
    """Start `script` (argv: home, database URL; it prints each index once its append returned),
    kill it with SIGKILL after `at_least` indexes, and return every index it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(settings.home), settings.database_url or ""],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    acknowledged: list[int] = []
    deadline = time.monotonic() + 60
    while len(acknowledged) < at_least and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        acknowledged.append(int(line))
    os.kill(proc.pid, signal.SIGKILL)
    rest, err = proc.communicate(timeout=30)
    acknowledged += [int(x) for x in rest.split()]
    assert len(acknowledged) >= at_least, err
    return acknowledged
