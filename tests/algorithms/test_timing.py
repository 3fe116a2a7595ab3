"""Timing models: profiles, parsing, counter-based draws and their distributions."""

import numpy as np
import pytest
from scipy import stats

from algorithms.sim import timing as tm
from theory import clusters


def test_profiles_are_the_theory_ones():
    # one implementation of the Section H profiles (theory.clusters), re-exported here
    assert tm.profile is clusters.profile and tm.PROFILES == clusters.PROFILES


def test_profiles_by_hand():
    np.testing.assert_array_equal(tm.profile("equal", 3), [1.0, 1.0, 1.0])
    np.testing.assert_allclose(tm.profile("sqrt", 4), [1.0, 2**0.5, 3**0.5, 2.0])
    np.testing.assert_allclose(tm.profile("quarter", 16)[[0, 15]], [1.0, 2.0])


def test_resolve_times_forms():
    np.testing.assert_array_equal(tm.resolve_times("h", "1,2,4"), [1, 2, 4])
    np.testing.assert_array_equal(tm.resolve_times("h", "3", 2), [3, 3])
    np.testing.assert_array_equal(tm.resolve_times("h", [2.0], 3), [2, 2, 2])
    np.testing.assert_allclose(tm.resolve_times("h", "sqrt", 4), tm.profile("sqrt", 4))
    np.testing.assert_array_equal(tm.resolve_kappa(0.0, 2), [0.0, 0.0])
    np.testing.assert_array_equal(tm.resolve_times("h", "1,inf", allow_inf=True), [1, np.inf])


@pytest.mark.parametrize(
    "value, n, msg",
    [
        ("1,-2", None, "h must be > 0"),
        ([1.0, float("nan")], None, "h must not contain NaN"),
        ("sqrt", None, "needs the number of agents"),
        ("fast", 3, "h: unknown value 'fast'"),
        ([1.0, 2.0], 3, "length mismatch: h has 2"),
        ("1,x", None, "h must be numbers"),
        ("", None, "h must not be empty"),
    ],
)
def test_resolve_times_bad_input_names_parameter(value, n, msg):
    with pytest.raises(ValueError, match=msg):
        tm.resolve_times("h", value, n)


def test_kappa_negative_named():
    with pytest.raises(ValueError, match="kappa must be >= 0"):
        tm.resolve_kappa([0.0, -1.0], 2)


def test_options_validation():
    assert tm.check_options("lognormal", {}) == {"log_sigma": 0.5}
    assert tm.check_options("uniform", {"jitter": 0.2}) == {"jitter": 0.2}
    with pytest.raises(ValueError, match="timing: unknown value"):
        tm.check_options("gamma", {})
    with pytest.raises(ValueError, match="jitter must lie in"):
        tm.check_options("uniform", {"jitter": 1.0})
    with pytest.raises(ValueError, match="log_sigma: not an option of timing 'fixed'"):
        tm.check_options("fixed", {"log_sigma": 1.0})


def test_counter_uniform_is_a_pure_function_of_key_agent_k():
    agents = np.array([0, 5, 5, 9])
    k = np.array([3, 0, 1, 3])
    u = tm.counter_uniform(123, agents, k)
    # same (agent, k) asked alone, in another order, or in a 2-D block: same bits
    assert tm.counter_uniform(123, np.array([5]), np.array([1]))[0] == u[2]
    block = tm.counter_uniform(123, np.array([[0], [9]]), np.arange(4)[None, :])
    assert block[0, 3] == u[0] and block[1, 3] == u[3]
    assert (tm.counter_uniform(124, agents, k) != u).all()  # another key, other draws
    assert len(set(u.tolist())) == 4


def test_counter_uniform_is_uniform():
    u = tm.counter_uniform(7, np.repeat(np.arange(100), 500), np.tile(np.arange(500), 100))
    assert 0.0 < u.min() and u.max() < 1.0
    # Kolmogorov-Smirnov at level 1e-3 with a fixed key: deterministic outcome
    assert stats.kstest(u, "uniform").pvalue > 1e-3


@pytest.mark.parametrize("timing", ["exponential", "lognormal", "uniform"])
def test_duration_means_are_h(timing):
    opts = tm.check_options(timing, {})
    N = 200_000
    agents = np.arange(N) % 50
    d = tm.durations(timing, opts, np.full(N, 2.5), 11, agents, np.arange(N) // 50)
    se = d.std() / np.sqrt(N)
    assert abs(d.mean() - 2.5) < 4 * se  # tolerance: 4 standard errors of the mean


def test_duration_formulas_by_hand():
    u = tm.counter_uniform(3, np.array([1]), np.array([2]))[0]
    h = np.array([2.0])
    a, k = np.array([1]), np.array([2])
    assert tm.durations("exponential", {}, h, 3, a, k)[0] == pytest.approx(-2.0 * np.log(u))
    assert tm.durations("uniform", {"jitter": 0.5}, h, 3, a, k)[0] == pytest.approx(
        2.0 * (1 + 0.5 * (2 * u - 1))
    )
    z = stats.norm.ppf(u)
    assert tm.durations("lognormal", {"log_sigma": 0.3}, h, 3, a, k)[0] == pytest.approx(
        2.0 * np.exp(0.3 * z - 0.045)
    )
    assert tm.durations("fixed", {}, h, 3, a, k)[0] == 2.0


def test_kappa_sqrt_d4_by_hand():
    # kappa_i = sqrt(i) d^(1/4) with d = 16: 2 sqrt(i)
    np.testing.assert_allclose(tm.resolve_kappa("sqrt_d4", 4, d=16), 2 * np.sqrt([1, 2, 3, 4]))
    np.testing.assert_allclose(tm.resolve_kappa("sqrt", 3), np.sqrt([1, 2, 3]))
    with pytest.raises(ValueError, match="kappa"):
        tm.resolve_kappa("sqrt_d4", 4)


def test_scipy_is_imported_only_for_lognormal_timing():
    """`apga aggregate` paid 0.4 s importing scipy at start-up; only lognormal needs it."""
    import subprocess
    import sys

    code = ("import sys, algorithms.sim.timing as t, algorithms.sim.clock as c;"
            "c.make_clock([1.0, 2.0]); print('scipy.special' in sys.modules);"
            "t.durations('lognormal', {'log_sigma': 0.5}, [1.0], 1, [0], [0]);"
            "print('scipy.special' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "True"]
