"""The simulated clock: construction, broadcast semantics, arrivals, checkpoints."""

import pickle

import numpy as np
import pytest

from algorithms.aggregation import plan_malenia, plan_rennala
from algorithms.sim import timing as tm
from algorithms.sim.clock import SimClock, make_clock


def test_make_clock_forms():
    c = make_clock("sqrt", 0.5, n=4)
    assert c.n == 4 and c.now == 0.0 and c.iteration == 0
    np.testing.assert_allclose(c.h_at(), np.sqrt([1, 2, 3, 4]))
    np.testing.assert_array_equal(c.kappa, [0.5] * 4)
    c = make_clock([1.0, 2.0], [0.0, 3.0], timing="uniform", jitter=0.1)
    assert c.options == {"jitter": 0.1}
    np.testing.assert_array_equal(c.kappa, [0.0, 3.0])


@pytest.mark.parametrize("kwargs, msg", [
    ({"h": [1.0, -1.0]}, "h must be > 0"),
    ({"h": [1.0, np.nan]}, "h must not contain NaN"),
    ({"h": [1.0, 2.0], "kappa": [1.0, 2.0, 3.0]}, "length mismatch: kappa"),
    ({"h": [1.0, 2.0], "kappa": np.nan}, "kappa must not contain NaN"),
    ({"h": [1.0], "timing": "weibull"}, "timing: unknown value 'weibull'"),
    ({"h": [1.0], "seed": -1}, "seed must be an integer >= 0"),
    ({"h": [1.0, 2.0], "fail_at": [1.0]}, "length mismatch: fail_at has 1"),
    ({"h": [1.0], "join_at": [-1.0]}, "join_at must be >= 0"),
    ({"h": lambda t: [1.0]}, "n: a callable h needs"),
    ({"h": [[1.0, 2.0]], "n": 3}, "length mismatch: h has 2 columns"),
])
def test_make_clock_bad_input_names_parameter(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        make_clock(**kwargs)


def test_broadcast_end_join_and_fail():
    c = make_clock([1.0, 1.0, 1.0], [0.5, 1.0, 2.0], join_at=[0.0, 4.0, 0.0],
                   fail_at=[np.inf, np.inf, 1.5])
    c.now = 2.0
    # s_i = max(now, join_i) + kappa_i; an agent failed by then never holds theta
    np.testing.assert_array_equal(c.broadcast_end(2.0), [2.5, 5.0, np.inf])


def test_fixed_arrivals_are_exact_products():
    c = make_clock([0.1, 0.3], 0.0)
    s = np.array([0.0, 1.0])
    a, k, t = c.arrivals(0, c.h_at(), s, 1.6)
    # agent 0: k*0.1 <= 1.6 for k = 1..16 (as floats); agent 1: 1 + k*0.3 <= 1.6, k = 1, 2
    assert a.tolist() == [0] * 16 + [1] * 2
    assert k.tolist() == list(range(1, 17)) + [1, 2]
    assert t[15] == 16 * 0.1 and t[-1] == 1.0 + 2 * 0.3


def test_fail_at_cuts_arrivals():
    c = make_clock([1.0], 0.0, fail_at=[3.0])
    a, k, t = c.arrivals(0, c.h_at(), np.array([0.0]), 10.0)
    assert t.tolist() == [1.0, 2.0]  # the computation finishing at 3.0 = fail_at never returns


@pytest.mark.parametrize("timing", ["exponential", "lognormal", "uniform"])
def test_random_arrivals_are_sequential_sums_of_the_draws(timing):
    c = make_clock([0.5, 2.0, 1.0], 0.0, timing=timing)
    h, s, key = c.h_at(), np.array([0.0, 1.0, 3.0]), 99
    a, k, t = c.arrivals(key, h, s, 20.0)
    for i in range(3):
        ti = t[a == i]
        d = c.durations(key, h, np.full(ti.size + 1, i), np.arange(ti.size + 1))
        acc, expect = float(s[i]), []
        for x in d:  # the heap loop's sequential additions
            acc = acc + float(x)
            expect.append(acc)
        assert ti.tolist() == expect[:-1] and expect[-1] > 20.0
        assert k[a == i].tolist() == list(range(1, ti.size + 1))


def test_time_varying_rows_select_by_iteration():
    rows = np.array([[1.0, 1.0], [2.0, 4.0]])
    c = make_clock(rows, 0.0)
    assert c.time_varying
    r0 = plan_rennala(c, 4)  # iteration 0: h = (1, 1): 2 each by t = 2
    r1 = plan_rennala(c, 3)  # iteration 1: h = (2, 4): arrivals 2, 4, 4 -> t_exit = 4
    r2 = plan_rennala(c, 3)  # iterations >= T reuse the last row
    assert (r0.t_exit - r0.start, r1.t_exit - r1.start, r2.t_exit - r2.start) == (2.0, 4.0, 4.0)
    assert (r0.iteration, r1.iteration, c.iteration) == (0, 1, 3)


def test_callable_h():
    c = make_clock(lambda t: [1.0 + t, 10.0], 0.0, n=2)
    assert [plan_rennala(c, 2).duration for _ in range(3)] == [2.0, 4.0, 6.0]
    with pytest.raises(ValueError, match="callable h"):
        SimClock.from_state_dict({"config": None})
    bad = make_clock(lambda t: [1.0], 0.0, n=2)
    with pytest.raises(ValueError, match=r"length mismatch: h\(0\) has 1"):
        bad.h_at()


def _two_rounds(clock):
    return [plan_rennala(clock, 50).to_dict(), plan_malenia(clock, 30).to_dict()]


@pytest.mark.parametrize("timing", ["fixed", "exponential"])
def test_state_dict_roundtrip(timing):
    c = make_clock("sqrt", "sqrt", n=6, timing=timing, seed=5, fail_at=[np.inf] * 5 + [1e9])
    plan_rennala(c, 20)
    snap = c.state_dict()
    after = _two_rounds(c)
    restored = SimClock.from_state_dict(snap)
    assert _two_rounds(restored) == after
    again = make_clock("sqrt", "sqrt", n=6, timing=timing, seed=5, fail_at=[np.inf] * 5 + [1e9])
    again.load_state_dict(snap)
    assert _two_rounds(again) == after


def test_pickle_keeps_generator_state():
    c = make_clock([1.0, 3.0], 0.2, timing="lognormal", seed=2)
    plan_rennala(c, 5)
    copy = pickle.loads(pickle.dumps(c))
    assert _two_rounds(copy) == _two_rounds(c)


def test_timeline_independent_of_oracle_rng():
    from algorithms.aggregation import aggregate_rennala
    from algorithms.synthetic import GaussianOracle

    oracle = GaussianOracle(np.zeros((2, 3)), 1.0)
    recs = []
    for oracle_seed in (0, 1):
        c = make_clock([1.0, 2.0], 0.0, timing="exponential", seed=4)
        rng = np.random.default_rng(oracle_seed)
        recs.append([aggregate_rennala(np.zeros(3), 10, oracle, c, rng)[1].to_dict()
                     for _ in range(3)])
    assert recs[0] == recs[1]


# --- the empirical timing model: measured samples resampled per agent -------------------
def _empirical_clock(seed=3, h=(2.0, 4.0), samples=((1.0, 2.0, 3.0), (5.0, 15.0))):
    return make_clock(list(h), 0.0, timing="empirical", samples=[list(s) for s in samples],
                      seed=seed)


def test_empirical_durations_are_the_samples_picked_by_the_counter_uniforms():
    # by hand: agent 0's ratios are (1, 2, 3)/2, agent 1's (5, 15)/10; the j-th sample is
    # picked by j = floor(u L_i) with u the counter uniform of (key, agent, k)
    c = _empirical_clock()
    key = 12345
    ks = np.arange(6)
    for i, (h, ratios) in enumerate(((2.0, [0.5, 1.0, 1.5]), (4.0, [0.5, 1.5]))):
        u = tm.counter_uniform(key, np.full(6, i), ks)
        j = np.floor(u * len(ratios)).astype(int)
        expect = [h * ratios[x] for x in j]
        got = c.durations(key, c.h_at(), np.full(6, i), ks)
        assert got.tolist() == expect


def test_empirical_rounds_are_seeded_and_exact():
    a, b = _empirical_clock(seed=7), _empirical_clock(seed=7)
    ra = [plan_rennala(a, 9).to_dict() for _ in range(5)]
    rb = [plan_rennala(b, 9).to_dict() for _ in range(5)]
    assert ra == rb  # same seed: the same rounds, bit for bit
    other = [plan_rennala(_empirical_clock(seed=8), 9).to_dict() for _ in range(5)]
    assert other != ra
    # every duration is one of the samples scaled to h_i: arrivals are sums of them
    c = _empirical_clock(seed=7)
    key = c.new_key()
    a_, _k, t = c.arrivals(key, c.h_at(), np.zeros(2), 30.0)
    for i, allowed in ((0, {1.0, 2.0, 3.0}), (1, {2.0, 6.0})):
        gaps = np.diff(np.concatenate([[0.0], t[a_ == i]]))
        assert set(np.round(gaps, 12)) <= allowed


def test_empirical_draws_every_sample_equally_often_with_mean_h():
    samples = [[1.0, 2.0, 6.0, 7.0], [0.3, 0.9]]
    c = make_clock([3.0, 1.0], 0.0, timing="empirical", samples=samples, seed=0)
    d = c.durations(99, c.h_at(), np.repeat([0, 1], 40_000), np.tile(np.arange(40_000), 2))
    d0, d1 = d[:40_000], d[40_000:]
    # agent 0: ratios (1, 2, 6, 7)/4 times h = 3: each value 1/4 of the time
    vals, counts = np.unique(d0, return_counts=True)
    np.testing.assert_allclose(vals, [0.75, 1.5, 4.5, 5.25])
    np.testing.assert_allclose(counts / 40_000, 0.25, atol=0.01)
    assert abs(d0.mean() - 3.0) < 0.05 and abs(d1.mean() - 1.0) < 0.02


def test_empirical_follows_a_time_varying_h_and_survives_checkpoints():
    rows = np.array([[1.0, 1.0], [2.0, 2.0]])
    c = make_clock(rows, 0.0, timing="empirical", samples=[[1.0, 3.0], [2.0, 2.0]], seed=1)
    r0 = plan_rennala(c, 4)
    snap = c.state_dict()
    after = _two_rounds(c)
    assert snap["config"]["samples"] == [[1.0, 3.0], [2.0, 2.0]]
    assert _two_rounds(SimClock.from_state_dict(snap)) == after
    # agent 1's samples are equal: every duration is exactly h_1 (1 then 2)
    assert r0.counts[1] >= 1
    assert plan_rennala(make_clock(rows, 0.0, timing="empirical", samples=[[5.0], [5.0]]),
                        2).t_exit == 1.0


@pytest.mark.parametrize("kwargs, msg", [
    ({"timing": "empirical"}, "samples: timing 'empirical' needs"),
    ({"timing": "fixed", "samples": [[1.0], [1.0]]}, "samples: only for timing 'empirical'"),
    ({"timing": "empirical", "samples": [[1.0]]}, "length mismatch: samples has 1 agents"),
    ({"timing": "empirical", "samples": [[1.0], [0.0]]}, r"samples\[1\] must be > 0"),
    ({"timing": "empirical", "samples": [[1.0], []]}, r"samples\[1\] must not be empty"),
    ({"timing": "empirical", "samples": [[1.0], [float("nan")]]}, "NaN"),
    ({"timing": "empirical", "samples": 3}, "one list of durations per agent"),
])
def test_empirical_bad_input_names_samples(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        make_clock([1.0, 2.0], 0.0, **kwargs)


def test_empirical_without_samples_is_refused_by_durations():
    with pytest.raises(ValueError, match="empirical needs the measured samples"):
        tm.durations("empirical", {}, np.ones(1), 1, np.zeros(1), np.zeros(1))
