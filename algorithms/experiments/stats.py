"""Paired tests over seeds: the p-values, intervals, multiplicity correction and power
behind the verdicts of ``apga experiment``.

Every method of a panel runs on the same seeds with common random numbers (same theta_0,
same evaluation episodes), so two methods are compared seed by seed through the per-seed
difference d_s = x_s - y_s (s = 1..n):

* **p-value**: the exact sign-flip permutation test of the mean difference
  (:func:`scipy.stats.permutation_test` with one sample and ``permutation_type="samples"``,
  i.e. all 2^n sign patterns of (d_s - shift)); exact up to :data:`EXACT_MAX_SEEDS` seeds,
  then :data:`RESAMPLES` random sign patterns from a seeded Generator. Under the null
  hypothesis that d_s - shift is symmetric about 0 (true whenever the two methods are
  exchangeable on each seed) its level is exact; no normality is assumed.
* **interval**: the t interval of the mean difference at ``level``
  (:func:`scipy.stats.ttest_1samp`). The BCa and percentile bootstraps undercover at 5-10
  seeds (a percentile interval excluded 0 in 16-19% of null cases at 5 seeds); the t
  interval holds its level under normal and heavy-tailed (t, 3 d.o.f.) nulls, measured in
  ``tests/algorithms/test_experiment_stats.py``.
* **Holm** (:func:`holm`): the step-down adjustment of a family of p-values (Holm 1979),
  which controls the family-wise error rate at alpha under any dependence.
* **power** (:func:`seeds_for_power`): the seeds a paired t test would need to detect an
  observed standardised effect with 80% power at a given level (noncentral t).

The smallest p-value the exact sign-flip test can give with n seeds is 2^-n one-sided and
2^(1-n) two-sided (every seed on the same side), so a family of m two-sided tests can only
reach significance at alpha after Holm if m 2^(1-n) <= alpha (:func:`smallest_p`).

Paper: none (our method of checking Section 6 and Appendix H). Sign-flip test: Fisher
(1935), Good (2005) ch. 3; Holm (1979); t interval and noncentral-t power: standard.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

LEVEL = 0.95
#: sign patterns enumerated exactly up to this many seeds (2^16 = 65536 patterns)
EXACT_MAX_SEEDS = 16
#: random sign patterns beyond that (p-value (count + 1)/(RESAMPLES + 1))
RESAMPLES = 9999
PERMUTATION_SEED = 20250101
POWER = 0.8
_ALTERNATIVES = ("greater", "less", "two-sided")


def _diff(x: Any, y: Any) -> np.ndarray:
    xa = np.asarray(x, dtype=float).ravel()
    ya = np.asarray(y, dtype=float).ravel()
    if xa.size != ya.size:
        raise ValueError(f"x, y: paired samples need the same length, got {xa.size} and "
                         f"{ya.size}")
    if xa.size < 2:
        raise ValueError(f"x, y: a paired test needs at least 2 seeds, got {xa.size}")
    if not (np.all(np.isfinite(xa)) and np.all(np.isfinite(ya))):
        raise ValueError("x, y: every value must be finite")
    return xa - ya


def _mean(z: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(z, axis=axis)


def sign_flip_p(d: Any, alternative: str = "greater") -> float:
    """p-value of the sign-flip permutation test of mean(d) (H0: d symmetric about 0).

    Notes
    -----
    .. math:: p = \\frac{1}{2^n} \\#\\{\\epsilon \\in \\{\\pm 1\\}^n :
              \\bar{(\\epsilon d)} \\ge \\bar d\\}  \\quad (\\text{greater})

    and ``two-sided``: twice the smaller one-sided p-value, capped at 1 (scipy's rule).
    Exact for n <= :data:`EXACT_MAX_SEEDS`, else from :data:`RESAMPLES` random patterns.

    Paper: none (Fisher 1935; :func:`scipy.stats.permutation_test`).
    """
    from scipy import stats as sps

    if alternative not in _ALTERNATIVES:
        raise ValueError(f"alternative: expected one of {_ALTERNATIVES}, got {alternative!r}")
    d = np.asarray(d, dtype=float)
    exact = d.size <= EXACT_MAX_SEEDS
    res = sps.permutation_test(
        (d,), _mean, permutation_type="samples", alternative=alternative, vectorized=True,
        n_resamples=np.inf if exact else RESAMPLES,
        rng=None if exact else np.random.default_rng(PERMUTATION_SEED),
    )
    return float(min(1.0, res.pvalue))


def t_interval(d: Any, level: float = LEVEL) -> tuple[float, float]:
    """Two-sided t interval of mean(d) at ``level`` (a zero-width interval when every d is
    the same).

    Notes
    -----
    .. math:: \\bar d \\pm t_{(1+\\ell)/2,\\,n-1}\\, s / \\sqrt n

    Paper: none (Student's t interval).
    """
    from scipy import stats as sps

    d = np.asarray(d, dtype=float)
    m = float(np.mean(d))
    if np.ptp(d) <= 1e-12 * max(1.0, abs(m)):  # constant up to rounding: no spread
        return m, m
    ci = sps.ttest_1samp(d, 0.0).confidence_interval(confidence_level=level)
    return float(ci.low), float(ci.high)


def paired(
    x: Any,
    y: Any,
    level: float = LEVEL,
    alternative: str = "greater",
    shift: float = 0.0,
) -> dict[str, Any]:
    """Paired comparison of x and y over seeds (same seed at the same index).

    Returns a dict with

    - ``estimate``: mean over seeds of d_s = x_s - y_s;
    - ``low``, ``high``: the two-sided t interval of that mean at ``level`` (whatever
      ``alternative`` is: it describes the size of the difference);
    - ``p_value``: the exact sign-flip permutation test of H0 "d_s - shift is symmetric
      about 0" against ``alternative`` (``greater``: mean(d) > shift; ``less``;
      ``two-sided``), so ``shift`` tests a stated effect size (``greater`` with shift 5:
      x beats y by more than 5);
    - ``n``, ``sd`` (standard deviation of d), ``effect`` ((estimate - shift) / sd, the
      standardised effect; None when sd = 0), ``alternative``, ``shift``, ``level``,
      ``method`` (in words).

    ValueError on different lengths, fewer than 2 seeds, non-finite values, a level
    outside (0, 1) or an unknown alternative.

    Notes
    -----
    .. math:: \\hat\\mu = \\bar d,\\quad
              [\\hat\\mu \\pm t_{(1+\\ell)/2,n-1} s_d/\\sqrt n],\\quad
              p = P_{\\epsilon}\\big(\\overline{\\epsilon (d - \\delta)} \\ge
              \\overline{d - \\delta}\\big)

    Paper: none (our verdicts on Section 6 and Appendix H; sign-flip test: Fisher 1935).
    """
    if not (isinstance(level, (int, float)) and 0 < float(level) < 1):
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    if alternative not in _ALTERNATIVES:
        raise ValueError(f"alternative: expected one of {_ALTERNATIVES}, got {alternative!r}")
    shift = float(shift)
    if not math.isfinite(shift):
        raise ValueError(f"shift must be finite, got {shift!r}")
    d = _diff(x, y)
    est = float(np.mean(d))
    low, high = t_interval(d, float(level))
    sd = float(np.std(d, ddof=1)) if low != high else 0.0
    n = int(d.size)
    exact = n <= EXACT_MAX_SEEDS
    return {
        "estimate": est,
        "low": low,
        "high": high,
        "p_value": sign_flip_p(d - shift, alternative),
        "n": n,
        "sd": sd,
        "effect": (est - shift) / sd if sd > 0 else None,
        "alternative": alternative,
        "shift": shift,
        "level": float(level),
        "method": ("sign-flip permutation test of the mean paired difference ("
                   + (f"exact, all 2^{n} sign patterns" if exact else
                      f"{RESAMPLES} random sign patterns") + f"); {level:.0%} t interval"),
    }


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (same order as given).

    Notes
    -----
    With the p-values sorted, p_(1) <= ... <= p_(m):

    .. math:: \\tilde p_{(i)} = \\min\\Big(1, \\max_{j \\le i} (m - j + 1)\\, p_{(j)}\\Big)

    Rejecting every hypothesis with adjusted p <= alpha controls the family-wise error
    rate at alpha (Holm 1979).

    Paper: none (Holm, Scand. J. Statist. 6, 1979).
    """
    p = np.asarray(list(p_values), dtype=float)
    m = p.size
    if m == 0:
        return []
    if np.any(~np.isfinite(p)) or np.any(p < 0) or np.any(p > 1):
        raise ValueError("p_values must lie in [0, 1]")
    order = np.argsort(p, kind="stable")
    adj = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adj[i] = running
    return adj.tolist()


def smallest_p(n: int, two_sided: bool = True) -> float:
    """Smallest p-value the exact sign-flip test can give with ``n`` seeds: 2^(1-n)
    two-sided, 2^-n one-sided (every seed on one side; beyond :data:`EXACT_MAX_SEEDS`
    the randomized test's 1/(RESAMPLES + 1), doubled two-sided)."""
    if n > EXACT_MAX_SEEDS:
        base = 1.0 / (RESAMPLES + 1)
    else:
        base = 2.0 ** -n
    return min(1.0, 2 * base) if two_sided else base


def seeds_for_power(effect: float | None, alpha: float, power: float = POWER,
                    maximum: int = 100_000) -> int | None:
    """Seeds a two-sided paired test at level ``alpha`` needs to detect a standardised
    effect ``effect`` (mean / sd of the per-seed difference) with probability ``power``:
    the smallest n >= 2 with noncentral-t power >= ``power`` and a sign-flip test able to
    reach ``alpha`` (2^(1-n) <= alpha). None when the effect is 0 or unknown, or more
    than ``maximum`` seeds would be needed.

    Notes
    -----
    .. math:: \\text{power}(n) = P(|T_{n-1,\\lambda}| > t_{1-\\alpha/2,\\,n-1}),\\quad
              \\lambda = |\\text{effect}| \\sqrt n

    Paper: none (the power of the paired t test; Cohen 1988, ch. 2).
    """
    from scipy import stats as sps

    if effect is None or not math.isfinite(effect) or effect == 0:
        return None
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    e = abs(float(effect))
    floor = max(2, 1 + math.ceil(math.log2(1.0 / alpha)))  # 2^(1-n) <= alpha

    def ok(n: int) -> bool:
        df = n - 1
        crit = sps.t.ppf(1 - alpha / 2, df)
        lam = e * math.sqrt(n)
        lower = sps.nct.cdf(-crit, df, lam)  # the wrong tail: tiny (NaN when it underflows)
        pw = sps.nct.sf(crit, df, lam) + (lower if math.isfinite(lower) else 0.0)
        return bool(pw >= power)

    hi = floor
    while not ok(hi):
        hi *= 2
        if hi > maximum:
            return None
    lo = max(floor, hi // 2)
    if ok(lo):
        return lo
    while hi - lo > 1:  # ok(hi), not ok(lo)
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi
