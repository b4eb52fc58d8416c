"""Named random streams derived from the seed: each concern draws its own numbers.

A stream is keyed by the seed and stable names (e.g. ``("cdc", "rows")``), never by `until` or
by how many rows a filter kept, so adding a feature to one department's feed leaves the other
feeds unchanged and a later `until` only adds rows.
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt

__all__ = ["Floats", "Ints", "lognormal", "pick", "stream", "with_tail"]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


def _name_key(name: str) -> int:
    # blake2b, not hash(): Python salts str hashes per process.
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


def stream(seed: int, *names: str) -> np.random.Generator:
    """An independent generator for the concern `names` under `seed`."""
    entropy = [seed % 2**64, *(_name_key(name) for name in names)]
    return np.random.default_rng(np.random.SeedSequence(entropy))


def lognormal(
    rng: np.random.Generator, n: int, median: float, sigma: float, lo: float, hi: float
) -> Floats:
    """Log-normal draws with the given median, clipped to [lo, hi]."""
    return np.clip(rng.lognormal(np.log(median), sigma, n), lo, hi)


def with_tail(rng: np.random.Generator, values: Floats, p: float, lo: float, hi: float) -> Floats:
    """Add a uniform [lo, hi) delay to a share `p` of the values: the long tail of late records."""
    late = rng.random(len(values)) < p
    extra = rng.uniform(lo, hi, len(values))
    return values + np.where(late, extra, 0.0)


def pick(rng: np.random.Generator, n: int, weights: npt.ArrayLike) -> Ints:
    """Indices drawn with probability proportional to `weights`."""
    w = np.asarray(weights, dtype=np.float64)
    cdf = np.cumsum(w / w.sum())
    idx = np.searchsorted(cdf, rng.random(n), side="right")
    return np.minimum(idx, len(w) - 1).astype(np.int64)
