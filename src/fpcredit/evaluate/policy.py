"""Loading a policy file (R10): validation with line numbers, its hash, the packaged default.

The model is policy_model.py, the checks beyond single fields policy_checks.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from fpcredit import messages
from fpcredit.errors import PolicyError
from fpcredit.evaluate.policy_checks import Loc, check
from fpcredit.evaluate.policy_model import Policy

__all__ = ["LoadedPolicy", "default_policy_path", "load_policy", "parse_policy"]


class LoadedPolicy:
    """A validated policy with its provenance: path, content hash, and the AHP derivation."""

    def __init__(self, policy: Policy, path: str, sha256: str) -> None:
        self.policy = policy
        self.path = path
        self.sha256 = sha256

    @property
    def label(self) -> str:
        return f"{self.policy.id}@{self.policy.version}"


def default_policy_path() -> Path:
    """`policies/default.yaml`, shipped inside the package."""
    return Path(str(resources.files("fpcredit.evaluate") / "policies" / "default.yaml"))


def load_policy(path: str | Path | None = None) -> LoadedPolicy:
    """Read and validate a policy file; PolicyError lists every problem with its line."""
    file = Path(path) if path else default_policy_path()
    try:
        data = file.read_bytes()
    except OSError as e:
        why = messages.text("policy.unreadable", why=e.strerror)
        raise PolicyError(str(file), [(None, why)]) from None
    return parse_policy(data, str(file))


def parse_policy(data: bytes, origin: str = "policy.yaml") -> LoadedPolicy:
    """Validate policy text (bytes, so that the hash is of exactly what was read)."""
    try:
        text = data.decode("utf-8")
        tree = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except UnicodeDecodeError:
        raise PolicyError(origin, [(None, messages.text("policy.not_utf8"))]) from None
    except yaml.MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark else None
        raise PolicyError(origin, [(line, messages.text("policy.yaml", why=e.problem))]) from None
    lines = dict(_lines(tree, ())) if tree is not None else {}
    if not isinstance(raw, dict):
        raise PolicyError(origin, [(1, messages.text("policy.not_mapping"))])
    try:
        policy = Policy.model_validate(raw)
    except ValidationError as e:
        problems = [(_line(lines, err["loc"]), _explain(err)) for err in e.errors()]
        raise PolicyError(origin, problems) from None
    problems = [(_line(lines, loc), why) for loc, why in check(policy)]
    if problems:
        raise PolicyError(origin, problems)
    return LoadedPolicy(policy, origin, hashlib.sha256(data).hexdigest())


def _lines(node: yaml.Node, path: Loc) -> Iterator[tuple[Loc, int]]:
    yield path, node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield (*path, key.value), key.start_mark.line + 1
            yield from _lines(value, (*path, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _lines(item, (*path, i))


def _line(lines: dict[Loc, int], loc: Loc) -> int | None:
    """The line of the deepest part of `loc` present in the file (Pydantic adds union tags)."""
    path: Loc = ()
    best = lines.get(())
    for part in loc:
        if (*path, part) in lines:
            path = (*path, part)
            best = lines[path]
    return best


def _explain(err: Any) -> str:
    where = ".".join(str(p) for p in err["loc"])
    known = f"policy.pydantic_{err['type']}"
    if messages.known(known):
        return messages.text(known, where=where, **{k: v for k, v in err.get("ctx", {}).items()})
    return messages.text("policy.field", where=where, why=err["msg"])
