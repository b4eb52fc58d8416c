"""Log redaction: ID numbers and mobile numbers masked in every log record before it is written.

`RedactingFilter` masks, in the message, its arguments, the exception text and every extra
field: any GB 11643 ID number (pattern, then the standard's checks; a number failing only its
check digit is masked too, being a mistyped ID number), any mainland mobile number
(``1[3-9]`` and nine digits). Extra fields are also masked by key (`guard.masking.field_of`):
``name``, ``mother_name``, ``phone``, ``address`` and the like.

Names in free text cannot be recognised by a pattern: a person's name must never be passed to a
log call except as such a keyed extra field (e.g. ``extra={"person": {"name": n}}``).
"""

from __future__ import annotations

import datetime as dt
import json as jsonlib
import logging
import logging.handlers
import queue
import re
import sys
from collections.abc import Mapping
from typing import Any, Final

from fpcredit.errors import InvalidIdNumber
from fpcredit.guard.masking import field_of, mask_id_number, mask_phone, mask_value
from fpcredit.standard import idcard

__all__ = [
    "JsonFormatter",
    "RedactingFilter",
    "configure_logging",
    "redact_text",
    "redact_value",
]

# 18 characters (17 digits and a check character) or a legacy 15-digit number, not part of a
# longer run of digits. Every candidate is then checked: a 15-digit record key is left alone.
_ID: Final = re.compile(r"(?<!\d)(?:\d{17}[\dXx]|\d{15})(?![\dXx])")
# A mobile number, with or without +86 / 0086; only the 11 digits are masked.
_MOBILE: Final = re.compile(r"(?<!\d)((?:(?:\+|00)?86[ -]?)?)(1[3-9]\d{9})(?!\d)")

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD: Final = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}
# Marks the handler `configure_logging` installed, so a second call replaces it.
_OURS: Final = "_fpcredit_handler"


def _looks_like_id(candidate: str) -> bool:
    try:
        idcard.parse(candidate)
    except InvalidIdNumber as e:
        return e.reason == "check_digit"
    return True


def _mask_id(match: re.Match[str]) -> str:
    found = match.group()
    return mask_id_number(found) if _looks_like_id(found) else found


def _mask_mobile(match: re.Match[str]) -> str:
    return match.group(1) + mask_phone(match.group(2))


def redact_text(message: str) -> str:
    """`message` with every ID number and mobile number in it masked."""
    if not any(c.isdigit() for c in message):
        return message  # most log lines: nothing to look at
    return _MOBILE.sub(_mask_mobile, _ID.sub(_mask_id, message))


def redact_value(value: Any, key: str | None = None) -> Any:
    """An extra field's value, masked by its key when it is an identifier, else by content.

    Mappings, lists and tuples are walked; other values are kept unless their text holds an ID
    or mobile number, in which case the masked text replaces them.
    """
    if isinstance(value, Mapping):
        return {k: redact_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(v, key) for v in value]
    if value is None or isinstance(value, bool | float):
        return value
    text = value if isinstance(value, str) else str(value)
    if key is not None and field_of(key):
        return mask_value(key, text)
    masked = redact_text(text)
    return value if masked == text else masked


class RedactingFilter(logging.Filter):
    """Masks identifiers in a record in place; install it on handlers (`configure_logging`).

    The record is changed, not copied, so every handler after this one sees it masked too.
    Records are never dropped.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_fpcredit_redacted", False):
            return True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string: log what was given, masked
            message = f"{record.msg} {record.args}"
        record.msg, record.args = redact_text(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        for key in [k for k in record.__dict__ if k not in _STANDARD]:
            setattr(record, key, redact_value(record.__dict__[key], key))
        record._fpcredit_redacted = True
        return True


def extras(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a record was given with `extra=`."""
    return {
        k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")
    }


class _Stderr(logging.StreamHandler[Any]):
    """Writes to whatever `sys.stderr` is when a record comes (test runners swap it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, extras, exc."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in extras(record).items():
            out.setdefault(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = record.stack_info
        return jsonlib.dumps(out, ensure_ascii=False, default=str)


class _Handoff(logging.handlers.QueueHandler):
    """Hands records to the logging thread as they are: formatting and redaction happen there,
    not on the thread that logged (the server's event loop). Closing it (at exit, through
    `logging.shutdown`) stops the thread once it has written what is queued."""

    listener: logging.handlers.QueueListener | None = None

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record

    def close(self) -> None:
        if self.listener is not None:
            self.listener.stop()
            self.listener = None
        super().close()


def configure_logging(
    json: bool = False, level: int | str = logging.WARNING, *, queued: bool = False
) -> logging.Handler:
    """Log to stderr through the redacting filter (as JSON lines when `json`), at `level`.

    Installs one handler on the root logger (replacing one installed before) and adds the
    filter to the root's other handlers too, so no handler writes an unmasked record. With
    `queued` (the server), records go through a queue to a logging thread, which redacts,
    formats and writes them (closing the returned handler stops the thread).
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(old)
    handler: logging.Handler = _Stderr()
    handler.setFormatter(
        JsonFormatter() if json else logging.Formatter("%(levelname)s %(name)s: %(message)s")
    )
    handler.addFilter(RedactingFilter())
    if queued:
        records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        handoff = _Handoff(records)
        handoff.listener = logging.handlers.QueueListener(records, handler)
        handoff.listener.start()
        handler = handoff
    setattr(handler, _OURS, True)
    root.addHandler(handler)
    for h in root.handlers:
        if h is not handler and not any(isinstance(f, RedactingFilter) for f in h.filters):
            h.addFilter(RedactingFilter())
    root.setLevel(level)
    return handler
