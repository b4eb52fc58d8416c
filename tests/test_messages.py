"""The catalogue: its language chosen per context, its domains, and every key the code names."""

from __future__ import annotations

import ast
import asyncio
import contextvars
import pkgutil
import re
import string
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import fpcredit
from fpcredit import messages
from fpcredit.collect.mapping import load_mapping, sources
from fpcredit.evaluate.compile.plan import STATUSES
from fpcredit.evaluate.policy_model import GROUPS, Flag
from fpcredit.guard.access import Purpose, Role
from fpcredit.messages import known, language, negotiate, text, using_language
from fpcredit.messages.exchange import REASONS as EXCHANGE_REASONS
from fpcredit.notify.outbox import KINDS


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


ROOT = Path(fpcredit.__file__).parent
DOMAINS = {key.partition(".")[0] for key in messages._TEXTS}
# A literal shaped like a key whose domain is a catalogue domain, but that is no message key.
NOT_KEYS = {"users.id", "witness.key"}  # a foreign-key column, a key file's name


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_both_languages_of_every_sentence_take_the_same_values() -> None:
    for key, (zh, en) in messages._TEXTS.items():
        assert _fields(zh) == _fields(en), key


def test_every_key_is_a_domain_and_a_snake_case_name() -> None:
    for key in messages._TEXTS:
        assert re.fullmatch(r"[a-z]+\.[a-z0-9]+(_[a-z0-9]+)*", key), key


def test_each_module_of_the_package_is_a_domain_with_sentences() -> None:
    package = {m.name for m in pkgutil.iter_modules(messages.__path__)} - {"rules"}
    assert package == DOMAINS
    assert all(module.TEXTS for module in messages._DOMAINS)


def test_a_key_defined_twice_is_refused() -> None:
    one = {"trail.x": ("甲", "a")}
    with pytest.raises(ValueError, match="defined twice"):
        messages._merge({"trail": one, "audit": {"trail.x": ("乙", "b")}})


def test_a_key_outside_its_domain_is_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        messages._merge({"audit": {"trail.x": ("甲", "a")}})


def _code() -> Iterator[tuple[str, str]]:
    """(where, source) of every module of the code but the catalogue itself."""
    for path in sorted(ROOT.rglob("*.py")):
        if "messages" not in path.relative_to(ROOT).parts:
            yield path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")


def _named_keys(source: str) -> set[str]:
    """Keys a literal names directly, `text("…")`, `known("…")`, `label("…")`, or passes on
    through a variable or another function (`refuse("…", "users.exists")`): every string shaped
    like `domain.name` whose domain is a catalogue domain."""
    named = set()
    tree = ast.parse(source)
    parts = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in parts:
            domain, dot, name = node.value.partition(".")
            if dot and domain in DOMAINS and re.fullmatch(r"[a-z0-9_]+", name):
                named.add(node.value)
    return named - NOT_KEYS


def _built_keys(source: str) -> set[str]:
    """The fixed heads of keys built at run time: `text(f"auth.password_{reason}")`."""
    heads = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.JoinedStr) and node.values:
            head = node.values[0]
            if isinstance(head, ast.Constant) and isinstance(head.value, str):
                domain, dot, _ = head.value.partition(".")
                if dot and domain in DOMAINS:
                    heads.add(head.value)
    return heads


def _calls(source: str, function: str) -> Iterator[ast.Call]:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            called = node.func
            name = called.attr if isinstance(called, ast.Attribute) else getattr(called, "id", "")
            if name == function:
                yield node


def _literal_args(source: str, function: str, alone: bool = False) -> set[str]:
    """The literal first arguments of the calls of `function` (with no second one: `alone`)."""
    return {
        call.args[0].value
        for call in _calls(source, function)
        if call.args and isinstance(call.args[0], ast.Constant)
        if not alone or len(call.args) == 1
    }


def _password_reasons() -> set[str]:
    source = (ROOT / "guard/auth/passwords.py").read_text(encoding="utf-8")
    reasons = {
        node.value.value
        for function in ast.walk(ast.parse(source))
        if isinstance(function, ast.FunctionDef) and function.name == "password_problem"
        for node in ast.walk(function)
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Constant)
        if node.value.value is not None
    }
    return reasons | {r for _, s in _code() for r in _literal_args(s, "weak")}


def _owners() -> set[str]:
    """The persons a department's row names (`mother` of `mother.id_number`)."""
    owners = set()
    for source in sources():
        mapping = load_mapping(source)
        owners |= {t.owner for column in mapping.columns.values() for t in column.to}
        owners |= {mapping.subject} | {c.partition(".")[0] for c in mapping.constants}
    return owners - {"fact"}


# The columns of the CLI's explanation and evaluation tables (cli/evaluation.py, cli/reports.py).
_COLUMNS = ("indicator", "name", "status", "value", "points", "weight", "counted", "contribution")
_COLUMNS += ("group", "occupation", "persons", "a_rate", "ratio", "four_fifths")


_EXCHANGE_ROWS = (
    "queued sent pending lag_s received accepted waiting linked_later rejected latency_p99_s"
).split()


def _dynamic_keys() -> dict[str, set[str]]:
    """Each head of a key built at run time, with every key it can build."""
    code = list(_code())
    return {
        "auth.": {f"auth.{c}" for _, s in code for c in _literal_args(s, "refuse", alone=True)},
        "auth.password_": {f"auth.password_{r}" for r in _password_reasons()},
        "evaluation.action_flag_": {f"evaluation.action_flag_{f}" for f in typing.get_args(Flag)},
        "role.": {f"role.{owner}" for owner in _owners()},
        # The fields of a quality issue that are not data elements (collect/validate.py;
        # exchange/receive.py: the message).
        "field.": {"field.row", "field.record_key", "field.kind", "field.message"},
        # A Pydantic error without a sentence of its own is said in Pydantic's words.
        "policy.pydantic_": set(),
        # A notification's text is its kind's message (notify/channels.py render).
        "notify.": {f"notify.{kind}" for kind in KINDS},
        "evaluation.column_": {f"evaluation.column_{c}" for c in _COLUMNS},
        "evaluation.status_": {f"evaluation.status_{s}" for s in STATUSES},
        "evaluation.counted_": {"evaluation.counted_yes", "evaluation.counted_not_raising"},
        "evaluation.rate_by_": {"evaluation.rate_by_group", "evaluation.rate_by_occupation"},
        "evaluation.group_": {f"evaluation.group_{g}" for g in GROUPS},
        # The pages' words for roles, purposes and trail actions (web/pages/words.py): a
        # code without one is shown as it is, so only the ones written must exist.
        "page.role_": {f"page.role_{r.value}" for r in Role},
        "page.purpose_": {f"page.purpose_{p.value}" for p in Purpose},
        "page.action_": {"page.action_login", "page.action_self_read"},
        # The exchange's reasons and `exchange status` rows (cli/exchange.py).
        "exchange.reject_": {f"exchange.reject_{code}" for code, _, _ in EXCHANGE_REASONS},
        "exchange.row_": {f"exchange.row_{row}" for row in _EXCHANGE_ROWS},
    }


def _missing(source: str) -> set[str]:
    return {key for key in _named_keys(source) if not known(key)}


def test_every_key_the_code_names_is_in_the_catalogue() -> None:
    used = {(where, key) for where, source in _code() for key in _named_keys(source)}
    assert len(used) > 250  # the scan finds the keys
    assert not {(where, key) for where, key in used if not known(key)}


def test_the_scan_would_catch_a_missing_key() -> None:
    source = 'raise refuse("gone", "users.gone")\nprint(text("trail.file_damaged"))\n'
    assert _missing(source) == {"users.gone"}


def test_every_key_the_code_builds_is_in_the_catalogue() -> None:
    dynamic = _dynamic_keys()
    heads = {head for _, source in _code() for head in _built_keys(source)}
    assert heads == set(dynamic)  # a new way of building keys is listed above
    assert all(dynamic[h] for h in heads if h != "policy.pydantic_")
    assert not {key for keys in dynamic.values() for key in keys if not known(key)}


def test_each_pydantic_sentence_names_an_error_pydantic_raises() -> None:
    from pydantic_core.core_schema import ErrorType

    errors = set(typing.get_args(ErrorType))
    head = "policy.pydantic_"
    assert {k.removeprefix(head) for k in messages._TEXTS if k.startswith(head)} <= errors


_TEMPLATE_KEY = re.compile(r"""\bt\(\s*["']([a-z]+\.[a-z0-9_]+)["']""")
_TEMPLATE_HEAD = re.compile(r"""\bt\(\s*["']([a-z]+\.[a-z0-9_]+_)["']\s*\+""")


def test_every_key_a_page_template_names_is_in_the_catalogue() -> None:
    templates = sorted((ROOT / "web" / "templates").rglob("*.html"))
    named = {k for path in templates for k in _TEMPLATE_KEY.findall(path.read_text("utf-8"))}
    assert len(named) > 100  # the scan finds the pages' sentences
    assert not {key for key in named if not key.endswith("_") and not known(key)}
    # A key built in a template (`t("page.step_" + step)`) has every key it can build.
    heads = {h for path in templates for h in _TEMPLATE_HEAD.findall(path.read_text("utf-8"))}
    built = {
        "page.case_kind_": ("objection", "repair", "correction", "review"),
        "page.case_lead_": ("objection", "repair", "correction", "review"),
        "page.case_words_": ("objection", "repair", "correction", "review"),
        "page.queue_": ("objection", "repair", "correction", "review"),
        "page.case_state_": ("open", "closed"),
        "page.outcome_": ("uphold", "correct", "reject", "approve", "refuse", "confirm", "revise"),
        "page.points_kind_": ("earning", "redemption", "reversal"),
        "page.step_": ("opened", "evidence", "overdue", "decided", "restated", "closed"),
        "page.rate_by_": ("region_type", "occupation"),
        "page.q_": ("accuracy", "completeness", "timeliness"),
        "page.field_": ("name", "sex", "birth_date", "hukou_region", "residence_region"),
        "evaluation.status_": tuple(STATUSES),
    }
    assert heads <= set(built), heads - set(built)
    assert not {h + end for h in heads for end in built[h] if not known(h + end)}
