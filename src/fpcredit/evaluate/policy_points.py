"""The catalogue of redeemable services in the policy file (`redeemables:`, R21 points)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from fpcredit import messages

__all__ = ["MAX_PRICE", "Redeemable", "Redeemables"]

MAX_PRICE = 1_000_000  # points: more than any balance the engine's rules can earn


class _Name(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Redeemable(BaseModel):
    """A service a person may obtain for points from the department that provides it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{1,39}$")
    name: _Name
    department: str = Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")  # a department client's source
    price: int = Field(gt=0, le=MAX_PRICE)  # points, whole
    valid_from: dt.date
    valid_until: dt.date | None = None  # inclusive; None: open-ended

    @model_validator(mode="after")
    def _window(self) -> Redeemable:
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise ValueError(
                messages.text(
                    "points.window_order",
                    id=self.id,
                    start=self.valid_from.isoformat(),
                    end=self.valid_until.isoformat(),
                )
            )
        return self

    def open_on(self, day: dt.date) -> bool:
        """Whether the service may be redeemed on `day` (inside its validity window)."""
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)


def _unique(items: list[Redeemable]) -> list[Redeemable]:
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise ValueError(messages.text("points.duplicate_redeemable", id=item.id))
        seen.add(item.id)
    return items


Redeemables = Annotated[list[Redeemable], AfterValidator(_unique)]
