"""The synthetic province (R9): a deterministic population of 浙江 and each department's feed.

generate(people, seed, out, until) writes out/<source>.<ext> for the seven department sources and
out/truth/{persons,records,mentions}.csv; see docs/synth.md.
"""

from __future__ import annotations

from fpcredit.synth.pipeline import DEFAULT_UNTIL, HORIZON, SynthSummary, generate

__all__ = ["DEFAULT_UNTIL", "HORIZON", "SynthSummary", "generate"]
