"""The operator at the server's command line: the trail's actor, and the purpose a read names.

Whoever runs `fpcredit` on the server is named by the operating-system account the process runs
as (the real user id, not `$USER`, which the caller can set), as the trail code `os:<name>`.
Every command that prints or writes personal data names a purpose from the closed vocabulary,
among those `COMMAND_PURPOSES` allows it; each person it reads gets an entry of the trail, so a
citizen finds the read in their access log (`GET /v1/me/access-log`).
"""

from __future__ import annotations

import os
import pwd
import re
from collections.abc import Iterable, Iterator
from typing import Final

from fpcredit.errors import AuthError
from fpcredit.guard.access import Purpose
from fpcredit.guard.trail.log import Event, Trail
from fpcredit.messages import text

__all__ = [
    "COMMAND_PURPOSES",
    "OperatorRead",
    "command_purpose",
    "operator_actor",
    "os_user",
    "sanitise",
]

_P = Purpose
# The purposes each reading command may name: what the command is for at a health commission.
COMMAND_PURPOSES: Final[dict[str, frozenset[Purpose]]] = {
    "explain": frozenset(
        {_P.CREDIT_EVALUATION, _P.OBJECTION_HANDLING, _P.SERVICE_DELIVERY, _P.SUPERVISION}
    ),
    "review_list": frozenset({_P.RECORD_LINKAGE, _P.DATA_QUALITY}),
    "review_show": frozenset({_P.RECORD_LINKAGE, _P.DATA_QUALITY}),
    "match": frozenset({_P.RECORD_LINKAGE, _P.INCENTIVE_VERIFICATION, _P.SERVICE_DELIVERY}),
    "export_scores": frozenset(
        {_P.CREDIT_EVALUATION, _P.INCENTIVE_VERIFICATION, _P.SERVICE_DELIVERY, _P.SUPERVISION}
    ),
    "export_links": frozenset({_P.RECORD_LINKAGE, _P.DATA_QUALITY, _P.SUPERVISION}),
    # The development outbox holds citizens' login codes: read only to deliver them by hand.
    "outbox_list": frozenset({_P.SERVICE_DELIVERY}),
    "quality_list": frozenset({_P.DATA_QUALITY}),
    # `evaluate --changes-since-last`: who changed grade, and the late facts that did it.
    "evaluate_changes": frozenset({_P.CREDIT_EVALUATION, _P.OBJECTION_HANDLING, _P.SUPERVISION}),
    # `subsidy roll`: every person on a roll, to pay them (incentives/subsidy.py).
    "subsidy_roll": frozenset({_P.SERVICE_DELIVERY}),
}
_NOT_A_CODE: Final = re.compile(r"[^A-Za-z0-9_.@+-]")
# The trail refuses 11 digits in a row (a mobile number): a name never keeps more than 10.
_TEN_DIGITS: Final = re.compile(r"([0-9]{10})(?=[0-9])")


def os_user() -> str:
    """The login name of the process's real user id (its number when it has no name)."""
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a container's user without a passwd entry
        return f"uid{uid}"


def sanitise(name: str) -> str:
    """`name` as the tail of a trail code: other characters become `_`, no run of 11 digits,
    at most 60 characters; `-` when nothing is left."""
    cleaned = _TEN_DIGITS.sub(r"\1_", _NOT_A_CODE.sub("_", name))[:60]
    return cleaned or "-"


def operator_actor() -> str:
    """The trail's actor for this process: `os:<operating-system user>`."""
    return f"os:{sanitise(os_user())}"


def _allowed(action: str) -> str:
    return ", ".join(sorted(p.value for p in COMMAND_PURPOSES[action]))


def command_purpose(action: str, raw: str | None) -> Purpose:
    """The purpose named for a reading command; AuthError (`purpose_required`,
    `purpose_unknown`, `purpose_refused`) with a one-line reason otherwise."""
    allowed = _allowed(action)
    if raw is None or not raw.strip():
        raise AuthError("purpose_required", text("cli.purpose_required", allowed=allowed))
    try:
        purpose = Purpose(raw.strip())
    except ValueError:
        raise AuthError(
            "purpose_unknown", text("cli.purpose_unknown", purpose=raw, allowed=allowed)
        ) from None
    if purpose not in COMMAND_PURPOSES[action]:
        raise AuthError(
            "purpose_refused", text("cli.purpose_refused", purpose=purpose.value, allowed=allowed)
        )
    return purpose


class OperatorRead:
    """The trail's entries of one command's read: one for the command, one per person read
    (outcome `allowed`, or `unmasked` with `--reveal`), appended before anything is shown."""

    def __init__(self, trail: Trail, action: str, purpose: Purpose, reveal: bool) -> None:
        self.trail = trail
        self.action = action
        self.purpose = purpose
        self.unmasked = reveal  # identifiers and dates shown in clear
        self.outcome = "unmasked" if reveal else "allowed"
        self.actor = operator_actor()

    def _events(self, persons: Iterable[int]) -> Iterator[Event]:
        purpose = self.purpose.value
        yield Event(self.actor, self.action, self.outcome, None, purpose)
        for pid in persons:
            yield Event(self.actor, self.action, self.outcome, str(pid), purpose)

    def record(self, persons: Iterable[int]) -> int:
        """Append the command's entry and each person's, in one batch; returns how many."""
        return len(self.trail.append_many(self._events(dict.fromkeys(persons))))

    @staticmethod
    def refused(trail: Trail, action: str) -> None:
        """Put a read refused for its purpose on the trail too (no subject: nothing was read)."""
        trail.append(operator_actor(), action, outcome="refused_purpose")
