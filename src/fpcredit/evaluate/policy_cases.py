"""The policy file's `cases:` section: the working-day deadlines of each kind of case.

Deadlines are in working days on the cases calendar (fpcredit/cases/holidays.yaml). Defaults:
an objection is answered within 20 working days (SPEC R23), a repair application within 10
(SPEC R15); a correction request (PIPL art. 46) and a request for a human review of an
automated decision (PIPL art. 24) within 15 — PIPL names no number of days, and 15 working
days is the time 《政府信息公开条例》 art. 33 gives an administrative body to answer an
application, the nearest rule an administration already works to. docs/services.md.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CasesPolicy"]


class CasesPolicy(BaseModel):
    """Working days from opening to the due date, by kind of case."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    objection_days: int = Field(default=20, ge=1, le=120)
    repair_days: int = Field(default=10, ge=1, le=120)
    correction_days: int = Field(default=15, ge=1, le=120)
    review_days: int = Field(default=15, ge=1, le=120)

    def days(self, kind: str) -> int:
        """The deadline of a kind of case (objection, repair, correction, review)."""
        return int(getattr(self, f"{kind}_days"))
