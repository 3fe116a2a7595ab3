"""Predicted seconds on the simulated clock, against rounds worked out by hand."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algorithms import wallclock as wc
from algorithms.aggregation import AsyncGreedy
from theory.cluster_file import ClusterSpec
from validation.strategies import computation_times

H124 = ClusterSpec([1.0, 2.0, 4.0], [0.5, 0.5, 0.5])


def test_issue_rounds_by_hand():
    # Rennala, M = 10: after the 0.5 s broadcast, floor(t/1) + floor(t/2) + floor(t/4) = 10
    # first at t = 6 (6 + 3 + 1), then the 0.5 s reduce: 0.5 + 6 + 0.5 = 7.0.
    assert wc.round_seconds("rennala_nigt", H124, 10).mean == 7.0
    # Synchronized (one gradient per agent): 0.5 + max h = 4 + 0.5 = 5.0.
    assert wc.round_seconds("sync_nigt", H124, 10).mean == 5.0
    # Malenia, M = 10, n = 3: stop when 9 >= 10 sum_i 1/M_i, i.e. sum_i 1/M_i <= 0.9.
    # At t = 8 (after the broadcast) the arrivals are agent 0 (M = 8, 1/3 + 1 too much),
    # agent 1 (M_2 = 4), agent 2 (M_3 = 2): 1/8 + 1/4 + 1/2 = 0.875 <= 0.9. End 0.5 + 8 + 0.5.
    assert wc.round_seconds("malenia_nigt", H124, 10).mean == 9.0
    # AFedPG: cycles c = h + 2 kappa = (2, 3, 5): one update per 1/(1/2 + 1/3 + 1/5) = 30/31 s.
    assert wc.round_seconds("afedpg", H124).mean == pytest.approx(30 / 31, rel=1e-15)


def test_bounds_by_hand():
    # Lemma C.1: 2 kappa + min_m (M + m) / sum_{i<=m} 1/h_i = 1 + min(11, 12/1.5, 13/1.75)
    assert wc.round_bound("rennala_nigt", H124, 10)[0] == pytest.approx(1 + 13 / 1.75)
    # Lemma C.2: 2 kappa + h_max + mean(h) M / n = 1 + 4 + (7/3)(10/3)
    assert wc.round_bound("malenia_nigt", H124, 10)[0] == pytest.approx(5 + 70 / 9)
    assert wc.round_bound("sync_nigt", H124, 10, batch=2)[0] == 1 + 8
    assert wc.round_bound("afedpg", H124)[0] is None


def test_section_h_per_agent_kappa_by_hand():
    # kappa_i = sqrt(i) d^(1/4) with d = 16: kappa = 2 sqrt(i) = (2, 2.83, 3.46, 4); h_i = 1.
    kappa = 2 * np.sqrt(np.arange(1, 5))
    c = ClusterSpec(np.ones(4), kappa)
    # Rennala M = 4: finishes 3 (a0), 3.83 (a1), 4 (a0), 4.46 (a2) -> exit 1 + 2 sqrt(3);
    # uploaders a0..a2 -> reduce max = 2 sqrt(3): round 1 + 4 sqrt(3).
    assert wc.round_seconds("rennala_nigt", c, 4).mean == pytest.approx(1 + 4 * math.sqrt(3))
    # Malenia M = 4: all four agents need a gradient; a3's first at 4 + 1 = 5; +4 reduce.
    assert wc.round_seconds("malenia_nigt", c, 4).mean == 9.0
    assert wc.round_seconds("sync_nigt", c).mean == 9.0  # max_i (2 kappa_i + 1)
    assert wc.round_seconds("afedpg", c).mean == pytest.approx(1 / np.sum(1 / (1 + 2 * kappa)))
    # The bounds use kappa = max_i kappa_i = 4: Lemma C.1 8 + min_m (4 + m)/m = 10.
    assert wc.round_bound("rennala_nigt", c, 4)[0] == pytest.approx(10.0)


def test_greedy_update_time_by_hand_and_against_async_greedy():
    # c = (2, 3, 5): updates at 2,3,4,5,6,6,8,9,10,10,12,12,14,15,15,16,...
    expect = [2, 3, 4, 5, 6, 6, 8, 9, 10, 10, 12, 12, 14, 15, 15, 16]
    got = [wc.greedy_update_time(H124.h, H124.kappa, k) for k in range(1, 17)]
    assert got == expect
    rng = np.random.default_rng(5)
    h, kappa = rng.uniform(0.5, 3, 6), rng.uniform(0, 1, 6)
    c = ClusterSpec(h, kappa)
    sched = AsyncGreedy(wc._PlanOnlyOracle(), wc._clock(c, 0), np.random.default_rng(0))
    sched.start(np.zeros(0))
    arrivals = []
    for _ in range(300):
        agent, _g, _t, rec = sched.step()
        arrivals.append(rec.arrival)
        sched.send(agent, np.zeros(0))
    for K in (1, 2, 7, 50, 299, 300):
        assert wc.greedy_update_time(h, kappa, K) == pytest.approx(arrivals[K - 1], rel=1e-12)


def test_totals_follow_algorithm_1():
    kw = {"eps": 0.1, "M": 10, "M_init": 20, "iterations": 100}
    r = wc.predict_method("rennala_nigt", H124, **kw)
    init = wc.round_seconds("rennala_nigt", H124, 20).mean  # 0.5 + 12 + 0.5 (12+6+3 >= 20)
    assert init == 13.0 and r.init_seconds == 13.0
    assert r.total_seconds == 13.0 + 100 * 7.0 and r.iterations == 100
    m = wc.predict_method("malenia_nigt", H124, **kw)
    assert m.total_seconds == m.init_seconds + 100 * 9.0
    s = wc.predict_method("sync_nigt", H124, **kw)
    assert s.total_seconds == 101 * 5.0  # M_init and M are not used: K + 1 rounds
    a = wc.predict_method("afedpg", H124, **kw)
    assert a.total_seconds == wc.greedy_update_time(H124.h, H124.kappa, 100)
    assert a.iterations_explicit is None and a.total_seconds_explicit is None


def test_default_iterations_are_the_theorem_counts():
    from theory.iterations import afedpg_updates, nigt_iterations, sync_iterations
    from theory.parameters import batch_sizes

    M, M_init = batch_sizes(0.1, 1, 1, 1, 1)
    r = wc.predict_method("rennala_nigt", H124, eps=0.1)
    counts = nigt_iterations(0.1, 1, 1, 1, 1, M, M_init)
    assert (r.M, r.M_init, r.iterations, r.iterations_explicit) == (M, M_init, counts.T,
                                                                  counts.T_explicit)
    assert r.total_seconds_explicit == r.init_seconds + counts.T_explicit * r.round_seconds
    assert wc.predict_method("sync_nigt", H124, eps=0.1).iterations == sync_iterations(
        3, 1, 0.1, 1, 1, 1, 1).T
    assert wc.predict_method("afedpg", H124, eps=0.1).iterations == afedpg_updates(3, 0.1).T


def test_random_rounds_statistics_one_agent():
    # One agent, exponential times: a Rennala round of M gradients lasts the sum of M
    # Exp(h) durations: mean M h, std sqrt(M) h. Tolerance: 4 standard errors of the mean
    # over R rounds (seeded, so the test is deterministic).
    c = ClusterSpec([2.0], [0.0], "exponential")
    R, M = 400, 25
    r = wc.round_seconds("rennala_nigt", c, M, seed=1, rounds=R)
    assert r.samples.size == R
    assert abs(r.mean - M * 2.0) <= 4 * math.sqrt(M) * 2.0 / math.sqrt(R)
    assert r.std == pytest.approx(math.sqrt(M) * 2.0, rel=0.2)
    again = wc.round_seconds("rennala_nigt", c, M, seed=1, rounds=R)
    assert np.array_equal(again.samples, r.samples)  # same seed, same rounds, bit for bit
    other = wc.round_seconds("rennala_nigt", c, M, seed=2, rounds=R)
    assert not np.array_equal(other.samples, r.samples)


def test_random_afedpg_gaps_match_the_renewal_rate():
    # kappa = 0 and exponential times: each agent is a Poisson process of rate 1/h_i, so
    # the gaps between updates are i.i.d. Exp(sum_i 1/h_i): their mean is the long-run gap
    # within 4 standard errors (std = mean for an exponential).
    c = ClusterSpec([1.0, 2.0, 4.0], [0.0, 0.0, 0.0], "exponential")
    r = wc.round_seconds("afedpg", c, seed=3, rounds=2000)
    rate = 1 + 1 / 2 + 1 / 4
    assert r.mean == 1 / rate
    assert abs(r.samples.mean() - 1 / rate) <= 4 * (1 / rate) / math.sqrt(r.samples.size)


def test_random_totals_and_spread():
    c = ClusterSpec([1.0, 2.0, 4.0], [0.5] * 3, "lognormal", {"log_sigma": 0.4})
    r = wc.predict_method("rennala_nigt", c, eps=0.1, M=10, M_init=20, iterations=50,
                          rounds=40, seed=7)
    assert r.rounds_simulated == 40 and r.round_seconds_std > 0
    assert r.total_seconds == pytest.approx(r.init_seconds + 50 * r.round_seconds)
    init_std = wc.round_seconds("rennala_nigt", c, 20, rounds=40,
                                seed=int(np.random.SeedSequence(7).spawn(2)[1]
                                         .generate_state(1)[0])).std
    spread = math.sqrt(init_std**2 + 50 * r.round_seconds_std**2)
    assert r.total_seconds_std == pytest.approx(spread)
    a = wc.predict_method("afedpg", c, eps=0.1, iterations=50, rounds=40, seed=7)
    assert a.total_seconds == pytest.approx(50 * a.round_seconds) and a.total_seconds_std is None
    assert wc.predict_method("rennala_nigt", c, eps=0.1, M=10, M_init=20, iterations=50,
                             rounds=40, seed=7) == r


def test_limits_are_refused_up_front():
    with pytest.raises(ValueError, match="M: a rennala_nigt round of 3000000 gradients"):
        wc.round_seconds("rennala_nigt", H124, 3_000_000)
    with pytest.raises(ValueError, match="iterations"):
        wc.predict_method("rennala_nigt", H124, eps=0.1, iterations=10**16)
    with pytest.raises(ValueError, match="rounds"):
        wc.round_seconds("rennala_nigt", ClusterSpec([1.0], [0.0], "exponential"), 2,
                         rounds=10**6)
    with pytest.raises(ValueError, match="method"):
        wc.round_seconds("fedavg", H124, 2)


def test_json_entries_are_strict():
    import json

    out = {m: r.to_json() for m, r in wc.predict_wallclock(H124, eps=0.1).items()}
    text = json.dumps(out, allow_nan=False)
    for m in wc.WALLCLOCK_METHODS:
        assert {"round_seconds", "round_seconds_std", "bound_seconds", "iterations",
                "total_seconds"} <= set(json.loads(text)[m])


def test_default_rounds_bound_the_simulated_work():
    assert [wc.default_rounds(n) for n in (1, 10_000, 20_000, 10**5, 10**6)] == [
        100, 100, 50, 10, 10]


@settings(max_examples=60)
@given(h=computation_times(max_n=8, max_spread=50.0),
       kappa=st.lists(st.floats(0.0, 5.0, allow_nan=False), min_size=8, max_size=8),
       M=st.integers(1, 60))
def test_fixed_rounds_within_the_bounds_with_per_agent_kappa(h, kappa, M):
    # Per-agent kappa_i <= max_i kappa_i: agents start no later and upload no slower than
    # with one kappa = max, so each round stays within its bound (kappa = max_i kappa_i).
    c = ClusterSpec(h, kappa[: h.size])
    for method in ("rennala_nigt", "malenia_nigt", "sync_nigt"):
        bound = wc.round_bound(method, c, M)[0]
        assert wc.round_seconds(method, c, M).mean <= bound * (1 + 1e-12)
    # AFedPG's K-th update lies between K and K + n times the long-run gap 1/S
    gap = wc.round_seconds("afedpg", c).mean
    K = 3 * M
    t_K = wc.greedy_update_time(c.h, c.kappa, K)
    # (sum_i floor(t/c_i) >= K needs t >= K / S; and t = (K + n)/S is always enough)
    assert K * gap * (1 - 1e-12) <= t_K <= (K + c.n) * gap * (1 + 1e-12)


@pytest.mark.parametrize("method", ["rennala_nigt", "malenia_nigt", "sync_nigt", "afedpg"])
def test_run_timeline_is_the_clock_of_apga_train(method):
    # Same run seed, same timing model: the plan-only timeline ends every iteration at the
    # time a real simulated run (oracle, updates, records) records, bit for bit.
    from algorithms.methods.registry import get
    from algorithms.run import run_method
    from algorithms.tabular.setting import TabularSetting

    setting = TabularSetting(n=3, h="1,2,4", kappa="0.5,0.25,1", timing="lognormal",
                             timing_options={"log_sigma": 0.4}, S=4, A=2, H=5)
    oracle, clock, rng, theta0 = setting.build(seed=11)
    hyper = {"M": 5, "M_init": 8} if method in ("rennala_nigt", "malenia_nigt") else {}
    res = run_method(get(method), oracle, clock, rng, theta0, hyper=hyper, max_iters=12)
    c = ClusterSpec([1.0, 2.0, 4.0], [0.5, 0.25, 1.0], "lognormal", {"log_sigma": 0.4})
    tl = wc.run_timeline(method, c, 12, M=5, M_init=8, run_seed=11)
    assert [r.time for r in res.records] == tl.ends.tolist()
    assert tl.durations.sum() == pytest.approx(tl.ends[-1])


def test_run_timeline_fixed_matches_the_prediction():
    tl = wc.run_timeline("rennala_nigt", H124, 100, M=10, M_init=20)
    assert tl.durations[0] == 13.0 and set(tl.durations[1:]) == {7.0}
    assert tl.ends[-1] == wc.predict_method("rennala_nigt", H124, eps=0.1, M=10, M_init=20,
                                            iterations=100).total_seconds
    a = wc.run_timeline("afedpg", H124, 16)
    assert a.ends[1:].tolist() == [2, 3, 4, 5, 6, 6, 8, 9, 10, 10, 12, 12, 14, 15, 15, 16]
