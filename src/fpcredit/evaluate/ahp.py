"""AHP weights for a policy: priorities and consistency of pairwise-comparison matrices (SPEC R12).

A judgement matrix `A` holds `a_ij` = how many times more important criterion i is than j, on
Saaty's 1–9 scale, with `a_ji = 1/a_ij` and ones on the diagonal. The weights are its principal
(Perron) eigenvector normalised to sum 1; `λmax` is the matching eigenvalue,
`CI = (λmax − n)/(n − 1)` and `CR = CI/RI(n)` with Saaty's random index. A policy may use a
matrix only when `CR < 0.10`. Experts' and the public survey's weights are blended 0.6/0.4.

Every rejection raises `InconsistentMatrix` with a reason from the message catalogue.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence, Sized
from dataclasses import dataclass
from fractions import Fraction
from typing import Final, TypeAlias

import numpy as np
import numpy.typing as npt

from fpcredit.errors import InconsistentMatrix
from fpcredit.messages import text

__all__ = [
    "CR_LIMIT",
    "RANDOM_INDEX",
    "RECIPROCAL_TOLERANCE",
    "Consistency",
    "Number",
    "blend",
    "consistency",
    "from_upper",
    "priorities",
]

Number: TypeAlias = int | float | Fraction
_Array: TypeAlias = npt.NDArray[np.float64]

# Saaty's random index RI(n) for n = 1..15: the mean CI of random reciprocal matrices.
RANDOM_INDEX: Final = (
    0.0, 0.0, 0.58, 0.90, 1.12, 1.24, 1.32, 1.41, 1.45, 1.49, 1.51, 1.48, 1.56, 1.57, 1.59,
)  # fmt: skip
CR_LIMIT: Final = 0.10
# |a_ij·a_ji − 1| allowed. Published matrices write reciprocals to two significant figures
# (0.33, 0.14, 0.17, 0.13 for 1/8), at most 4.8% off, while mixing up two neighbouring values
# of the 1–9 scale (9 against 1/8) is at least 11% off: 5% accepts the first, catches the second.
RECIPROCAL_TOLERANCE: Final = 0.05


@dataclass(frozen=True)
class Consistency:
    """What `policy check` prints for a matrix: λmax, CI, RI(n), CR, n and the weights."""

    lambda_max: float
    ci: float
    ri: float
    cr: float
    n: int
    weights: tuple[float, ...]

    @property
    def acceptable(self) -> bool:
        """Whether a policy may use the matrix (CR < 0.10)."""
        return self.cr < CR_LIMIT


def priorities(matrix: Sequence[Sequence[Number]]) -> tuple[tuple[float, ...], float]:
    """The weights (summing to 1) and consistency ratio of a judgement matrix with CR < 0.10."""
    result = consistency(matrix)
    if not result.acceptable:
        raise InconsistentMatrix(text("ahp.inconsistent", cr=result.cr), result.cr)
    return result.weights, result.cr


def consistency(matrix: Sequence[Sequence[Number]]) -> Consistency:
    """λmax, CI, RI, CR and weights of a positive reciprocal matrix, whatever its CR."""
    a = _checked(matrix)
    n = len(a)
    lambda_max, weights = _principal(a)
    # A positive reciprocal matrix has λmax ≥ n (exactly n when consistent, and always for
    # n ≤ 2); clamping only removes rounding noise such as CI = −1e-16.
    ci = max(0.0, (lambda_max - n) / (n - 1)) if n > 2 else 0.0
    ri = RANDOM_INDEX[n - 1]
    cr = ci / ri if ri else 0.0
    return Consistency(lambda_max, ci, ri, cr, n, tuple(float(w) for w in weights))


def blend(
    expert: Sequence[Number], public: Sequence[Number], expert_share: Number = Fraction(3, 5)
) -> tuple[float, ...]:
    """Experts' and the public survey's weights combined `expert_share` : rest, summing to 1."""
    if len(expert) != len(public):
        raise InconsistentMatrix(text("ahp.blend_length", expert=len(expert), public=len(public)))
    share = float(expert_share)
    if not 0.0 <= share <= 1.0:
        raise InconsistentMatrix(text("ahp.blend_share", share=expert_share))
    # Each side is normalised first so that 0.6/0.4 means 60%/40% of the weight even when a
    # survey reports raw scores rather than shares.
    combined = share * _normalised(expert) + (1.0 - share) * _normalised(public)
    return tuple(float(w) for w in combined / combined.sum())


def from_upper(upper: Sequence[Sequence[Number | str]]) -> list[list[float]]:
    """The full reciprocal matrix from its strict upper triangle, row i holding a_i,i+1 … a_i,n.

    Entries may be numbers or fraction strings such as "1/3"; an empty triangle is n = 1.
    """
    n = len(upper) + 1
    full = [[1.0] * n for _ in range(n)]
    for i, row in enumerate(upper):
        if _length(row) != n - 1 - i:
            raise InconsistentMatrix(
                text("ahp.upper_shape", row=i + 1, expected=n - 1 - i, count=_length(row))
            )
        for j, entry in enumerate(row, start=i + 1):
            full[i][j] = _judgement(entry, i + 1, j + 1)
            full[j][i] = 1.0 / full[i][j]
    return full


def _checked(matrix: Sequence[Sequence[Number]]) -> _Array:
    """The matrix as floats once square, positive, unit-diagonal and reciprocal."""
    n = len(matrix)
    if n == 0:
        raise InconsistentMatrix(text("ahp.empty"))
    if n > len(RANDOM_INDEX):
        raise InconsistentMatrix(text("ahp.too_large", n=n, limit=len(RANDOM_INDEX)))
    for i, row in enumerate(matrix, start=1):
        if _length(row) != n:
            raise InconsistentMatrix(text("ahp.not_square", row=i, n=n))
    a = np.array(
        [[_entry(x, i, j) for j, x in enumerate(row, 1)] for i, row in enumerate(matrix, 1)],
        dtype=np.float64,
    )
    _check_diagonal(a)
    return _reciprocal(a)


def _entry(value: object, row: int, col: int) -> float:
    """One matrix entry as a positive finite float."""
    # bool is an int, but `true` in a YAML matrix is a mistake, not a judgement of 1.
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # a huge int or Fraction
            number = math.inf
        if math.isfinite(number) and number > 0:
            return number
    raise InconsistentMatrix(text("ahp.entry", row=row, col=col, value=value))


def _check_diagonal(a: _Array) -> None:
    for i, value in enumerate(np.diag(a), start=1):
        if not math.isclose(value, 1.0, rel_tol=1e-9):
            raise InconsistentMatrix(text("ahp.diagonal", row=i, value=_shown(value)))


def _reciprocal(a: _Array) -> _Array:
    """`a` made exactly reciprocal, once every a_ij·a_ji is within the tolerance of 1."""
    bad = np.argwhere(np.abs(a * a.T - 1.0) > RECIPROCAL_TOLERANCE)
    if len(bad):
        i, j = (int(k) for k in bad[0])  # row-major order: the first hit has i < j
        raise InconsistentMatrix(
            text("ahp.not_reciprocal", row=i + 1, col=j + 1, a=_shown(a[i, j]), b=_shown(a[j, i]))
        )
    # The geometric mean sqrt(a_ij / a_ji) treats both written entries alike and restores the
    # exact reciprocity the theory (λmax ≥ n, CI ≥ 0) relies on; it leaves exact input unchanged.
    return np.sqrt(a / a.T)


def _principal(a: _Array) -> tuple[float, _Array]:
    """The Perron eigenvalue of a positive matrix and its eigenvector normalised to sum 1."""
    values, vectors = np.linalg.eig(a)
    # Perron–Frobenius: for a positive matrix the largest real part belongs to a simple, real
    # eigenvalue whose eigenvector is one-signed; eig may return it negated, hence abs.
    k = int(np.argmax(values.real))
    vector = np.abs(vectors[:, k].real)
    return float(values[k].real), vector / vector.sum()


def _judgement(entry: Number | str, row: int, col: int) -> float:
    """An upper-triangle entry such as 3, 0.5 or "1/3" as a positive float."""
    value: object = entry
    if isinstance(entry, str):
        try:
            value = Fraction(entry.strip())
        except (ValueError, ZeroDivisionError):
            value = None
    try:
        return _entry(value, row, col)
    except InconsistentMatrix:
        raise InconsistentMatrix(text("ahp.upper_entry", row=row, col=col, value=entry)) from None


def _normalised(weights: Sequence[Number]) -> _Array:
    """A weight vector scaled to sum 1; its entries must be finite, ≥ 0 and not all 0."""
    real = all(isinstance(w, numbers.Real) and not isinstance(w, bool) for w in weights)
    vector = np.array([float(w) for w in weights] if real else [math.nan], dtype=np.float64)
    total = float(vector.sum())
    if not (np.isfinite(vector).all() and (vector >= 0).all() and total > 0):
        raise InconsistentMatrix(text("ahp.blend_weights"))
    return vector / total


def _length(row: object) -> int:
    """The number of entries in a matrix row; 0 for a lone number or string, which is no row."""
    if isinstance(row, str) or not isinstance(row, Sized):
        return 0
    return len(row)


def _shown(value: float) -> str:
    """A matrix entry as a person would write it: 3, 0.333."""
    return f"{value:.4g}"
