"""Log redaction: identifiers never reach a log line, in plain or JSON form."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpcredit.guard.redact import (
    JsonFormatter,
    RedactingFilter,
    configure_logging,
    redact_text,
    redact_value,
)
from tests.collect.feeds import corrupt
from tests.standard.test_idcard import valid_ids

ID = "11010519491231002X"
PHONE = "13812345678"


@pytest.fixture
def installed(capsys: pytest.CaptureFixture[str]) -> Iterator[logging.Handler]:
    """`configure_logging` on the root logger (writing to the captured stderr), undone after."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    before = {h: list(h.filters) for h in handlers}
    handler = configure_logging(json=True, level=logging.INFO)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)
    for h, filters in before.items():
        h.filters[:] = filters


def _record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("fpcredit.test", logging.INFO, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_ids_and_mobiles_are_masked_in_text() -> None:
    mistyped = corrupt(ID)
    got = redact_text(f"id {ID}, tel +86{PHONE}, 0086 {PHONE}, mistyped {mistyped}")
    assert got == (
        "id 110105************, tel +86138****5678, 0086 138****5678, mistyped 110105************"
    )


def test_numbers_that_are_not_identifiers_stay() -> None:
    kept = "record 330106000001, 17 digits 11010519491231002, 19 digits 6222021234567890123"
    assert redact_text(kept) == kept
    assert redact_text("12345678901") == "12345678901"  # 12… is no mobile prefix
    assert redact_text("2020-01-01 10:00") == "2020-01-01 10:00"


@given(valid_ids(), st.text(max_size=20), st.text(max_size=20))
def test_a_valid_id_anywhere_in_a_message_is_masked(id_number: str, left: str, right: str) -> None:
    # Digits glued to the number make it a longer number, which is not an ID number.
    left = left.rstrip("0123456789") + " "
    right = " " + right.lstrip("0123456789Xx")
    assert id_number not in redact_text(left + id_number + right)


@given(st.from_regex(r"\A1[3-9][0-9]{9}\Z"))
def test_a_mobile_is_always_masked(phone: str) -> None:
    assert phone not in redact_text(f"call {phone} now")


def test_filter_masks_message_args_and_extras() -> None:
    record = _record(
        "person %s phone %s",
        ID,
        PHONE,
        mother_name="王芳",
        person={"name": "张三", "phones": [PHONE], "age": 30},
        note=f"re {ID}",
        count=3,
    )
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "person 110105************ phone 138****5678"
    assert record.__dict__["mother_name"] == "王*"
    assert record.__dict__["person"] == {"name": "张*", "phones": ["138****5678"], "age": 30}
    assert record.__dict__["note"] == "re 110105************"
    assert record.__dict__["count"] == 3


def test_exception_text_is_masked() -> None:
    try:
        raise ValueError(f"cannot use {ID}")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", None, sys.exc_info())
    RedactingFilter().filter(record)
    assert record.exc_text and ID not in record.exc_text and "110105************" in record.exc_text


def test_json_formatter_writes_one_object_per_line() -> None:
    record = _record("line one\nline %s", ID, source="health")
    RedactingFilter().filter(record)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["message"] == "line one\nline 110105************"
    assert data["level"] == "INFO" and data["logger"] == "fpcredit.test"
    assert data["source"] == "health" and data["time"].endswith("+00:00")


def test_redact_value_by_key() -> None:
    assert redact_value("11010519491231002X", "id_number") == "110105************"
    assert redact_value("not an id", "id_number") == "*********"
    assert redact_value(13812345678, "n") == "138****5678"
    assert redact_value(42, "n") == 42


def test_configure_logging_masks_every_logger(
    installed: logging.Handler, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    logging.getLogger("fpcredit.deep.module").warning(
        "lookup %s", ID, extra={"mother_phone": PHONE}
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    data = json.loads(err[0])
    assert data["message"] == "lookup 110105************"
    assert data["mother_phone"] == "138****5678"
    assert ID not in caplog.text  # the other root handlers are filtered too


def test_configure_logging_twice_keeps_one_handler(installed: logging.Handler) -> None:
    again = configure_logging(json=False, level="WARNING")
    root = logging.getLogger()
    try:
        assert installed not in root.handlers and again in root.handlers
        assert sum(1 for h in root.handlers if getattr(h, "_fpcredit_handler", False)) == 1
    finally:
        root.removeHandler(again)
