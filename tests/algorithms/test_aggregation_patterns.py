"""Baseline aggregation patterns: synchronized, AFedPG greedy, LAPG lazy, Fast-FedPG local."""

import json

import numpy as np
import pytest

from algorithms.aggregation import (
    AgentFailedError,
    AsyncGreedy,
    lazy_round,
    local_steps_round,
    synchronized_round,
)
from algorithms.oracle import CountingOracle
from algorithms.sim.clock import make_clock
from algorithms.synthetic import GaussianOracle

MU = np.array([[1.0, 0.0], [0.0, 2.0], [4.0, 4.0]])


def test_synchronized_by_hand():
    oracle = CountingOracle(GaussianOracle(MU, 0.0))
    clock = make_clock([1.0, 2.0, 4.0], [0.0, 1.0, 2.0])
    g, rec = synchronized_round(np.zeros(2), oracle, clock, np.random.default_rng(0), batch=2)
    # finishes: 0 + 2, 1 + 4, 2 + 8; uploads end at 2, 6, 12
    assert (rec.t_exit, rec.end, clock.now, clock.iteration) == (10.0, 12.0, 12.0, 1)
    assert rec.counts.tolist() == [2, 2, 2] and rec.cancelled == 0
    assert (rec.uploads, rec.downloads, rec.broadcast_time, rec.reduce_time) == (3, 3, 2.0, 2.0)
    np.testing.assert_allclose(g, MU.mean(axis=0))  # mean of per-agent means
    assert oracle.cost.calls == 1 and oracle.cost.samples == 6
    json.dumps(rec.to_dict())


@pytest.mark.parametrize("timing", ["exponential", "uniform"])
def test_synchronized_random_end_is_max_of_sequential_sums(timing):
    clock = make_clock([1.0, 2.0, 0.5], [0.3, 0.0, 1.0], timing=timing, seed=3)
    probe = make_clock([1.0, 2.0, 0.5], [0.3, 0.0, 1.0], timing=timing, seed=3)
    key, h = probe.new_key(), probe.h_at()
    _, rec = synchronized_round(np.zeros(2), GaussianOracle(MU, 1.0), clock,
                                np.random.default_rng(0), batch=3)
    ends = []
    for i, kap in enumerate([0.3, 0.0, 1.0]):
        t = kap
        for d in probe.durations(key, h, np.full(3, i), np.arange(3)):
            t = t + float(d)
        ends.append(t + kap)
    assert rec.end == max(ends)


def test_synchronized_waits_forever_for_a_failed_agent_so_raises():
    clock = make_clock([1.0, 2.0], 0.0, fail_at=[np.inf, 1.0])
    with pytest.raises(AgentFailedError, match="agent 1 never finishes"):
        synchronized_round(np.zeros(2), GaussianOracle(MU[:2], 0.0), clock,
                           np.random.default_rng(0))


def test_lazy_round_skipped_uploads_cost_nothing():
    oracle = GaussianOracle(MU, 0.0)
    clock = make_clock([1.0, 2.0, 4.0], [0.0, 1.0, 2.0])
    seen = {}

    def upload(G):
        seen["G"] = G
        return np.array([False, True, False])

    G, mask, rec = lazy_round(np.zeros(2), oracle, clock, np.random.default_rng(0), upload)
    np.testing.assert_allclose(G, MU)
    np.testing.assert_allclose(seen["G"], MU)
    # finishes 1, 3, 6; agent 1's upload arrives at 4; the server waits for all: end 6
    assert rec.end == 6.0 and rec.uploads == 1 and rec.n_communications == 4
    assert rec.uploaded.tolist() == [False, True, False] and mask.tolist() == rec.uploaded.tolist()
    _, _, rec = lazy_round(np.zeros(2), oracle, clock, np.random.default_rng(0),
                           lambda G: np.ones(3, dtype=bool))
    assert rec.end - rec.start == 8.0  # agent 2: 2 + 4 + 2
    with pytest.raises(ValueError, match="upload must return a bool array of shape"):
        lazy_round(np.zeros(2), oracle, clock, np.random.default_rng(0), lambda G: [1, 0, 1])


def test_local_steps_closed_form_and_timeline():
    # quadratic oracle without noise: theta <- theta + eta (mu_i - theta), K times
    oracle = CountingOracle(GaussianOracle(MU, 0.0, quadratic=True))
    clock = make_clock([1.0, 2.0, 4.0], 0.5)
    eta, K = 0.25, 4
    theta0 = np.array([1.0, -1.0])
    calls = []

    def update(i, k, th, g):
        calls.append((i, k))
        return th + eta * g

    thetas, rec = local_steps_round(theta0, K, update, oracle, clock, np.random.default_rng(0),
                                    batch=2)
    expect = MU + (1 - eta) ** K * (theta0 - MU)
    np.testing.assert_allclose(thetas, expect)
    assert rec.end == 0.5 + K * 2 * 4.0 + 0.5 and rec.counts.tolist() == [8, 8, 8]
    assert oracle.cost.calls == 1 + 3 * (K - 1)  # step 0 batched, then one per agent and step
    assert sorted(calls) == [(i, k) for i in range(3) for k in range(K)]


def test_greedy_by_hand():
    oracle = GaussianOracle(MU[:2], 0.0, quadratic=True)
    clock = make_clock([1.0, 3.0], [0.0, 0.5])
    sched = AsyncGreedy(oracle, clock, np.random.default_rng(0))
    theta = np.zeros(2)
    sched.start(theta)
    seen = []
    for _ in range(5):
        agent, g, used, rec = sched.step()
        np.testing.assert_allclose(g, MU[agent] - used)  # evaluated at the agent's parameters
        seen.append((agent, rec.arrival, rec.staleness))
        theta = theta + 1.0
        sched.send(agent, theta)
    # agent 0: arrivals 1, 2, 3, 4; agent 1: received 0.5, finished 3.5, arrives 4 (tie:
    # lower index first) with 4 server updates since it received its parameters
    assert seen == [(0, 1.0, 0), (0, 2.0, 0), (0, 3.0, 0), (0, 4.0, 0), (1, 4.0, 4)]
    assert sched.uploads == 5 and sched.downloads == 2 + 5 and sched.evaluated == 5
    assert clock.iteration == 5 and clock.now == 4.0
    assert sched.in_flight() == 2  # agent 1 restarted at 4.5, agent 0 at 4


def test_greedy_failures_and_bad_use():
    oracle = GaussianOracle(MU[:2], 1.0)
    clock = make_clock([1.0, 1.0], 0.0, fail_at=[2.5, 0.5])
    sched = AsyncGreedy(oracle, clock, np.random.default_rng(0))
    with pytest.raises(ValueError, match="call start"):
        sched.send(0, np.zeros(2))
    sched.start(np.zeros(2))
    with pytest.raises(ValueError, match="agent 0 is still computing"):
        sched.send(0, np.zeros(2))
    for _ in range(2):
        agent, *_ = sched.step()
        assert agent == 0
        sched.send(agent, np.zeros(2))
    with pytest.raises(AgentFailedError, match="no computation in flight"):
        sched.step()


@pytest.mark.parametrize("call, msg", [
    (lambda o, c, r: synchronized_round(np.zeros(2), o, c, r, batch=0), "batch must be"),
    (lambda o, c, r: lazy_round(np.zeros(2), o, c, r, upload=None), "upload must be a callable"),
    (lambda o, c, r: local_steps_round(np.zeros(2), 0, lambda *a: a[2], o, c, r), "K must be"),
    (lambda o, c, r: local_steps_round(np.zeros(3), 1, lambda *a: a[2], o, c, r),
     r"theta must have shape \(2,\)"),
])
def test_bad_input_named(call, msg):
    clock = make_clock([1.0, 1.0])
    with pytest.raises(ValueError, match=msg):
        call(GaussianOracle(MU[:2], 1.0), clock, np.random.default_rng(0))
    assert clock.now == 0.0 and clock.iteration == 0  # rejected before simulating
