"""The exception tree in `errors.py`'s docstring is the tree of the classes, both ways."""

from __future__ import annotations

import importlib
import pkgutil
import re

import fpcredit
from fpcredit import errors
from fpcredit.errors import FpcreditError


def _every_error() -> dict[str, type]:
    # Every module but the entry point and the migrations (Alembic runs those on import).
    for module in pkgutil.walk_packages(fpcredit.__path__, "fpcredit."):
        if module.name.endswith("__main__") or ".migrations" in module.name:
            continue
        importlib.import_module(module.name)
    found: dict[str, type] = {}
    pending = [FpcreditError]
    while pending:
        cls = pending.pop()
        found[cls.__name__] = cls
        pending.extend(cls.__subclasses__())
    return found


def _documented() -> dict[str, int]:
    """Each class named in the docstring's tree (its first block), with its depth."""
    block = (errors.__doc__ or "").split("\n\n")[1]
    tree = {}
    for line in block.splitlines():
        m = re.match(r"([\s│├└─]*)([A-Z]\w+)", line)
        if m:
            tree[m.group(2)] = len(m.group(1))
    return tree


def test_every_error_class_is_in_the_documented_tree_and_every_documented_one_exists() -> None:
    classes, documented = _every_error(), _documented()
    assert set(classes) == set(documented), set(classes) ^ set(documented)


def test_the_documented_nesting_is_the_class_nesting() -> None:
    classes, documented = _every_error(), _documented()
    for name, cls in classes.items():
        if cls is FpcreditError:
            continue
        parent = next(b for b in cls.__mro__[1:] if issubclass(b, FpcreditError))
        assert documented[name] > documented[parent.__name__], (name, parent.__name__)
