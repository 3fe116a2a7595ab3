"""The paired test behind the verdicts: sign-flip p-values and t intervals by hand, Holm by
hand, power, and the level of the test by simulation (normal and t3 nulls, 5 and 10 seeds).
No MuJoCo needed."""

import math

import numpy as np
import pytest

from algorithms.experiments import stats
from algorithms.experiments.stats import holm, paired, seeds_for_power, sign_flip_p


# ---------------------------------------------------------------- sign-flip p by hand
def test_sign_flip_p_by_hand():
    # d = (1, 2, 3): of the 8 sign patterns only (+, +, +) reaches the observed mean 2
    r = paired([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    assert r["p_value"] == pytest.approx(1 / 8) and r["estimate"] == 2.0 and r["n"] == 3
    assert sign_flip_p([1.0, 2.0, 3.0], "two-sided") == pytest.approx(2 / 8)
    assert sign_flip_p([1.0, 2.0, 3.0], "less") == pytest.approx(1.0)
    # d = (1, -2, 3, 4): sum(eps |d|) over the 16 patterns reaches the observed 6 for
    # 1+2+3+4 = 10, -1+2+3+4 = 8, 1-2+3+4 = 6: p = 3/16; the other side 14/16
    x, y = np.array([3.0, 0.0, 5.0, 6.0]), np.array([2.0, 2.0, 2.0, 2.0])
    assert paired(x, y)["p_value"] == pytest.approx(3 / 16)
    assert paired(x, y, alternative="less")["p_value"] == pytest.approx(14 / 16)
    assert paired(x, y, alternative="two-sided")["p_value"] == pytest.approx(6 / 16)
    # zero differences flip to themselves: d = (0, 0, 1) -> half the patterns reach 1/3
    assert sign_flip_p([0.0, 0.0, 1.0]) == pytest.approx(0.5)
    # a stated effect size: d - 1 = (1, 2, 3) again
    r = paired([2.0, 3.0, 4.0], [0.0, 0.0, 0.0], shift=1.0)
    assert r["p_value"] == pytest.approx(1 / 8) and r["estimate"] == 3.0 and r["shift"] == 1.0
    # 10 seeds all above: the smallest p-values, 2^-10 one-sided and 2^-9 two-sided
    d = np.arange(1.0, 11.0)
    assert sign_flip_p(d) == pytest.approx(2.0**-10) == stats.smallest_p(10, two_sided=False)
    assert sign_flip_p(d, "two-sided") == pytest.approx(2.0**-9) == stats.smallest_p(10)
    assert stats.smallest_p(5) == 2.0**-4


def test_t_interval_by_hand():
    # d = (1, 2, 3): mean 2, sd 1, t_{0.975, 2} = 4.302653: 2 +- 4.302653 / sqrt(3)
    r = paired([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    half = 4.302652729911275 / math.sqrt(3)
    assert r["low"] == pytest.approx(2 - half) and r["high"] == pytest.approx(2 + half)
    assert r["sd"] == pytest.approx(1.0) and r["effect"] == pytest.approx(2.0)
    assert "exact" in r["method"] and "t interval" in r["method"]
    # a constant difference: a zero-width interval, no standardised effect
    r = paired([5.0, 6.0, 7.0], [4.0, 5.0, 6.0])
    assert (r["low"], r["high"], r["effect"]) == (1.0, 1.0, None)


def test_random_sign_patterns_beyond_the_exact_limit_are_reproducible():
    d = np.random.default_rng(3).normal(0.3, 1.0, stats.EXACT_MAX_SEEDS + 4)
    p1, p2 = sign_flip_p(d), sign_flip_p(d)
    assert p1 == p2 and 1 / (stats.RESAMPLES + 1) <= p1 <= 1
    assert "random sign patterns" in paired(d, np.zeros_like(d))["method"]


@pytest.mark.parametrize("kw, word", [
    ({"x": [1.0], "y": [2.0]}, "at least 2"),
    ({"x": [1.0, 2.0], "y": [1.0]}, "same length"),
    ({"x": [1.0, float("nan")], "y": [1.0, 2.0]}, "finite"),
    ({"x": [1.0, 2.0], "y": [1.0, 2.0], "level": 1.0}, "level"),
    ({"x": [1.0, 2.0], "y": [1.0, 2.0], "alternative": "bigger"}, "alternative"),
    ({"x": [1.0, 2.0], "y": [1.0, 2.0], "shift": float("inf")}, "shift"),
])
def test_paired_rejects_bad_input(kw, word):
    with pytest.raises(ValueError, match=word):
        paired(**kw)


# ---------------------------------------------------------------- Holm and power
def test_holm_by_hand():
    # sorted 0.005 (x4 = 0.02), 0.01 (x3 = 0.03), 0.03 (x2 = 0.06), 0.04 (x1, kept >= 0.06)
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([]) == [] and holm([0.02]) == [0.02]
    with pytest.raises(ValueError):
        holm([0.1, 1.5])


def test_seeds_for_power():
    # a standardised effect of 1 at 5% two-sided: n = 10 (noncentral t; the normal
    # approximation (1.96 + 0.84)^2 = 7.85 plus the t correction)
    assert seeds_for_power(1.0, 0.05) == 10
    assert seeds_for_power(-1.0, 0.05) == 10  # either direction
    # a large effect is bounded below by the sign-flip test: 2^(1-n) <= 0.05 -> n >= 6
    assert seeds_for_power(5.0, 0.05) == 6
    # monotone in the effect and the level
    assert seeds_for_power(0.5, 0.05) > seeds_for_power(1.0, 0.05)
    assert seeds_for_power(0.5, 0.01) > seeds_for_power(0.5, 0.05)
    assert seeds_for_power(0.0, 0.05) is None and seeds_for_power(None, 0.05) is None
    assert seeds_for_power(1e-6, 0.05) is None  # beyond the cap


# ---------------------------------------------------------------- level by simulation
def _false_positives(n: int, dist: str, reps: int, seed: int) -> tuple[float, float, float]:
    """Fraction of null cases (x, y iid) where the one-sided p <= 0.05, where the 95% t
    interval excludes 0, and where both one-sided tests at 2.5% find a difference."""
    rng = np.random.default_rng([seed, n, dist == "t3"])
    p1 = ci = p2 = 0
    for _ in range(reps):
        if dist == "normal":
            x, y = rng.normal(size=n), rng.normal(size=n)
        else:
            x, y = rng.standard_t(3, size=n), rng.standard_t(3, size=n)
        r = paired(x, y, 0.95, "greater")
        p1 += r["p_value"] <= 0.05
        ci += r["low"] > 0 or r["high"] < 0
        p2 += min(r["p_value"], sign_flip_p(x - y, "less")) <= 0.025
    return p1 / reps, ci / reps, p2 / reps


def _bound(reps: int) -> float:
    return 0.05 + 3 * math.sqrt(0.05 * 0.95 / reps)


@pytest.mark.parametrize("reps, seed", [(80, 1),
                                        pytest.param(2000, 2, marks=pytest.mark.slow)])
@pytest.mark.parametrize("n", [5, 10])
@pytest.mark.parametrize("dist", ["normal", "t3"])
def test_level_by_simulation(n, dist, reps, seed):
    """reps null cases each (2000 in the slow run): every false-positive rate <= 5% + 3
    Monte Carlo s.e. (6.5% at 2000)."""
    for rate in _false_positives(n, dist, reps, seed=seed):
        assert rate <= _bound(reps)
