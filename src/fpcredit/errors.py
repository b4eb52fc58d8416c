"""The exception tree of fpcredit.

    FpcreditError                      every error the library raises on purpose
    ├── ConfigError                    a setting, key file or home directory is unusable
    ├── StandardError                  the data element standard or a mapping file is invalid
    ├── InvalidIdNumber (+ValueError)  an ID number fails a GB 11643 check; `.reason` says which
    ├── FeedError                      a whole input file cannot be read (encoding, truncation,
    │                                  missing column, empty); the store is left unchanged
    ├── StoreError                     the database is missing, not migrated or unreachable
    ├── ComputeError                   a batch engine (DuckDB, Spark) failed a step; `.step`,
    │                                  `.engine` and `.sql` say where (compute/base.py)
    ├── CryptoError                    a value cannot be decrypted with any key in the keyring
    ├── TrailError                     the audit trail refuses an operation, or a proof, note or
    │                                  key of it is malformed or does not verify
    ├── AuthError                      a login, token or account operation is refused; `.code`
    │                                  says why (locked, bad_credentials, expired, …)
    ├── ReviewError                    (link/review.py) a review or merge that cannot be carried
    │                                  out: unknown id, already decided
    ├── EvaluationError                (evaluate/run.py) no evaluation matches, or its result
    │                                  file is missing
    ├── FutureDateError                (evaluate/cuts.py) an evaluation or explanation asked as
    │                                  of a day that has not come yet
    ├── ExplainError                   (evaluate/explain.py) the person does not exist or is not
    │   │                              evaluated at that date
    │   └── MonthNotOverError          a masked explanation as of a month not over yet
    ├── ExplainerDownError             (web/explainer.py) the service's explanation workers died
    │                                  or cannot read the store; the request may be asked again
    ├── VerificationError              (incentives/verification.py) a department's
    │                                  verification refused; `.status`, `.field` say how
    ├── PointsError                    (incentives/points.py) a redemption or cancellation
    │                                  refused; `.code` says why (insufficient, closed, …)
    ├── SubsidyError                   (incentives/subsidy.py) a subsidy roll that cannot be
    │                                  drawn: unknown or expired incentive, bad amount or budget
    ├── CaseError                      (cases/service.py) an objection, repair, correction or
    │                                  review refused; `.status` is the HTTP answer
    ├── CalendarError                  (cases/calendar.py) the holiday data is malformed or a
    │                                  date lies beyond the years it covers
    ├── FeedbackError                  (subjects/feedback.py) feedback that cannot be taken;
    │                                  `.field` names the part at fault
    ├── WebhookError                   (notify/webhooks.py) a webhook that cannot be registered
    ├── ExchangeError                  (exchange/identity.py) an exchange operation refused: no
    │                                  identity, a bad card, an unknown province
    └── PolicyError                    a policy file is invalid; `.problems` lists (line, reason)
        └── InconsistentMatrix         an AHP matrix is not positive reciprocal or has CR ≥ 0.10

Messages are written for the person at the terminal; they never contain an identifier.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

__all__ = [
    "AuthError",
    "ComputeError",
    "ConfigError",
    "CryptoError",
    "FeedError",
    "FpcreditError",
    "InconsistentMatrix",
    "InvalidIdNumber",
    "PolicyError",
    "StandardError",
    "StoreError",
    "TrailError",
]


class FpcreditError(Exception):
    """Base class: a failure with a one-line reason fit for a user."""


class ConfigError(FpcreditError):
    """Settings, key files or FPCREDIT_HOME are unusable."""


class StandardError(FpcreditError):
    """The data element standard or a department mapping file is invalid."""


class FeedError(FpcreditError):
    """An input file as a whole cannot be read; nothing from it was stored."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class StoreError(FpcreditError):
    """The store is missing, not migrated or unreachable."""


class ComputeError(FpcreditError):
    """A batch engine failed a step. The message names the step and the engine only: the
    engine's own text may quote data values, so it stays on the chained cause, and the SQL
    (`sql`, cut to `SQL_SHOWN` characters) is for whoever debugs, not for the clerk."""

    SQL_SHOWN: Final = 2000

    def __init__(self, message: str, *, engine: str, step: str, sql: str = "") -> None:
        super().__init__(message)
        self.engine = engine
        self.step = step
        cut = len(sql) - self.SQL_SHOWN
        self.sql = sql if cut <= 0 else f"{sql[: self.SQL_SHOWN]} … ({cut} more characters)"
        if self.sql:
            # Shown under the traceback (FPCREDIT_DEBUG), never in the one-line message.
            self.add_note(f"SQL: {self.sql}")


class CryptoError(FpcreditError):
    """A stored value cannot be decrypted with any key in the keyring."""


class AuthError(FpcreditError):
    """Authentication or an account operation was refused.

    `code` is stable (APIs and the CLI branch on it); `until` is when a lock ends; `reason`
    refines `weak_password` (too_short, too_long, characters, classes, username, reused).
    """

    def __init__(
        self, code: str, message: str, *, until: dt.datetime | None = None, reason: str = ""
    ) -> None:
        super().__init__(message)
        self.code = code
        self.until = until
        self.reason = reason


class TrailError(FpcreditError):
    """The audit trail refused an operation, or a proof, note or key of it is invalid."""


class PolicyError(FpcreditError):
    """A policy file cannot be used. Each problem is (line or None, plain explanation)."""

    def __init__(self, path: str, problems: list[tuple[int | None, str]]) -> None:
        lines = [f"{path}:{line}: {why}" if line else f"{path}: {why}" for line, why in problems]
        super().__init__("\n".join(lines))
        self.path = path
        self.problems = problems


class InconsistentMatrix(PolicyError):  # noqa: N818 - reads as the condition it reports
    """A pairwise-comparison matrix was rejected; `consistency_ratio` is None when not computed."""

    def __init__(self, reason: str, consistency_ratio: float | None = None) -> None:
        super().__init__("AHP", [(None, reason)])
        self.reason = reason
        self.consistency_ratio = consistency_ratio


ID_REASONS: Final = {
    "empty": ("身份证号为空", "the ID number is empty"),
    "length": ("身份证号长度不是15位或18位", "the ID number is not 15 or 18 characters long"),
    "characters": ("身份证号含有非法字符", "the ID number contains characters other than digits/X"),
    "region": (
        "身份证号前两位不是有效的省级行政区划代码",
        "the first two digits are not a province code",
    ),
    "birth_date": (
        "身份证号中的出生日期不存在或不合理",
        "the birth date in the ID number is impossible",
    ),
    "check_digit": ("身份证号校验码错误", "the check digit does not match (ISO 7064 MOD 11-2)"),
}


class InvalidIdNumber(FpcreditError, ValueError):  # noqa: N818 - name fixed by SPEC §6
    """An ID number failed a check. `reason` is one of ID_REASONS' keys."""

    def __init__(self, reason: str, text: str = "") -> None:
        zh, en = ID_REASONS[reason]
        # The offending text is deliberately not part of the message: messages reach logs.
        super().__init__(f"invalid ID number: {en} ({zh})")
        self.reason = reason
        self.length = len(text)
