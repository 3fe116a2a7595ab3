"""From measured durations to a cluster file's timing model and kappa
(algorithms.wallclock.calibration).

The likelihoods are checked against scipy.stats (an independent implementation); the model
choice against samples drawn from each model with a fixed seed."""

import numpy as np
import pytest
from scipy import stats

from algorithms.wallclock.calibration import (
    FIXED_CV,
    fit_timing,
    kappa_from_allreduce,
    kappa_from_round_trips,
    kappa_from_rounds,
)


def _agents(draw, h=(0.01, 0.02, 0.05), size=400, seed=0):
    rng = np.random.default_rng(seed)
    return [hi * draw(rng, size) for hi in h]


def test_nearly_constant_durations_are_fixed():
    fit = fit_timing(_agents(lambda r, k: 1 + 0.01 * r.standard_normal(k)))
    assert fit.timing == "fixed" and fit.options == {} and fit.cv < FIXED_CV


def test_exponential_durations_are_exponential():
    fit = fit_timing(_agents(lambda r, k: r.exponential(1.0, k)))
    assert fit.timing == "exponential"


def test_lognormal_durations_are_lognormal_with_their_spread():
    s = 0.5
    fit = fit_timing(_agents(lambda r, k: np.exp(s * r.standard_normal(k) - s * s / 2)))
    assert fit.timing == "lognormal"
    # the sample std of log x over 1200 draws: se ~ s / sqrt(2 * 1200) ~ 0.01
    assert fit.options["log_sigma"] == pytest.approx(s, abs=0.05)


def test_uniform_durations_are_uniform_with_their_jitter():
    w = 0.4
    fit = fit_timing(_agents(lambda r, k: 1 + w * (2 * r.random(k) - 1)))
    assert fit.timing == "uniform"
    assert fit.options["jitter"] == pytest.approx(w, abs=0.02)


def test_likelihoods_match_scipy():
    rng = np.random.default_rng(5)
    t = [0.02 * np.exp(0.3 * rng.standard_normal(300))]
    fit = fit_timing(t)
    x = t[0] / t[0].mean()
    s = np.log(x).std()
    assert fit.loglik["exponential"] == pytest.approx(stats.expon.logpdf(x).mean())
    ref = stats.lognorm(s, scale=np.exp(-s * s / 2)).logpdf(x).mean()
    assert fit.loglik["lognormal"] == pytest.approx(ref)
    w = min(np.abs(x - 1).max(), 0.99)
    assert fit.loglik["uniform"] == pytest.approx(stats.uniform(1 - w, 2 * w).logpdf(x).mean())


def test_kappa_by_hand():
    # half the median all_reduce, every agent: median(1, 2, 10) = 2 -> 1
    np.testing.assert_array_equal(kappa_from_allreduce([1.0, 2.0, 10.0], 3), [1.0, 1.0, 1.0])
    # half each agent's median round trip
    np.testing.assert_array_equal(kappa_from_round_trips([[2.0, 4.0, 6.0], [1.0, 1.0]]),
                                  [2.0, 0.5])


@pytest.mark.parametrize("bad", [[[0.1]], [[0.1, -1.0]], [[0.1, float("nan")]], [[]]])
def test_too_few_or_bad_samples_name_the_agent(bad):
    with pytest.raises(ValueError, match="samples: agent 0"):
        fit_timing(bad)


def test_kappa_from_rounds_by_hand():
    """h = (1, 2, 4), M = 10: Algorithm 2 exits at t = 6 (6 + 3 + 1 gradients); rounds of
    median 7 s leave 1 s for two communications: kappa = 0.5 (and 0 if nothing is left)."""
    assert kappa_from_rounds([6.9, 7.0, 8.0], [1.0, 2.0, 4.0], 10) == pytest.approx(0.5)
    assert kappa_from_rounds([5.0], [1.0, 2.0, 4.0], 10) == 0.0
