"""The message catalogue: every user-facing sentence, in Chinese (default) and English.

Each sentence has a key `domain.snake_name`, and the module named after its domain holds it
(`trail.file_damaged` is in `messages/trail.py`); the data-quality rules' messages are in
`rules.py`, keyed by the rule ids the store keeps. This module merges the domains into one
catalogue at import, refusing a key defined twice or outside its module's domain, and keeps the
language of the current context.
"""

from __future__ import annotations

import pkgutil
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from importlib import import_module
from types import ModuleType
from typing import Final, Literal, cast

from fpcredit.messages.rules import RULES

__all__ = [
    "RULES",
    "Language",
    "enumerate_words",
    "known",
    "label",
    "language",
    "negotiate",
    "reset_language",
    "rule_message",
    "set_language",
    "text",
    "using_language",
]

Language = Literal["zh", "en"]

# Every module of the package but `rules` is a domain: one to add is merged without a list to
# forget it in.
_DOMAINS: Final[tuple[ModuleType, ...]] = tuple(
    import_module(f"{__name__}.{module.name}")
    for module in pkgutil.iter_modules(__path__)
    if module.name != "rules"
)


def _merge(domains: Mapping[str, Mapping[str, tuple[str, str]]]) -> dict[str, tuple[str, str]]:
    """One catalogue from each domain's sentences. A key defined in two domains, or outside its
    own domain, is a ValueError: one would silently hide the other."""
    merged: dict[str, tuple[str, str]] = {}
    home: dict[str, str] = {}
    for domain, texts in domains.items():
        for key, sentence in texts.items():
            if key in merged:
                raise ValueError(
                    f"message key {key!r} is defined twice, in {home[key]!r} and {domain!r}"
                )
            if key.partition(".")[0] != domain:
                raise ValueError(f"message key {key!r} is outside its module's domain {domain!r}")
            merged[key] = sentence
            home[key] = domain
    return merged


_TEXTS: Final[dict[str, tuple[str, str]]] = _merge(
    {module.__name__.rpartition(".")[2]: module.TEXTS for module in _DOMAINS}
)

# The language of the current CLI run or request: a context variable, so two requests served
# at once (each its own task or thread context) write their own.
_language: ContextVar[Language] = ContextVar("fpcredit_language", default="zh")


def set_language(lang: Language) -> Token[Language]:
    """Choose the language of messages in the current context (a CLI run, a request); returns
    the token `reset_language` takes to undo it."""
    return _language.set(lang)


def reset_language(token: Token[Language]) -> None:
    """Go back to the language before `set_language` returned `token`."""
    _language.reset(token)


@contextmanager
def using_language(lang: Language) -> Iterator[None]:
    """Messages in `lang` within the block, in this context only."""
    token = _language.set(lang)
    try:
        yield
    finally:
        _language.reset(token)


def language() -> Language:
    """The language messages are currently written in."""
    return _language.get()


def negotiate(accept_language: str | None, default: Language) -> Language:
    """The language an `Accept-Language` header prefers (RFC 9110 §12.5.4) among zh and en:
    the one of higher weight (`q`), the earlier on a tie; `default` when it names neither (or
    `*` only, or nothing)."""
    best: tuple[float, int, Language] | None = None
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        primary = tag.strip().lower().partition("-")[0]
        if primary not in ("zh", "en"):
            continue
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if weight <= 0 or weight > 1:
            continue
        candidate = (-weight, position, cast(Language, primary))
        if best is None or candidate < best:
            best = candidate
    return default if best is None else best[2]


def text(key: str, lang: Language | None = None, **values: object) -> str:
    """A catalogue sentence, formatted, in `lang` or the current context's language."""
    zh, en = _TEXTS[key]
    lang = lang or _language.get()
    return (zh if lang == "zh" else en).format(**values)


def enumerate_words(items: Iterable[str], lang: Language | None = None) -> str:
    """Items named in a sentence: 甲、乙 in Chinese, "a; b" in English (labels may hold commas)."""
    return ("、" if (lang or _language.get()) == "zh" else "; ").join(items)


def known(key: str) -> bool:
    """Whether the catalogue has a sentence for `key`."""
    return key in _TEXTS


def label(key: str, lang: Language | None = None) -> str:
    """A catalogue label such as `role.mother`, or the key's last part when there is none."""
    return text(key, lang) if key in _TEXTS else key.partition(".")[2]


def rule_message(rule: str, field_label: str, field: str, lang: Language | None = None) -> str:
    """`母亲·公民身份号码（mother.id_number）：…校验码错误` — names field and rule."""
    zh, en = RULES[rule]
    lang = lang or _language.get()
    if lang == "zh":
        return f"{field_label}（{field}）：{zh}［{rule}］"
    return f"{field_label} ({field}): {en} [{rule}]"
