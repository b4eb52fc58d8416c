"""The catalogue's language: chosen per context (a CLI run, a request), negotiated from a header."""

from __future__ import annotations

import asyncio
import contextvars
import re
import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpcredit import messages
from fpcredit.messages import known, language, negotiate, text, using_language


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "zh"),
        ("", "zh"),
        ("en", "en"),
        ("en-US,en;q=0.9", "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("fr-FR,en;q=0.5,zh;q=0.4", "en"),
        ("fr-FR,zh;q=0.5,en;q=0.4", "zh"),
        ("en;q=0.4, zh-Hans;q=0.6", "zh"),
        ("EN-gb", "en"),
        ("en;q=0.5,zh;q=0.5", "en"),  # a tie: the earlier
        ("en;q=0", "zh"),  # "not acceptable"
        ("en;q=abc", "zh"),
        ("en;q=2", "zh"),  # not a weight
        ("*", "zh"),
        ("fr, de", "zh"),
    ],
)
def test_the_header_picks_the_language(header: str | None, expected: str) -> None:
    assert negotiate(header, "zh") == expected


def test_a_header_naming_neither_keeps_the_default() -> None:
    assert negotiate("fr", "en") == "en"
    assert negotiate(None, "en") == "en"


@given(st.text(max_size=80))
def test_any_header_gives_one_of_the_two(header: str) -> None:
    assert negotiate(header, "zh") in ("zh", "en")
    assert negotiate(header, "en") in ("zh", "en")


def test_two_tasks_write_two_languages_at_once() -> None:
    seen: dict[str, str] = {}

    async def read(lang: str, gate: asyncio.Event, other: asyncio.Event) -> None:
        with using_language(lang):  # type: ignore[arg-type]
            other.set()
            await gate.wait()  # the other task has chosen its language by now
            seen[lang] = text("web.rate_limited")

    async def both() -> None:
        a, b = asyncio.Event(), asyncio.Event()
        await asyncio.gather(read("en", a, b), read("zh", b, a))

    contextvars.copy_context().run(asyncio.run, both())
    assert seen["en"] == text("web.rate_limited", "en")
    assert seen["zh"] == text("web.rate_limited", "zh")
    assert seen["en"] != seen["zh"]
    assert language() == "zh"  # neither leaked out


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_both_languages_of_every_sentence_take_the_same_values() -> None:
    for key, (zh, en) in messages._TEXTS.items():
        assert _fields(zh) == _fields(en), key


def test_every_key_the_code_names_is_in_the_catalogue() -> None:
    # Literal keys only: a key built at run time (text(f"role.{…}")) is checked where it is made.
    named = re.compile(r"""\btext\(\s*["']([a-z0-9_.]+)["']""")
    root = Path(messages.__file__).parent
    used = {
        (path.relative_to(root).as_posix(), key)
        for path in root.rglob("*.py")
        for key in named.findall(path.read_text(encoding="utf-8"))
    }
    assert len(used) > 200  # the pattern finds the calls
    assert not {(where, key) for where, key in used if not known(key)}
