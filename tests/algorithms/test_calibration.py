"""From what calibrate measured to a cluster file and its cost file
(algorithms.wallclock.calibration).

The likelihoods are checked against scipy.stats (an independent implementation); the model
choice against samples drawn from each model with a fixed seed."""

import numpy as np
import pytest
from scipy import stats

from algorithms.wallclock.calibration import (
    FIXED_CV,
    _Emulated,
    cluster_from_cost,
    cost_from_calibration,
    fit_timing,
    pattern_samples,
    step_fit,
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


@pytest.mark.parametrize("bad", [[[0.1]], [[0.1, -1.0]], [[0.1, float("nan")]], [[]]])
def test_too_few_or_bad_samples_name_the_agent(bad):
    with pytest.raises(ValueError, match="samples: agent 0"):
        fit_timing(bad)


def _call(r, k, start, end, done=True, length=30, phase="p"):
    return [phase, r, k, start, end, done, length]


def test_pattern_samples_by_hand():
    # round 0: gradients start at 0.0, 1.5, 2.5 (the third ends at 3.0); round 1: one
    # gradient 10.0 -> 10.4, then one from 10.5, interrupted. A gradient lasts until the
    # next starts (10.5 - 10.0); a round's last one lasts its own duration (at least its
    # emulated one).
    calls = [_call(0, 0, 0.0, 1.0, length=20), _call(0, 1, 1.5, 2.4, length=10),
             _call(0, 2, 2.5, 3.0), _call(1, 0, 10.0, 10.4), _call(1, 1, 10.5, 10.6, False)]
    s, L, per_round = pattern_samples(calls, 0, _Emulated(None, 0), server=False)
    np.testing.assert_allclose(s, [1.5, 1.0, 0.5, 0.5])
    assert L == [20, 10, 30, 30] and per_round == {0: [20, 10, 30], 1: [30]}
    # emulated h = 0.9 s (fixed) for agent 0: the lone gradients last at least 0.9 s; in
    # server mode each also waits its upload kappa = 0.25 s
    emu = _Emulated({"h": [0.9], "kappa": [0.25], "timing": "fixed", "options": {}}, 0)
    s, _, _ = pattern_samples(calls, 0, emu, server=True)
    np.testing.assert_allclose(s, [1.5, 1.0, 0.9 + 0.25, 0.5])


def test_step_fit_by_hand():
    # t = 0.002 + 0.001 L exactly: least squares recovers both
    L = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    c0, c1, how = step_fit(0.002 + 0.001 * L, L)
    assert how == "least squares"
    assert c0 == pytest.approx(0.002) and c1 == pytest.approx(0.001)
    # equal lengths (tabular: always H): proportional, c1 = mean t / mean L
    assert step_fit([0.3, 0.5], [30, 30]) == (0.0, pytest.approx(0.4 / 30), "proportional")
    with pytest.raises(ValueError, match="lengths"):
        step_fit([0.1], [0])


def _calibration(n=2, mode="allreduce"):
    """A calibration.json by hand: agent i's gradients alone take 1 ms (i = 0) and 2 ms
    (i = 1); inside rennala rounds 1.5 and 2.5 ms."""
    def pure(i, dt):
        return [_call(0, k, k * dt, (k + 1) * dt) for k in range(4)]

    def rounds(i, dt):
        return [_call(r, k, 100 * r + k * dt, 100 * r + (k + 1) * dt) for r in range(2)
                for k in range(3)]

    rr = [{"start": 0.0, "t_exit": 0.01, "end": 0.011}, {"start": 0.012, "t_exit": 0.02,
                                                         "end": 0.0215}]
    return {
        "mode": mode, "n": n, "dim": 30, "env": "tabular", "horizon": 30,
        "repetitions": 4, "warmup": 1, "seed": 0, "emulated": None, "hosts": ["a", "b"],
        "pure": [pure(0, 0.001), pure(1, 0.002)],
        "ticket": [{"rennala": [1e-4, 3e-4], "malenia": [5e-4]},
                   {"rennala": [2e-4], "malenia": [6e-4, 8e-4]}],
        "collectives": {"all_reduce": [{"agents": 2, "floats": 39, "seconds": [0.3e-3, 0.1e-3,
                                                                               0.2e-3]},
                                       {"agents": 2, "floats": 1, "seconds": [0.1e-3]}],
                        "broadcast": {"agents": 2, "floats": 39, "seconds": [0.2e-3]}},
        "stop": [[], [0.001, 0.003, 0.002]],
        "messages": [[], [0.004, 0.002, 0.006]],
        "patterns": {"rennala": {"method": "rennala_nigt", "hyper": {"M": 8},
                                 "iterations": 1, "rounds": rr, "first_round": 0}},
        "calls": [{"rennala": rounds(0, 0.0015)}, {"rennala": rounds(1, 0.0025)}],
        "pilot": None, "torch": "x",
    }


def test_cost_file_and_cluster_file_by_hand():
    cost = cost_from_calibration(_calibration(), {"host": "h"})
    g = cost["gradient"]
    assert g["source"] == "rennala rounds"
    np.testing.assert_allclose([np.mean(s) for s in g["seconds"]], [0.0015, 0.0025])
    np.testing.assert_allclose([np.mean(s) for s in g["pure_seconds"]], [0.001, 0.002])
    rp = cost["patterns"]["rennala"]
    np.testing.assert_allclose(rp["rounds"], [0.011, 0.0095])
    np.testing.assert_allclose(rp["exits"], [0.01, 0.008])
    np.testing.assert_allclose(rp["gaps"], [0.001])
    assert cost["ticket"]["malenia"]["seconds"] == [[5e-4], [6e-4, 8e-4]]
    assert cost["all_reduce"][0]["seconds"] == pytest.approx(0.2e-3)  # the median
    cluster, fit = cluster_from_cost(cost)
    np.testing.assert_allclose(cluster.h, [0.0015, 0.0025])
    # kappa: the median all_reduce of the round's buffer (30 + 4 x 2 + 1 floats), 2 agents
    np.testing.assert_allclose(cluster.kappa, [0.2e-3, 0.2e-3])
    assert fit.timing == "fixed"  # every sample equal to its agent's mean
    # server mode: kappa_i = half agent i's median round trip
    srv = _calibration(mode="server")
    srv["messages"] = [[0.002, 0.004], [0.006]]
    srv["calls"] = [{"server": c["rennala"]} for c in srv["calls"]]
    srv["patterns"]["rennala"]["last_round"] = 5
    cluster, _ = cluster_from_cost(cost_from_calibration(srv, {}))
    np.testing.assert_allclose(cluster.kappa, [0.0015, 0.003])


def test_a_patterns_windows_are_pooled_into_one_entry():
    """calibrate measures each pattern in PASSES windows ("rennala", "rennala#2"): one
    cost entry, samples and rounds pooled, the later window's first (M_init) round left
    out, the rounds per window recorded; the cost model reads the windows' spread."""
    from algorithms.backends.distributed.calibrate import PASSES
    from algorithms.wallclock.cost import CostModel

    assert PASSES == 2
    data = _calibration()
    second = [{"start": 1.0, "t_exit": 1.02, "end": 1.03},  # its M_init round
              {"start": 1.031, "t_exit": 1.05, "end": 1.052},
              {"start": 1.054, "t_exit": 1.07, "end": 1.075}]
    data["patterns"]["rennala#2"] = {"method": "rennala_nigt", "hyper": {"M": 8},
                                     "iterations": 2, "rounds": second, "first_round": 0}
    for c in data["calls"]:
        c["rennala#2"] = [_call(r, k, 100 * r + k * 0.004, 100 * r + (k + 1) * 0.004)
                          for r in range(3) for k in range(2)]
    cost = cost_from_calibration(data, {})
    rp = cost["patterns"]
    assert set(rp) == {"rennala"}
    r = rp["rennala"]
    np.testing.assert_allclose(r["rounds"], [0.011, 0.0095, 0.021, 0.021])
    np.testing.assert_allclose(r["gaps"], [0.001, 0.001, 0.002])
    assert r["passes"] == [1, 2] and r["iterations"] == 3
    # agent 0: 6 samples of 1.5 ms from the first window, 6 of 4 ms from the second
    assert len(r["seconds"][0]) == 12
    np.testing.assert_allclose(sorted(set(np.round(r["seconds"][0], 6))), [0.0015, 0.004])
    cost["gradient"]["step_seconds"] = [1e-4, 1e-4]
    m = CostModel.from_dict({**cost, "format": "apga-cost", "version": 1})
    assert m.patterns["rennala"].passes == (1, 2)
    bad = {**cost, "patterns": {"rennala": {**r, "passes": [1, 1]}}}
    with pytest.raises(ValueError, match="patterns.rennala.passes"):
        CostModel.from_dict(bad)


def test_the_spread_is_the_larger_of_blocks_and_windows():
    from algorithms.wallclock.cost import CostModel

    cost = cost_from_calibration(_calibration(), {})
    # 12 rounds after the first, two windows of 6 with means 1 and 1.5 s; the 5 blocks
    # (3, 3, 2, 2, 2 rounds) mix them and spread less
    x = [1.0] * 6 + [1.5] * 6
    cost["patterns"]["rennala"].update(rounds=[9.0] + x, exits=[0.0] * 13, gaps=[0.0] * 12,
                                       passes=[6, 6])
    m = CostModel.from_dict(cost)
    c, b = m.spread("rennala")
    blocks = [np.mean(v) for v in np.array_split(np.array(x), 5)]
    by_blocks = np.std(blocks, ddof=1) / np.mean(blocks)
    by_windows = np.std([1.0, 1.5], ddof=1) / 1.25
    assert by_windows > by_blocks
    assert c == pytest.approx(by_windows) and b == pytest.approx(sum(x) / 5)
    cost["patterns"]["rennala"]["passes"] = []  # one window: the blocks only
    assert CostModel.from_dict(cost).spread("rennala")[0] == pytest.approx(by_blocks)


def test_a_pilots_lengths_keep_their_iterations():
    """A pilot's per-iteration mean lengths, each with its iteration counted from the
    pilot's first round: a round of which no gradient finished (here round 6, whose only
    call was interrupted) has no entry, and the later ones keep their place."""
    data = _calibration()
    data["pilots"] = [{"method": "rennala_nigt", "hyper": {"M": 2}, "iterations": 2,
                       "key": "pilot:rennala_nigt", "rounds": [
                           {"start": 0.0, "t_exit": 0.01, "end": 0.011}]}]
    lengths = {5: (10, 14), 6: None, 7: (20, 30)}  # rounds 5..7 of the calibration
    for i, c in enumerate(data["calls"]):
        calls = []
        for r, L in lengths.items():
            if L is None:
                calls.append(_call(r, 0, 100 * r, 100 * r + 0.5, done=False, length=None))
            else:
                calls.append(_call(r, 0, 100 * r, 100 * r + 0.001, length=L[i]))
        c["pilot:rennala_nigt"] = calls
    (pilot,) = cost_from_calibration(data, {})["pilots"]
    assert pilot["lengths"] == [12.0, 25.0] and pilot["length_iterations"] == [0, 2]
