"""What counts as a leak: a valid 18-digit ID number, a full mobile number, a known full name."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

from fpcredit.standard.idcard import is_valid

# Bounded by anything but an ASCII letter or digit: a run of digits inside a hex hash is no leak.
ID18: Final = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
MOBILE: Final = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")
# Full names of the synthetic people the running tests have created (fixtures add to it).
KNOWN_NAMES: set[str] = set()


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def leaks(text: str, names: set[str] | None = None, sent: str = "") -> list[str]:
    """What in `text` is an identifier in clear (masked for the report).

    `sent` is what the client itself sent: a value echoed back to its sender leaks nothing.
    """
    names = KNOWN_NAMES if names is None else names
    found = [f"id {m[:6]}…" for m in ID18.findall(text) if is_valid(m) and m not in sent]
    found += [f"phone {m[:3]}…" for m in MOBILE.findall(text) if m not in sent]
    try:
        values = list(_strings(json.loads(text)))
    except ValueError:
        # Plain text: names of three or more characters as substrings (two-character names
        # would match ordinary words).
        found += [f"name {n[0]}…" for n in names if len(n) >= 3 and n in text and n not in sent]
    else:
        found += [f"name {v[0]}…" for v in values if v in names and v not in sent]
    return found


def readable(content_type: str, content: bytes) -> str:
    """What a reader sees in a response: a PDF's text as `pdftotext` extracts it (the export's
    characters are in compressed streams, invisible to a scan of the bytes), else the body as
    UTF-8."""
    if content_type.split(";")[0].strip() == "application/pdf":
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "answer.pdf"
            path.write_bytes(content)
            done = subprocess.run(
                ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True
            )
        return done.stdout.decode("utf-8")
    return content.decode("utf-8", "replace")
