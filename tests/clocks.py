"""A clock a test moves by hand, for the library's injectable monotonic clocks."""

from __future__ import annotations


class Seconds:
    """Monotonic seconds that pass only when the test says so."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
