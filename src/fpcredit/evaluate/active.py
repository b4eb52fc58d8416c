"""The active policy: the newest activation in `policies`, else the packaged default.

Activating appends a row (text, id, version, SHA-256, who, when, why) and a change entry of the
trail over it, in one transaction; nothing updates or deletes a row. Evaluation, explanation and
the service use `active_policy` whenever no policy file is named.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa

from fpcredit.errors import PolicyError
from fpcredit.evaluate.policy import LoadedPolicy, default_policy_path, load_policy, parse_policy
from fpcredit.guard.trail.log import record_rows
from fpcredit.messages import text
from fpcredit.store import schema as s
from fpcredit.store.db import Store, utc_now

__all__ = ["Activation", "activate", "activations", "active_policy", "policy_of"]

_P = s.policies
ACTION: Final = "policy_activate"
# Activations already loaded and checked, by (store, number, SHA-256): rows never change, and
# the service explains with the active policy on every request.
_LOADED: dict[tuple[str, int, str], LoadedPolicy] = {}
_DEFAULT: dict[tuple[str, int, int], LoadedPolicy] = {}


@dataclass(frozen=True)
class Activation:
    """One activation of a policy (a row of `policies`), without the text."""

    number: int  # the row's id: activations are numbered in order
    policy_id: str
    version: str
    sha256: str
    activated_by: str
    activated_at: dt.datetime
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "policy_id": self.policy_id,
            "version": self.version,
            "sha256": self.sha256,
            "activated_by": self.activated_by,
            "activated_at": self.activated_at.isoformat(sep=" ", timespec="seconds"),
            "reason": self.reason,
        }


def _activation(row: sa.Row[Any]) -> Activation:
    return Activation(
        int(row.id),
        row.policy_id,
        row.version,
        row.sha256,
        row.activated_by,
        row.activated_at,
        row.reason,
    )


def _origin(number: int) -> str:
    return f"policies#{number}"


def policy_of(store: Store, number: int) -> LoadedPolicy:
    """The policy of activation `number`, validated again and its hash checked against the
    row's: a row edited behind the store's back is refused, not evaluated."""
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(_P).where(_P.c.id == number)).first()
    if row is None:
        raise PolicyError(_origin(number), [(None, text("policy.no_activation", number=number))])
    loaded = parse_policy(row.text.encode("utf-8"), _origin(number))
    if loaded.sha256 != row.sha256:
        raise PolicyError(_origin(number), [(None, text("policy.hash_mismatch"))])
    return loaded


def _packaged() -> LoadedPolicy:
    """The packaged default, parsed once per version of its file (parsing the YAML took over
    a second: every page and explanation asks for the policy in force)."""
    path = default_policy_path()
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _DEFAULT:
        _DEFAULT.clear()
        _DEFAULT[key] = load_policy(path)
    return _DEFAULT[key]


def active_policy(store: Store) -> LoadedPolicy:
    """The policy in force: the newest activation, or the packaged default if none."""
    newest = sa.select(_P.c.id, _P.c.sha256).order_by(_P.c.id.desc()).limit(1)
    with store.engine.connect() as conn:
        row = conn.execute(newest).first()
    if row is None:
        return _packaged()
    key = (str(store.engine.url), int(row.id), row.sha256)
    if key not in _LOADED:
        _LOADED[key] = policy_of(store, int(row.id))
    return _LOADED[key]


def activations(store: Store) -> list[Activation]:
    """Every activation, oldest first (the last one is in force)."""
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(_P).order_by(_P.c.id)).all()
    return [_activation(r) for r in rows]


def activate(
    store: Store,
    data: bytes,
    *,
    actor: str,
    reason: str,
    keys_dir: Path,
    origin: str = "policy.yaml",
    now: dt.datetime | None = None,
) -> Activation:
    """Validate policy text (PolicyError lists the problems, as `policy check` does) and make it
    the active policy; the row and its change entry of the trail commit together."""
    loaded = parse_policy(data, origin)
    why = reason.strip()
    if not why:
        raise PolicyError(origin, [(None, text("policy.reason_required"))])
    values = {
        "policy_id": loaded.policy.id,
        "version": loaded.policy.version,
        "sha256": loaded.sha256,
        "text": data.decode("utf-8"),
        "activated_by": actor,
        "activated_at": now or utc_now(),
        "reason": why,
    }
    with store.engine.begin() as conn:
        number = int(conn.execute(_P.insert().returning(_P.c.id).values(**values)).scalar_one())
        record_rows(conn, "policies", number, number, actor, ACTION, keys_dir=keys_dir)
        row = conn.execute(sa.select(_P).where(_P.c.id == number)).one()
    return _activation(row)
