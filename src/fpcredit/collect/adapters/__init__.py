"""Department adapters (R2): the classes of the departments with cross-field rules, found by
discovery; every other department is its mapping file alone."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from fpcredit.collect.adapters.base import Adapter
from fpcredit.collect.mapping import load_mapping

__all__ = ["ADAPTERS", "Adapter", "get_adapter"]


def _subclasses(cls: type[Adapter]) -> list[type[Adapter]]:
    direct = cls.__subclasses__()
    return [*direct, *(deeper for sub in direct for deeper in _subclasses(sub))]


def _discover() -> dict[str, type[Adapter]]:
    """Import every module of this package, then map each source a subclass claims to it."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    found: dict[str, type[Adapter]] = {}
    for cls in _subclasses(Adapter):
        source = vars(cls).get("source")
        if not isinstance(source, str):
            continue  # an intermediate class that claims no department
        if source in found:
            raise TypeError(f"{found[source].__name__} and {cls.__name__} both claim {source!r}")
        found[source] = cls
    return dict(sorted(found.items()))


# The adapter classes of this package, by the source each claims.
ADAPTERS: dict[str, type[Adapter]] = _discover()


def get_adapter(source: str, mappings_dir: Path | None = None) -> Adapter:
    """The adapter of a department source (packaged, or in the operator's `mappings_dir`): its
    class, or the base `Adapter` when its mapping file needs none, with its mapping;
    StandardError lists the known sources."""
    mapping = load_mapping(source, mappings_dir)
    return ADAPTERS.get(source, Adapter)(mapping)
