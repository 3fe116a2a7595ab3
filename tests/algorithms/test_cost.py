"""The cost model (algorithms.wallclock.cost): rounds composed from measured primitives,
against hand computations for each method and mode."""

import numpy as np
import pytest

from algorithms.wallclock.cost import CostModel, predict_run, round_cost


def _cost(mode="allreduce", rounds=None, lengths=None, horizon=30, pilot=None,
          seconds=((1.0,) * 6, (2.0,) * 6), step=None):
    """A cost file by hand: agent 0 takes 1 s per gradient, agent 1 2 s (every sample
    equal: fixed times), all_reduce of the round's buffer 0.1 s, ticket 0.05 s, stop
    0.2 s, a message 0.1 s (round trip 0.2 s), 0.01 s between rounds."""
    n = len(seconds)
    L = lengths or [[horizon] * len(s) for s in seconds]
    pat = {"method": "x", "hyper": {"M": 3, "batch": 1}, "iterations": 1,
           "seconds": [list(s) for s in seconds], "lengths": L, "rounds": rounds or [],
           "exits": [], "gaps": [0.01, 0.01]}
    pats = {p: dict(pat) for p in ("rennala", "malenia", "synchronized", "greedy")}
    mean = [float(np.mean(s)) for s in seconds]
    return {
        "format": "apga-cost", "version": 1, "mode": mode, "n": n, "dim": 30,
        "horizon": horizon, "env": "tabular",
        "gradient": {"seconds": pat["seconds"], "lengths": L,
                     "pure_seconds": pat["seconds"], "pure_lengths": L,
                     "fixed_seconds": [0.0] * n,
                     "step_seconds": step or [m / float(np.mean(x))
                                              for m, x in zip(mean, L, strict=True)]},
        "ticket": {"rennala": {"seconds": [[0.05]] * n},
                   "malenia": {"seconds": [[0.05]] * n}},
        "all_reduce": [{"agents": 2, "floats": 1, "seconds": 0.05},
                       {"agents": 2, "floats": 30 + 4 * 2 + 1, "seconds": 0.1},
                       {"agents": 2, "floats": 1039, "seconds": 0.2}],
        "stop": {"seconds": [[]] + [[0.1, 0.2, 0.3]] * (n - 1)},
        "messages": {"floats": 33, "round_trip": [[0.2, 0.2]] * n},
        "patterns": pats, "pilots": [pilot] if pilot else [],
    }


def model(**kw):
    return CostModel.from_dict(_cost(**kw))


def test_allreduce_rounds_by_hand():
    m = model()
    # Rennala, M = 3: finishes a0 1, 2, 3; a1 2. Each agent's clerk registers 0.05 s after
    # a finish: 1.05 (a0), 2.05 (a0), 2.05 (a1) -> the 3rd at 2.05; then the stop signal
    # (median of the others' latencies, 0.2) and one all_reduce (0.1): 2.35 s.
    r = round_cost(m, "rennala_nigt", M=3)
    assert r.mean == pytest.approx(2.35) and r.std == pytest.approx(0.0, abs=1e-12)
    assert (r.pattern, r.mode, r.gap, r.terms["residual"]) == ("rennala", "allreduce",
                                                               0.01, 0.0)
    # Malenia, M = 4, n = 2: exit when sum_i 1/M_i <= 1 (n^2 >= M sum_i 1/M_i). In
    # registration order 1.05 a0, 2.05 a0, 2.05 a1 (1/2 + 1), 3.05 a0 (1/3 + 1), 4.05 a0
    # (1/4 + 1), 4.05 a1 (1/4 + 1/2 <= 1): exit 4.05 + 0.2 + 0.1 = 4.35.
    assert round_cost(m, "malenia_nigt", M=4).mean == pytest.approx(4.35)
    # Synchronized NIGT, b = 1: the slowest agent (2 s) + one all_reduce; no ticket, no stop
    r = round_cost(m, "sync_nigt")
    assert r.mean == pytest.approx(2.1) and set(r.terms) == {"computation", "all_reduce",
                                                             "residual"}
    assert round_cost(m, "sync_nigt", batch=3).mean == pytest.approx(6.1)
    # one agent: no stop, the all_reduce of one agent is free (nothing emulated)
    assert round_cost(m, "rennala_nigt", M=3, agents=[0]).mean == pytest.approx(3.05)


def test_server_rounds_by_hand():
    m = model(mode="server")
    # a message: half the 0.2 s round trip = 0.1 s. The server sends theta to a0 then a1:
    # a0 holds it at 0.1, a1 at 0.2; each gradient arrives one message later. Rennala M = 3:
    # arrivals a0 1.2, 2.2, 3.2; a1 2.3 -> 2.3 s.
    r = round_cost(m, "rennala_nigt", M=3)
    assert r.mean == pytest.approx(2.3) and r.mode == "server"
    assert round_cost(m, "sync_nigt").mean == pytest.approx(0.2 + 2.0 + 0.1)
    # AFedPG: agent i cycles receive 0.1 + compute h_i + send 0.1: one update every
    # 1 / (1/1.2 + 1/2.2) s in the long run (renewal-reward)
    g = round_cost(m, "afedpg")
    assert g.pattern == "greedy" and g.gradients == 1
    assert g.mean == pytest.approx(1 / (1 / 1.2 + 1 / 2.2), rel=0.02)
    # an AllReduce file predicts server mode from its messages too, and vice versa
    assert round_cost(model(), "rennala_nigt", M=3, mode="server").mean == pytest.approx(2.3)
    with pytest.raises(ValueError, match="mode: afedpg runs in server mode"):
        round_cost(m, "afedpg", mode="allreduce")


def test_residual_is_what_the_calibration_rounds_took_beyond_the_composed_round():
    # the calibration's rennala rounds (M = 3) took 2.35 + 0.4 s (the first is dropped)
    m = model(rounds=[9.0, 2.75, 2.75, 2.75])
    r = round_cost(m, "rennala_nigt", M=3)
    assert r.terms["residual"] == pytest.approx(0.4) and r.mean == pytest.approx(2.75)
    # the residual is per round: it is added at another M too (M = 5: a0 4.05, a1 4.05)
    assert round_cost(m, "rennala_nigt", M=5).mean == pytest.approx(4.05 + 0.3 + 0.4)


def test_all_reduce_interpolates_in_floats_and_agents():
    m = model()
    assert m.all_reduce_seconds(39, 2) == pytest.approx(0.1)
    assert m.all_reduce_seconds(539, 2) == pytest.approx(0.15)  # halfway 39 .. 1039
    assert m.all_reduce_seconds(2039, 2) == pytest.approx(0.3)  # the last slope beyond
    assert m.all_reduce_seconds(39, 4) == pytest.approx(0.3)  # ring: (4 - 1)/(2 - 1)
    assert m.all_reduce_seconds(39, 1) == 0.0


def test_run_totals_follow_algorithm_1():
    m = model()
    p = predict_run(m, "rennala_nigt", 10, M=3, M_init=5)
    # M_init round (4.35 + 0.01 gap), then 10 rounds of (2.35 + 0.01); tabular: H steps
    assert p.init_seconds == pytest.approx(4.05 + 0.3 + 0.01)
    assert p.total_seconds == pytest.approx(4.36 + 10 * 2.36)
    assert p.point_source.startswith("every trajectory has H steps")
    # fixed times, lengths cannot move: the interval is the drift margin around the point
    assert p.total_seconds_low == pytest.approx(p.total_seconds * 0.95)
    assert p.total_seconds_high == pytest.approx(p.total_seconds * 1.05)
    s = predict_run(m, "sync_nigt", 10)
    assert s.total_seconds == pytest.approx(11 * (2.1 + 0.01))


def test_lengths_move_the_prediction_between_measured_and_the_horizon():
    # MuJoCo-like: trajectories of 10 steps measured (0.1 s per step: 1 s and 2 s per
    # gradient at 10 and 20 steps), H = 40: at H every gradient is 4x (a0) and 2x (a1)
    L = [[10] * 6, [20] * 6]
    m = model(lengths=L, horizon=40, step=[0.1, 0.1])
    low = predict_run(m, "sync_nigt", 4)
    assert low.total_seconds == pytest.approx(5 * 2.11)
    assert low.point_source == "lengths as measured (no pilot)"
    assert low.total_seconds_high == pytest.approx(5 * (4.1 + 0.01) * 1.05)
    # a pilot: mean lengths 15, 17, 19 over 3 iterations at alpha 0.1 (too short to
    # smooth) at distances 0, 0.1, 0.2; a run at alpha 0.05 covers them in 4 iterations:
    # 15, 16, 17, 18, 19 (times 1/15 the measured mean length, 15, pooled over the agents)
    pilot = {"method": "sync_nigt", "hyper": {"alpha": 0.1}, "iterations": 3,
             "lengths": [15.0, 17.0, 19.0]}
    mp = model(lengths=L, horizon=40, step=[0.1, 0.1], pilot=pilot)
    p = predict_run(mp, "sync_nigt", 4, alpha=0.05)
    assert p.point_source == ("pilot trend (sync_nigt): mean length 15 -> 19 steps over the "
                              "run (between 15 and 19)")
    # iteration t: a1's gradient (the slowest) 2 L_t/15 s, + the all_reduce 0.1 + gap 0.01
    expect = sum(2 * x / 15 + 0.11 for x in (15, 16, 17, 18, 19))
    assert p.total_seconds == pytest.approx(expect, rel=1e-9)
    assert p.total_seconds_low <= p.total_seconds <= p.total_seconds_high
    # the trend is the pilot's method's: another method keeps the lengths as measured
    other = predict_run(mp, "rennala_nigt", 4, M=3, M_init=3, alpha=0.05)
    assert other.point_source.startswith("lengths as measured (the pilot ran sync_nigt")
    assert other.total_seconds == predict_run(m, "rennala_nigt", 4, M=3, M_init=3).total_seconds


@pytest.mark.parametrize("bad, msg", [
    ({"n": 0}, "n must be"),
    ({"mode": "ring"}, "mode: unknown value"),
    ({"gradient": None}, "gradient: missing"),
    ({"patterns": {"lazy": {}}}, "unknown pattern 'lazy'"),
    ({"all_reduce": [{"agents": 2}]}, r"all_reduce\[0\]: needs agents, floats, seconds"),
    ({"pilots": [{"method": "nope", "lengths": [3.0]}]}, r"pilots\[0\]: method: unknown"),
    ({"pilots": [{"method": "sync_nigt", "lengths": [3.0], "hyper": [1]}]},
     r"pilots\[0\]\.hyper: expected an object"),
    ({"pilots": [{"method": "sync_nigt", "lengths": [3.0], "hyper": {"alpha": -1}}]},
     r"pilots\[0\]: alpha must be a finite number > 0"),
    ({"pilots": [{"method": "rennala_nigt", "lengths": [3.0], "hyper": {"M": "x"}}]},
     r"pilots\[0\]: M must be an integer"),
    ({"pilots": [{"method": "sync_nigt", "lengths": [3.0, float("nan")]}]},
     r"pilots\[0\]\.lengths: every value must be finite"),
])
def test_bad_cost_files_name_the_key(bad, msg):
    with pytest.raises(ValueError, match=msg):
        CostModel.from_dict({**_cost(), **bad})


def test_a_trend_over_a_huge_run_is_summed_in_closed_form():
    # the pilot of the test above: lengths 15, 16, 17, 18, then 19 for the rest of K = 10^9
    # iterations (T_explicit-sized runs): no K-long arrays
    L = [[10] * 6, [20] * 6]
    pilot = {"method": "sync_nigt", "hyper": {"alpha": 0.1}, "iterations": 3,
             "lengths": [15.0, 17.0, 19.0]}
    m = model(lengths=L, horizon=40, step=[0.1, 0.1], pilot=pilot)

    def c(x):
        return 2 * x / 15 + 0.11

    K = 10**9
    p = predict_run(m, "sync_nigt", K, alpha=0.05)
    assert p.total_seconds == pytest.approx(
        sum(c(x) for x in (15, 16, 17, 18)) + (K - 3) * c(19), rel=1e-9)
    assert p.lengths["point_last"] == 19.0
    assert p.lengths["pilot_share"] == pytest.approx(0.2 / (K * 0.05))
    assert "the pilot covered 4e-07% of the run's distance" in p.point_source
    # a slow ramp (alpha 1e-8: the pilot's distance 0.2 takes 2 x 10^7 iterations, over
    # which the length is 15 + 4 t / (2 x 10^7)): the moving part by a trapezoid, against
    # the arithmetic series
    K, m_ramp = 3 * 10**7, 2 * 10**7
    p = predict_run(m, "sync_nigt", K, alpha=1e-8)
    ramp = m_ramp * c(15) + (2 / 15) * (4 / m_ramp) * m_ramp * (m_ramp + 1) / 2
    exact = c(15) + ramp + (K - m_ramp) * c(19)
    assert p.total_seconds == pytest.approx(exact, rel=1e-6)


def test_the_total_at_a_given_length_is_the_model_at_that_length():
    from algorithms.wallclock.cost import total_at_length

    # the model of the pilot tests: a Synchronized NIGT iteration at mean length L (each
    # agent's lengths, 10 and 20, scaled by L / 15) costs 2 L / 15 (a1, the slowest) + 0.11;
    # K = 4: the first round at the lengths measured at theta_0 (mean 15: 2 + 0.11), then 4
    # rounds at L; at L = 15, the lengths as measured throughout
    m = model(lengths=[[10] * 6, [20] * 6], horizon=40, step=[0.1, 0.1])
    assert total_at_length(m, "sync_nigt", 4, 30.0) == pytest.approx(2.11 + 4 * (4 + 0.11))
    assert total_at_length(m, "sync_nigt", 4, 15.0) == pytest.approx(
        predict_run(m, "sync_nigt", 4).total_seconds)
    with pytest.raises(ValueError, match="length"):
        total_at_length(m, "sync_nigt", 4, float("nan"))


def test_a_pilot_curve_is_smoothed_by_a_centred_moving_mean():
    from algorithms.wallclock.cost import SMOOTHING, smoothed

    assert SMOOTHING == 10
    # 20 points: half-width 2; the first point itself, then windows growing to 5, cut at
    # the end: mean(0, 1, 2) = 1, i for 2 <= i <= 17, mean(16..19) = 17.5, mean(17..19) = 18
    y = np.arange(20.0)
    assert smoothed(y).tolist() == [0, 1, *range(2, 18), 17.5, 18]
    # a step: mean(7..11) = 4 at 9, mean(8..12) = 6 at 10
    s = smoothed(np.r_[np.zeros(10), np.full(10, 10.0)])
    assert s[9] == pytest.approx(4) and s[10] == pytest.approx(6) and s[0] == 0
    # fewer than 10 points: unsmoothed
    assert smoothed(np.array([3.0, 9.0, 1.0])).tolist() == [3, 9, 1]


def test_a_pilot_that_rose_and_fell_is_followed_not_flattened():
    # 10 iterations at alpha 0.1 (half-width 1): 10 20 30 40 30 20 10 10 10 10 smooth to
    # 10, 20, 30, 33.3, 30, 20, 13.3, 10, 10, 10; a run at the same alpha follows them and
    # keeps 10 after the pilot's distance (the old ramp went 10 -> 12 and missed the hump)
    L = [[10] * 6, [20] * 6]
    y = [10.0, 20, 30, 40, 30, 20, 10, 10, 10, 10]
    pilot = {"method": "sync_nigt", "hyper": {"alpha": 0.1}, "iterations": 10, "lengths": y}
    m = model(lengths=L, horizon=60, step=[0.1, 0.1], pilot=pilot)
    p = predict_run(m, "sync_nigt", 12, alpha=0.1)
    curve = [10, 20, 30, 100 / 3, 30, 20, 40 / 3, 10, 10, 10, 10, 10, 10]
    assert p.total_seconds == pytest.approx(sum(2 * x / 15 + 0.11 for x in curve), rel=1e-9)
    assert p.lengths["point_most"] == pytest.approx(100 / 3)
    assert p.lengths["point_least"] == 10.0 and p.lengths["pilot_share"] == pytest.approx(0.75)
    assert p.lengths["point_mean"] == pytest.approx(np.mean(curve[1:]))
    assert p.point_source.endswith("the pilot covered 75% of the run's distance (iterations x "
                                   "alpha), its last length held after")
    assert p.total_seconds_low <= p.total_seconds <= p.total_seconds_high
    # a run at half the step size sees the hump twice as long: 0.05 per iteration, the
    # pilot's points every other iteration, linear between
    half = predict_run(m, "sync_nigt", 18, alpha=0.05)
    pts = np.interp(np.arange(19) * 0.05, np.arange(10) * 0.1, [10, 20, 30, 100 / 3, 30, 20,
                                                                  40 / 3, 10, 10, 10])
    assert half.total_seconds == pytest.approx(sum(2 * x / 15 + 0.11 for x in pts), rel=1e-9)
    assert half.lengths["pilot_share"] == 1.0


def test_a_pilot_moves_at_its_own_step_size_and_iterations():
    from algorithms.methods.registry import get

    L = [[10] * 6, [20] * 6]
    # no alpha in the pilot's hyper (calibrate keeps only the flags it was given): it ran
    # at sync_nigt's default, so a run at half of it takes two iterations per pilot point
    a = get("sync_nigt").resolve({})[0]["alpha"]
    pilot = {"method": "sync_nigt", "hyper": {}, "iterations": 3, "lengths": [15.0, 17, 19]}
    m = model(lengths=L, horizon=40, step=[0.1, 0.1], pilot=pilot)
    p = predict_run(m, "sync_nigt", 4, alpha=a / 2)
    assert p.total_seconds == pytest.approx(sum(2 * x / 15 + 0.11 for x in (15, 16, 17, 18,
                                                                          19)), rel=1e-9)
    # a round the calibration timed no gradient of: the lengths sit at their iterations
    gap = {**pilot, "hyper": {"alpha": 0.1}, "lengths": [15.0, 19.0],
           "length_iterations": [0, 2]}
    mg = model(lengths=L, horizon=40, step=[0.1, 0.1], pilot=gap)
    assert predict_run(mg, "sync_nigt", 4, alpha=0.05).total_seconds == pytest.approx(
        p.total_seconds, rel=1e-9)
    for bad in ([0, 0], [0], [0, 1.5], [-1, 2]):
        with pytest.raises(ValueError, match=r"pilots\[0\]\.length_iterations"):
            model(lengths=L, horizon=40, step=[0.1, 0.1],
                  pilot={**gap, "length_iterations": bad})


def test_a_trend_states_the_share_every_pilot_covered_and_survives_tiny_steps():
    from algorithms.wallclock.cost import Trend, pooled_trend

    d = _cost(lengths=[[10] * 6, [20] * 6], horizon=40, step=[0.1, 0.1])
    d["pilots"] = [{"method": "rennala_nigt", "hyper": {"alpha": 0.1, "M": 3}, "iterations": 3,
                    "lengths": [15.0, 17.0, 19.0]},
                   {"method": "malenia_nigt", "hyper": {"alpha": 0.1, "M": 3}, "iterations": 2,
                    "lengths": [15.0, 21.0]}]
    m = CostModel.from_dict(d)
    # reaches 0.2 and 0.1; a run to 0.2 (K = 4 at 0.05): both pilots cover half of it
    t = pooled_trend(m.pilots, m, 0.05)
    assert t.reach == pytest.approx(0.2) and t.share(4) == pytest.approx(0.5)
    p = predict_run(m, "rennala_nigt", 4, M=3, M_init=3, alpha=0.05)
    assert p.lengths["pilot_share"] == pytest.approx(0.5)
    assert "the pilot covered 50% of the run's distance" in p.point_source
    # a subnormal step size: ceil(0.2 / 1e-320) overflows an int; the run stays <= K
    assert Trend(np.array([0.0, 0.2]), np.array([15.0, 19.0]), 1e-320).moving_until(7) == 7


def test_pilots_of_equal_steps_are_pooled():
    # Rennala and Malenia NIGT pilots at M = 3: last lengths 19 and 23 -> 21 for either
    # method at M = 3; a Synchronized NIGT run keeps its own (none)
    pilots = [{"method": "rennala_nigt", "hyper": {"alpha": 0.1, "M": 3}, "iterations": 3,
               "lengths": [15.0, 17.0, 19.0]},
              {"method": "malenia_nigt", "hyper": {"alpha": 0.1, "M": 3}, "iterations": 3,
               "lengths": [15.0, 21.0, 23.0]}]
    d = _cost(lengths=[[10] * 6, [20] * 6], horizon=40, step=[0.1, 0.1])
    d["pilots"] = pilots
    m = CostModel.from_dict(d)
    for method in ("rennala_nigt", "malenia_nigt"):
        p = predict_run(m, method, 30, M=3, M_init=3, alpha=0.1)
        assert p.lengths["point_last"] == 21.0
        # the pooled curve is the mean of the two: 15, 19, 21 at distances 0, 0.1, 0.2
        assert p.lengths["point_most"] == 21.0 and p.lengths["point_least"] == 15.0
        assert p.point_source.startswith("pilot trend (rennala_nigt, malenia_nigt)")
    other = predict_run(m, "rennala_nigt", 30, M=5, M_init=5, alpha=0.1)
    assert other.point_source.startswith("lengths as measured (the pilot ran")
    # pilots of different reach: each flat beyond its own (21 from 0.1 on), the mean between
    from algorithms.wallclock.cost import pooled_trend

    short = {**pilots[1], "lengths": [15.0, 21.0]}
    t = pooled_trend([pilots[0], short], m, 0.05)
    assert t.x.tolist() == pytest.approx([0, 0.1, 0.2]) and t.y.tolist() == [15, 19, 20]
    assert t.at([1, 3, 100]).tolist() == [17, 19.5, 20]
    assert predict_run(m, "sync_nigt", 30, alpha=0.1).lengths["point_last"] == 15.0


def test_the_interval_widens_by_the_drift_the_calibration_measured():
    from algorithms.wallclock.cost import BLOCKS, DRIFT, drift_allowance

    # 10 rounds after the first, 5 blocks of 2: block means 1, 1, 2, 1, 1 s -> mean 1.2,
    # sd (ddof 1) sqrt((4 x 0.2^2 + 0.8^2) / 4) = sqrt(0.2); a block lasts 12 / 5 = 2.4 s
    rounds = [9.0, 1, 1, 1, 1, 2, 2, 1, 1, 1, 1]
    m = model(rounds=rounds)
    c, b = m.spread("rennala")
    assert BLOCKS == 5
    assert c == pytest.approx(np.sqrt(0.2) / 1.2) and b == pytest.approx(2.4)
    # a 24-s run: 2 c sqrt(1/5 + 2.4/24)
    d, how = drift_allowance((c, b), 24.0)
    assert d == pytest.approx(2 * np.sqrt(0.2) / 1.2 * np.sqrt(0.3))
    assert how.startswith("measured: the calibration's block means varied by 37.3%")
    # a run shorter than a block counts as one block; a steady calibration keeps DRIFT
    assert drift_allowance((c, b), 1.0)[0] == pytest.approx(2 * c * np.sqrt(1.2))
    assert drift_allowance((0.01, 1.0), 100.0)[0] == DRIFT
    assert drift_allowance(None, 5.0) == (DRIFT, "stated allowance")
    # fewer than 2 x BLOCKS rounds after the first: not measured
    assert model(rounds=rounds[:10]).spread("rennala") is None
    # predict_run uses it (fixed times: the interval is the drift around the point)
    p = predict_run(m, "rennala_nigt", 10, M=3, M_init=3)
    want, _ = drift_allowance((c, b), p.total_seconds)
    assert p.drift == pytest.approx(want) and p.drift_source.startswith("measured")
    assert p.total_seconds_high == pytest.approx(p.total_seconds * (1 + want))
    assert p.total_seconds_low == pytest.approx(p.total_seconds * (1 - want))
    assert p.to_json()["drift"] == pytest.approx(want)
    # another mode than the calibration's: its rounds say nothing of that mode's spread
    assert predict_run(m, "rennala_nigt", 10, M=3, M_init=3, mode="server").drift == DRIFT


def test_a_run_at_another_batch_spans_the_residual_per_round_to_per_gradient():
    # calibration rounds at M = 3 took 0.4 s beyond the composed 2.35 s (see above)
    m = model(rounds=[9.0, 2.75, 2.75, 2.75])
    same = predict_run(m, "rennala_nigt", 10, M=3, M_init=3)
    assert same.residual_source == "per round, measured at the run's M = 3"
    assert same.total_seconds_high == pytest.approx(same.total_seconds * 1.05)
    # M = 6: a0 registers at 1.05, 2.05, 3.05, 4.05, a1 at 2.05, 4.05 -> the 6th at 4.05;
    # + stop 0.2 + all_reduce 0.1 = 4.35. Point: + 0.4 per round; the other end: + 0.4 x
    # 6/3 = 0.8 (the residual spread over the calibration's 3 gradients); + gap 0.01
    p = predict_run(m, "rennala_nigt", 10, M=6, M_init=6)
    assert p.total_seconds == pytest.approx(11 * (4.35 + 0.4 + 0.01))
    assert p.total_seconds_low == pytest.approx(11 * 4.76 * 0.95)
    assert p.total_seconds_high == pytest.approx(11 * (4.35 + 0.8 + 0.01) * 1.05)
    assert p.residual_source.startswith("measured at M = 3 (0.4 s per round); the run's M = 6:")
    assert p.residual_other_batch and not same.residual_other_batch
    # a smaller batch: per gradient is the low end (0.4 x 1/3 at M = 1: a0 at 1.05)
    q = predict_run(m, "rennala_nigt", 10, M=1, M_init=1)
    assert q.total_seconds == pytest.approx(11 * (1.05 + 0.3 + 0.4 + 0.01))
    assert q.total_seconds_low == pytest.approx(11 * (1.05 + 0.3 + 0.4 / 3 + 0.01) * 0.95)
    with pytest.raises(ValueError, match="residual_per"):
        round_cost(m, "rennala_nigt", M=3, residual_per="step")
    # no calibration rounds: nothing to scale
    assert predict_run(model(), "rennala_nigt", 10, M=6, M_init=6).residual_source == \
        "not measured"
