"""The harmonic-like minimum over the number of active agents.

Paper: Section 4 (discussion after Theorem 4.2), Lemma C.1, Theorems 4.2-4.4, G.1.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from theory import checks


class HarmonicMin(NamedTuple):
    """Result of :func:`harmonic_min`.

    value:  min over m in [n] of (1/m sum_{i<=m} 1/h_(i))^{-1} (A + B/m)
    m_star: the smallest minimiser m* (1-based number of fastest agents used)
    """

    value: float
    m_star: int


@checks.finite_outputs
def harmonic_curve(h: np.ndarray, A: float, B: float) -> np.ndarray:
    """All n values f(m) = (1/m sum_{i<=m} 1/h_(i))^{-1} (A + B/m), m = 1..n.

    Here h_(1) <= ... <= h_(n) is ``h`` sorted ascending (Assumption 2.5 orders agents
    by speed). Since (1/m S_m)^{-1}(A + B/m) = (A m + B) / S_m with S_m the prefix sum of
    1/h_(i), the whole curve costs one sort and one cumulative sum: O(n log n).
    Agents with h_i = inf contribute 1/h_i = 0 (they never return).

    Notes
    -----
    .. math:: f(m) = \\Big(\\frac{1}{m}\\sum_{i=1}^m \\frac{1}{h_{(i)}}\\Big)^{-1}
              \\Big(A + \\frac{B}{m}\\Big) = \\frac{A m + B}{\\sum_{i=1}^m 1/h_{(i)}}

    Paper: Theorem 4.2, equation (6) and the paragraph after it (A, B).
    """
    _, S = sorted_prefix(h)
    A = checks.nonnegative("A", A)
    B = checks.nonnegative("B", B)
    m = np.arange(1, S.size + 1, dtype=float)
    return (A * m + B) / S


def sorted_prefix(h: np.ndarray, *, allow_inf: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(h sorted ascending, S) with S_m = sum_{i<=m} 1/h_(i), m = 1..n (validated).

    One sort and one cumulative sum; share them between several minima over m (Table 1
    has three) with :func:`harmonic_min_sorted`.

    Paper: Theorem 4.2 (6), Lemma C.1 (the sums over the m fastest agents).
    """
    h = checks.times("h", h, allow_inf=allow_inf)
    hs = np.sort(h)
    if np.isinf(hs[0]):
        raise ValueError("h: every agent has infinite time; no agent ever returns a gradient")
    S = np.divide(1.0, hs)
    np.cumsum(S, out=S)  # in place: one array fewer to allocate for n = 10^6
    return hs, S


def harmonic_min_sorted(hs: np.ndarray, S: np.ndarray, A: float, B: float) -> HarmonicMin:
    """:func:`harmonic_min` from :func:`sorted_prefix` in O(log n) (no curve, no re-sort).

    f(m + 1) = (A m + B + A) / (S_m + 1/h_(m+1)) is the mediant of f(m) = (A m + B)/S_m
    and A h_(m+1) / 1, so it lies between them: f(m+1) >= f(m) iff A h_(m+1) >= f(m).
    Once that holds, f(m+1) <= A h_(m+1) <= A h_(m+2), so it holds for every larger m: f
    decreases, then never decreases again. The smallest minimiser is therefore the first
    m with A h_(m+1) S_m >= A m + B (or n if none), found by bisection.

    Notes
    -----
    .. math:: m^* = \\min\\{m \\in [n-1] : A\\,h_{(m+1)} S_m \\ge A m + B\\} \\cup \\{n\\},
              \\qquad \\min_m f(m) = \\frac{A m^* + B}{S_{m^*}}

    Paper: Theorem 4.2 (6); the same monotonicity underlies the proof of Lemma C.1.
    """
    A = checks.nonnegative("A", A)
    B = checks.nonnegative("B", B)
    n = S.size
    if A == 0.0:
        # f = B / S_m is non-increasing; agents with h = inf leave S unchanged (ties).
        k = int(np.argmax(S)) if B > 0 else 0
        return HarmonicMin(float(B / S[k]), k + 1)
    lo, hi = 1, n  # answer in [lo, hi]; predicate false below lo
    # A straggler with a huge finite h (1e300, say) overflows A h S to inf, and inf >= ...
    # is the right answer (such an agent is never worth waiting for): silence the warning.
    with np.errstate(over="ignore"):
        while lo < hi:
            mid = (lo + hi) // 2
            if A * hs[mid] * S[mid - 1] >= A * mid + B:
                hi = mid
            else:
                lo = mid + 1
    return HarmonicMin(float((A * lo + B) / S[lo - 1]), lo)


@checks.finite_outputs
def harmonic_min(h: np.ndarray, A: float, B: float) -> HarmonicMin:
    """min over m in [n] of (1/m sum_{i<=m} 1/h_(i))^{-1} (A + B/m) and its argmin m*.

    See :func:`harmonic_curve` for the formula (the slow reference that evaluates all n
    values); this uses one sort, one cumulative sum and a bisection
    (:func:`harmonic_min_sorted`). Ties resolve to the smallest m.

    Paper: Theorem 4.2 (6); Lemma C.1 uses A = 1, B = M.
    """
    hs, S = sorted_prefix(h)
    return harmonic_min_sorted(hs, S, A, B)
