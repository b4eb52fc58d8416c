"""A whole province evaluated once at a cut date, kept for the explanations of its persons.

An explanation runs the policy on the engine for one family (the person and their children):
about twenty statements whose fixed cost, not the data, takes most of a second. The engine is
set-based, so the whole province at a cut costs little more than one family. A `Province`
holds the frame and the outcome of everyone at one cut, sorted by person; an explanation takes
a family's outcome from it only when the family's frame, loaded fresh from the store, is the
one the province was evaluated on, row for row — a person's outcome depends on nothing else
(their row, their facts, their children's rows and facts). Anything that changed since (a
dispute, a repair, a clerk's merge, a late correction) is seen in that comparison, and that
family is evaluated on its own as before. The answer is the same either way; only its cost
differs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from fpcredit.evaluate.engine import evaluate_frame
from fpcredit.evaluate.frame import Frame, Outcome
from fpcredit.evaluate.load import load_frame
from fpcredit.evaluate.policy import LoadedPolicy
from fpcredit.store.db import Store

__all__ = ["Province"]


class _Sorted:
    """A table sorted by one id column, and where each id's rows start and stop."""

    def __init__(self, table: pa.Table, key: str, then: Sequence[str] = ()) -> None:
        order = [(key, "ascending"), *((c, "ascending") for c in then)]
        self.table = table.sort_by(order) if table.num_rows else table  # a stable sort
        self._ids = self.table.column(key).to_numpy(zero_copy_only=False)

    def rows(self, ids: Sequence[int]) -> pa.Table:
        """The rows of these ids, in id order (then as sorted)."""
        pieces = []
        for i in sorted(set(ids)):
            start, stop = np.searchsorted(self._ids, [i, i + 1])
            if stop > start:
                pieces.append(self.table.slice(int(start), int(stop - start)))
        return pa.concat_tables(pieces) if pieces else self.table.slice(0, 0)


def _same(fresh: pa.Table, kept: pa.Table, order: Sequence[str]) -> bool:
    if fresh.num_rows != kept.num_rows:
        return False
    if not fresh.num_rows:
        return True
    ordered = fresh.sort_by([(c, "ascending") for c in order])
    return bool(ordered.cast(kept.schema).equals(kept))


@dataclass
class Province:
    """Everyone's frame and outcome at `cut` under the policy of `sha256`; `misses` counts the
    families found changed since (their owner evaluates the province again past a limit)."""

    cut: dt.date
    sha256: str
    persons: _Sorted
    facts: _Sorted
    children: _Sorted
    results: _Sorted
    dimensions: _Sorted
    indicators: _Sorted
    misses: int = 0

    @classmethod
    def evaluate(cls, store: Store, policy: LoadedPolicy, cut: dt.date) -> Province:
        """Load and evaluate the whole province at `cut` (seconds to a minute at 10⁵ persons)."""
        frame = load_frame(store, cut, policy.policy.attributes())
        outcome = evaluate_frame(policy.policy, frame, cut)
        return cls(
            cut,
            policy.sha256,
            _Sorted(frame.persons, "person_id"),
            _Sorted(frame.facts, "person_id", ("fact_id",)),
            _Sorted(frame.children, "parent_id", ("child_id",)),
            # By person only: within a person the engine's own order is kept.
            _Sorted(outcome.results, "person_id"),
            _Sorted(outcome.dimensions, "person_id"),
            _Sorted(outcome.indicators, "person_id"),
        )

    def outcome_of(self, frame: Frame, family: Sequence[int]) -> Outcome | None:
        """The family's outcome, if `frame` (the family's, loaded now at this cut) is the one
        the province was evaluated on; None if anything in it differs."""
        same = (
            _same(frame.persons, self.persons.rows(family), ("person_id",))
            and _same(frame.facts, self.facts.rows(family), ("person_id", "fact_id"))
            and _same(frame.children, self.children.rows(family), ("parent_id", "child_id"))
        )
        if not same:
            self.misses += 1
            return None
        return Outcome(
            self.results.rows(family),
            self.dimensions.rows(family),
            self.indicators.rows(family),
        )
