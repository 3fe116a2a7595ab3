"""AggregateRennala (Algorithm 2) and AggregateMalenia (Algorithm 3) on the simulated clock."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from algorithms.aggregation import (
    AgentFailedError,
    aggregate_malenia,
    aggregate_rennala,
    malenia_should_stop,
    plan_malenia,
    plan_rennala,
)
from algorithms.aggregation.reference import malenia_heap, rennala_heap
from algorithms.oracle import CountingOracle
from algorithms.sim.clock import make_clock
from algorithms.synthetic import GaussianOracle
from theory.lemmas import malenia_collect_time_bound, rennala_collect_time_bound

# --- independent brute force (exact rationals) ---------------------------------------------


def brute_rennala_exit(h, M):
    """Smallest t with sum_i floor(t / h_i) >= M (kappa = 0), in exact rationals."""
    H = [Fraction(x) for x in h]
    cands = sorted({k * hi for hi in H for k in range(1, M + 1)})
    lo, hi = 0, len(cands) - 1
    while lo < hi:  # sum_i floor(t/h_i) is non-decreasing in t
        mid = (lo + hi) // 2
        if sum(int(cands[mid] // x) for x in H) >= M:
            hi = mid
        else:
            lo = mid + 1
    return cands[lo]


def brute_events(h, kappa, horizon):
    """All finish events (time, agent) with time <= horizon, exact, broadcast at 0."""
    ev = []
    for i, (hi, ki) in enumerate(zip(h, kappa, strict=True)):
        hi, ki, k = Fraction(hi), Fraction(ki), 1
        while ki + k * hi <= horizon:
            ev.append((ki + k * hi, i))
            k += 1
    return sorted(ev)


def brute_malenia(h, kappa, M):
    """Algorithm 3's loop as written, exact: returns (t_exit, counts)."""
    n = len(h)
    horizon = Fraction(max(kappa)) + Fraction(max(h)) + sum(map(Fraction, h)) / n * M / n + 1
    counts = [0] * n
    for t, i in brute_events(h, kappa, horizon):
        counts[i] += 1
        if 0 not in counts and not (1 / (sum(Fraction(1, c) for c in counts) / n)
                                    < Fraction(M, n)):
            return t, counts
    raise AssertionError("Lemma C.2 horizon exceeded")


dyadic = st.integers(1, 64).map(lambda k: k / 8)  # exact products k * h in floating point
cluster_h = st.lists(st.floats(0.05, 20.0), min_size=1, max_size=12)

# --- exact simulated times -----------------------------------------------------------------


@given(h=cluster_h, M=st.integers(1, 150))
def test_rennala_exit_time_equals_brute_force(h, M):
    rec = plan_rennala(make_clock(h, 0.0), M)
    t = brute_rennala_exit(h, M)
    # IEEE products are correctly rounded and rounding is monotone: the M-th smallest
    # float finish time is the rounding of the exact M-th smallest.
    assert rec.t_exit == float(t) and rec.end == rec.t_exit
    assert rec.counts.sum() == M == rec.evaluated


@given(h=st.lists(dyadic, min_size=1, max_size=8), M=st.integers(1, 100))
def test_rennala_counts_equal_brute_force(h, M):
    t = brute_rennala_exit(h, M)
    H = [Fraction(x) for x in h]
    base = [int(t // x) - (1 if t % x == 0 else 0) for x in H]  # finished strictly before t
    extra = M - sum(base)
    tied = [i for i, x in enumerate(H) if t % x == 0]  # finishing exactly at t: index order
    expect = [b + (1 if i in tied[:extra] else 0) for i, b in enumerate(base)]
    rec = plan_rennala(make_clock(h, 0.0), M)
    assert rec.counts.tolist() == expect
    assert rec.unused == len(tied) - extra


def test_rennala_by_hand_with_per_agent_kappa():
    # s = (0.5, 1, 2); finishes: a0 1.5, 2.5, 3.5; a1 3, 5; a2 5 -> 4th gradient at 3.5
    rec = plan_rennala(make_clock([1.0, 2.0, 3.0], [0.5, 1.0, 2.0]), 4)
    assert rec.t_exit == 3.5 and rec.counts.tolist() == [3, 1, 0]
    assert rec.end == 4.5  # uploads by a0, a1 only: 3.5 + max(0.5, 1)
    assert (rec.cancelled, rec.unused, rec.uploads, rec.downloads) == (2, 0, 2, 3)
    assert (rec.broadcast_time, rec.reduce_time, rec.computation_time) == (2.0, 1.0, 1.5)
    assert rec.simulated == 6 and rec.n_communications == 5
    assert rec.used_samples().tolist() == [[0, 1], [0, 2], [0, 3], [1, 1]]


def test_malenia_by_hand():
    # n = 3, M = 5: stop when sum 1/M_i <= 9/5. s = 0.5. At 4.5 (a0: 4, a1: 2, a2: 1):
    # 1/4 + 1/2 + 1 = 1.75 <= 1.8; just before (a0: 4, a1: 1): 2.25 > 1.8.
    rec = plan_malenia(make_clock([1.0, 2.0, 3.0], 0.5), 5)
    assert rec.t_exit == 4.5 and rec.counts.tolist() == [4, 2, 1]
    assert rec.end == 5.0 and rec.cancelled == 1 and rec.uploads == 3


@given(h=st.lists(dyadic, min_size=1, max_size=6), M=st.integers(1, 60),
       kappa=st.lists(st.integers(0, 16).map(lambda k: k / 8), min_size=6, max_size=6))
def test_malenia_equals_brute_force(h, M, kappa):
    kappa = kappa[: len(h)]
    t, counts = brute_malenia(h, kappa, M)
    rec = plan_malenia(make_clock(h, kappa), M)
    assert rec.t_exit == float(t) and rec.counts.tolist() == counts
    assert rec.end == float(t) + max(kappa)


def test_malenia_condition_exactly_as_written():
    assert not malenia_should_stop(np.array([3, 3, 0]), 1)  # any M_i = 0 keeps waiting
    assert malenia_should_stop(np.array([3, 3, 3]), 9)  # (1/3 * 1)^{-1} = 3 = M/n: exit
    assert not malenia_should_stop(np.array([3, 3, 3]), 10)  # 3 < 10/3: continue
    assert malenia_should_stop(np.array([1]), 1) and not malenia_should_stop(np.array([1]), 2)


def test_malenia_is_not_collect_M():
    # With M = 2 "collect M gradients" would stop at 0.2 with two fast gradients;
    # Algorithm 3 waits for the slow agent's first gradient.
    rec = plan_malenia(make_clock([0.1, 100.0], 0.0), 2)
    assert rec.t_exit == 100.0 and rec.counts[1] == 1 and rec.counts[0] >= 999


# --- Lemma C.1 / C.2 bounds ----------------------------------------------------------------

clusters = st.integers(1, 40).flatmap(lambda n: st.tuples(
    st.lists(st.floats(0.01, 100.0), min_size=n, max_size=n),
    st.one_of(st.floats(0.0, 10.0),
              st.lists(st.floats(0.0, 10.0), min_size=n, max_size=n)),
    st.integers(1, 2000)))


@given(clusters)
def test_rennala_within_lemma_C1(cluster):
    h, kappa, M = cluster
    clock = make_clock(h, kappa)
    clock.now = 7.25  # the bound is on the round's duration, wherever it starts
    rec = plan_rennala(clock, M)
    bound = rennala_collect_time_bound(h, M, float(np.max(kappa)))
    assert rec.end - rec.start <= bound.total * (1 + 1e-12) + 1e-9
    assert clock.now == rec.end


@given(clusters)
def test_malenia_within_lemma_C2(cluster):
    h, kappa, M = cluster
    rec = plan_malenia(make_clock(h, kappa), M)
    bound = malenia_collect_time_bound(h, M, float(np.max(kappa)))
    assert rec.end - rec.start <= bound.total * (1 + 1e-12) + 1e-9


# --- random timing: vectorised plan == heapq loop, determinism ------------------------------


@pytest.mark.parametrize("timing", ["fixed", "exponential", "lognormal", "uniform"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_plans_equal_heap_event_loops(timing, seed):
    rng = np.random.default_rng(seed)
    n = 300
    h = rng.uniform(0.2, 5.0, n)
    kappa = rng.uniform(0.0, 1.0, n)
    fail = np.where(rng.random(n) < 0.1, rng.uniform(0, 30, n), np.inf)
    join = np.where(rng.random(n) < 0.1, rng.uniform(0, 10, n), 0.0)
    # Malenia with M/n = 10: the harmonic condition binds long after every agent's first
    # gradient (with M < n it would only wait for the last first arrival)
    for plan, heap, M in ((plan_rennala, rennala_heap, 3000), (plan_malenia, malenia_heap, 3000)):
        kw = dict(timing=timing, seed=seed, fail_at=fail, join_at=join)
        if plan is plan_malenia:  # Malenia cannot finish with failed agents
            kw.pop("fail_at")
        c1, c2 = make_clock(h, kappa, **kw), make_clock(h, kappa, **kw)
        c1.now = c2.now = 3.0
        rec = plan(c1, M)
        counts, t = heap(c2, M)
        assert rec.t_exit == t and rec.counts.tolist() == counts.tolist()


@pytest.mark.parametrize("agg", [aggregate_rennala, aggregate_malenia])
def test_same_seed_same_record_and_gradient(agg):
    oracle = GaussianOracle(np.arange(8.0).reshape(4, 2), 1.0)
    out = []
    for _ in range(2):
        clock = make_clock("sqrt", "sqrt", n=4, timing="lognormal", seed=11)
        rng = np.random.default_rng(5)
        out.append([agg(np.zeros(2), 17, oracle, clock, rng) for _ in range(3)])
    for (g1, r1), (g2, r2) in zip(*out, strict=True):
        assert r1.to_dict() == r2.to_dict() and np.array_equal(g1, g2)
    assert out[0][0][1].to_dict() != out[0][1][1].to_dict()  # rounds differ from each other


# --- failures ------------------------------------------------------------------------------


def test_failed_agents_never_block_rennala():
    # agent 0 fails before its first gradient, agent 3 never returns (h = inf)
    clock = make_clock([1.0, 1.0, 2.0, np.inf], 0.0, fail_at=[0.5, np.inf, np.inf, np.inf])
    rec = plan_rennala(clock, 3)
    assert rec.t_exit == 2.0 and rec.counts.tolist() == [0, 2, 1, 0]
    rec = plan_rennala(clock, 1000)  # and with many gradients still finishes
    assert rec.counts[[0, 3]].tolist() == [0, 0] and rec.counts.sum() == 1000


def test_rennala_errors_when_failures_make_M_unreachable():
    clock = make_clock([1.0, 1.0], 0.0, fail_at=[2.5, 3.5])  # at most 2 + 3 gradients
    with pytest.raises(AgentFailedError, match="only 5 reachable gradients"):
        plan_rennala(clock, 6)
    with pytest.raises(AgentFailedError, match="no agent can return"):
        plan_rennala(make_clock([np.inf, np.inf], 0.0), 1)


@pytest.mark.parametrize("kwargs, match", [
    ({"h": [1.0, 1.0], "fail_at": [np.inf, 0.5]}, "agent 1 failed at t = 0.5 before"),
    ({"h": [1.0, np.inf]}, "agent 1 can never return"),
    ({"h": [1.0, 1.0, 1.0], "fail_at": [np.inf, 0.5, np.inf], "join_at": [0, 0.6, 0]},
     "agent 1 can never return"),
    ({"h": [1.0, 1.0], "fail_at": [np.inf, 1.5]}, "final counts keep"),
    ({"h": [1.0, 2.0], "fail_at": [5.0, 5.0]}, "final counts keep"),
])
def test_malenia_with_agent_failed_forever_raises(kwargs, match):
    clock = make_clock(kappa=0.0, **kwargs)
    with pytest.raises(AgentFailedError, match=match) as info:
        plan_malenia(clock, 100)
    assert isinstance(info.value, RuntimeError)


def test_malenia_failed_agent_before_first_gradient_after_broadcast():
    clock = make_clock([1.0, 3.0], 0.0, fail_at=[np.inf, 2.0])
    with pytest.raises(AgentFailedError, match="agent 1 failed at t = 2"):
        plan_malenia(clock, 4)


def test_malenia_finishes_when_failure_still_allows_exit():
    # agent 1 returns one gradient then fails: exit needs 4 >= 3 (1 + 1/M_0), i.e. M_0 >= 3
    rec = plan_malenia(make_clock([1.0, 1.0], 0.0, fail_at=[np.inf, 1.5]), 3)
    assert rec.counts.tolist() == [3, 1] and rec.t_exit == 3.0


# --- values: one batched oracle call, unbiasedness -----------------------------------------


def test_one_batched_call_and_exact_values_without_noise():
    mu = np.array([[1.0, 0.0], [0.0, 2.0], [4.0, 4.0]])
    oracle = CountingOracle(GaussianOracle(mu, 0.0))
    clock = make_clock([1.0, 2.0, 3.0], 0.0)
    g, rec = aggregate_rennala(np.zeros(2), 5, oracle, clock, np.random.default_rng(0))
    assert oracle.cost.calls == 1 and oracle.cost.samples == 5  # cancelled work not evaluated
    np.testing.assert_allclose(g, (3 * mu[0] + mu[1] + mu[2]) / 5)
    g, rec = aggregate_malenia(np.zeros(2), 5, oracle, clock, np.random.default_rng(0))
    assert oracle.cost.calls == 2 and oracle.cost.samples == 5 + rec.counts.sum()
    np.testing.assert_allclose(g, mu.mean(axis=0))  # 1/n sum_i gbar_i / M_i
    assert rec.simulated == rec.evaluated + rec.cancelled + rec.unused


def test_unbiasedness_smoke():
    # Heterogeneous environments; fast agents see +10, slow ones -10 in coordinate 0.
    mu = np.array([[10.0, 1.0], [10.0, 1.0], [-10.0, 1.0], [-10.0, 1.0]])
    oracle = GaussianOracle(mu, 3.0)
    clock = make_clock([0.5, 0.5, 4.0, 8.0], 0.1, timing="exponential", seed=0)
    rng = np.random.default_rng(1)
    R = 300
    mal = np.array([aggregate_malenia(np.zeros(2), 12, oracle, clock, rng)[0] for _ in range(R)])
    ren = np.array([aggregate_rennala(np.zeros(2), 12, oracle, clock, rng)[0] for _ in range(R)])
    target = mu.mean(axis=0)
    se = mal.std(axis=0, ddof=1) / np.sqrt(R)
    # tolerance: 4 standard errors of the mean over R rounds (fixed seeds)
    assert (np.abs(mal.mean(axis=0) - target) < 4 * se).all()
    # "collect the first M gradients" over-weights fast environments: far from the target
    se_r = ren.std(axis=0, ddof=1) / np.sqrt(R)
    assert ren.mean(axis=0)[0] - target[0] > 10 * se_r[0]
    # homogeneous setting: Rennala is unbiased
    hom = GaussianOracle(np.array([[2.0, -1.0]]), 3.0)
    est = np.array([aggregate_rennala(np.zeros(2), 12, hom, clock, rng)[0] for _ in range(R)])
    se_h = est.std(axis=0, ddof=1) / np.sqrt(R)
    assert (np.abs(est.mean(axis=0) - [2.0, -1.0]) < 4 * se_h).all()


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize("agg", [aggregate_rennala, aggregate_malenia])
def test_bad_input_names_parameter(agg):
    oracle = GaussianOracle(np.zeros((2, 3)), 1.0)
    clock = make_clock([1.0, 2.0], 0.0)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="M must be an integer >= 1"):
        agg(np.zeros(3), 0, oracle, clock, rng)
    with pytest.raises(ValueError, match="M must be an integer"):
        agg(np.zeros(3), 2.5, oracle, clock, rng)
    with pytest.raises(ValueError, match=r"theta must have shape \(3,\)"):
        agg(np.zeros(2), 2, oracle, clock, rng)
    with pytest.raises(ValueError, match="rng must be a numpy.random.Generator"):
        agg(np.zeros(3), 2, oracle, clock, 0)
    with pytest.raises(ValueError, match="clock must be a SimClock"):
        agg(np.zeros(3), 2, oracle, "clock", rng)
    assert clock.now == 0.0 and clock.iteration == 0  # nothing was simulated


@pytest.mark.slow
def test_rennala_plan_equals_heap_at_scale():
    kw = dict(n=20_000, timing="exponential", seed=7)
    rec = plan_rennala(make_clock("sqrt", 0.0, **kw), 200_000)
    counts, t = rennala_heap(make_clock("sqrt", 0.0, **kw), 200_000)
    assert rec.t_exit == t and np.array_equal(rec.counts, counts)


def test_records_compare_by_value():
    r1 = plan_rennala(make_clock([1.0, 2.0], 0.0), 3)
    r2 = plan_rennala(make_clock([1.0, 2.0], 0.0), 3)
    r3 = plan_rennala(make_clock([1.0, 2.0], 0.0), 4)
    assert r1 == r2 and r1 != r3
