"""The synthetic GaussianOracle used by the aggregation tests and validation."""

import numpy as np
import pytest

from algorithms.aggregation import AsyncGreedy
from algorithms.oracle import GradientOracle
from algorithms.sim.clock import make_clock
from algorithms.synthetic import GaussianOracle


def test_protocol_and_shapes():
    o = GaussianOracle(np.zeros((3, 4)), 1.0)
    assert isinstance(o, GradientOracle) and (o.n_envs, o.dim) == (3, 4)
    rng = np.random.default_rng(0)
    assert o.sample_gradients(np.zeros(4), np.array([0, 2, 2]), rng).shape == (3, 4)
    assert o.sum_gradients(np.zeros(4), np.array([1, 0, 5, 2]), rng).shape == (4, 4)
    assert GaussianOracle(np.ones(2)).n_envs == 1


def test_sum_of_k_samples_has_mean_k_mu_and_variance_k_sigma2():
    mu = np.array([[1.0, -2.0], [3.0, 0.5]])
    o = GaussianOracle(mu, 2.0)
    rng = np.random.default_rng(1)
    counts = np.array([3, 7])
    R = 20_000
    sums = np.stack([o.sum_gradients(np.zeros(2), counts, rng) for _ in range(R)])
    mean, var = sums.mean(axis=0), sums.var(axis=0, ddof=1)
    se_mean = np.sqrt(counts[:, None] * 4.0 / R)
    # tolerance: 4 standard errors (mean); variance of a sample variance is 2 var^2 / R
    assert (np.abs(mean - counts[:, None] * mu) < 4 * se_mean).all()
    true_var = counts[:, None] * 4.0
    assert (np.abs(var - true_var) < 4 * true_var * np.sqrt(2 / R)).all()
    # agent 2 samples environment 2 % 2 = 0; zero counts give a zero row
    np.testing.assert_array_equal(o.sum_gradients(np.zeros(2), np.array([0, 0, 0]), rng), 0.0)


def test_quadratic_mean_and_determinism():
    o = GaussianOracle(np.array([[1.0, 1.0]]), 0.5, quadratic=True)
    np.testing.assert_allclose(o.grad_J(np.array([3.0, 0.0])), [-2.0, 1.0])
    a = o.sample_gradients(np.zeros(2), np.array([0, 0]), np.random.default_rng(3))
    b = o.sample_gradients(np.zeros(2), np.array([0, 0]), np.random.default_rng(3))
    assert np.array_equal(a, b)


@pytest.mark.parametrize("kwargs, msg", [
    ({"mu": np.zeros((2, 0))}, "mu must be a finite"),
    ({"mu": [[np.nan]]}, "mu must be a finite"),
    ({"mu": [[0.0]], "sigma": -1.0}, "sigma must be"),
])
def test_bad_input(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        GaussianOracle(**kwargs)
    with pytest.raises(ValueError, match="counts must be >= 0"):
        GaussianOracle([[0.0]]).sum_gradients(np.zeros(1), np.array([-1]),
                                              np.random.default_rng(0))


def test_greedy_random_durations_are_the_clock_draws():
    # AsyncGreedy's k-th computation of agent i lasts d(key_start, i, k - 1)
    o = GaussianOracle(np.zeros((2, 1)), 1.0)
    clock = make_clock([1.0, 2.0], 0.25, timing="exponential", seed=9)
    probe = make_clock([1.0, 2.0], 0.25, timing="exponential", seed=9)
    key, h = probe.new_key(), probe.h_at()
    sched = AsyncGreedy(o, clock, np.random.default_rng(0))
    sched.start(np.zeros(1))
    for _ in range(6):
        agent, _, theta, rec = sched.step()
        d = probe.durations(key, h, np.array([agent]), np.array([rec.k - 1]))[0]
        assert rec.finished == rec.received + d and rec.arrival == rec.finished + 0.25
        sched.send(agent, theta)
