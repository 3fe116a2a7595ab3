"""A launch's prediction and ETA (algorithms.wallclock.eta): the same model as apga predict."""

import json

import pytest

from algorithms.backends.distributed.spec import RunSpec
from algorithms.wallclock import eta
from algorithms.wallclock.cost import CostModel, predict_run
from tests.algorithms.test_cost import _cost
from theory.cluster_file import ClusterSpec, cost_path, write_cluster


def _spec(**kw):
    base = {"method": "rennala_nigt", "mode": "allreduce", "n": 2, "iterations": 10,
            "hyper": {"M": 3, "M_init": 5}, "tabular": {"H": 30}}
    return RunSpec(**{**base, **kw})


def test_eta_weighs_the_prediction_against_measured_iterations():
    pred = {"total_seconds": 100.0, "per_iteration_seconds": 1.0}
    assert eta.eta(pred, 0, 3.0, 100) == 97.0  # before any iteration: predicted total left
    # after k = 10 iterations in 30 s: w = 10 / 20, per = 0.5 x 3 + 0.5 x 1 = 2 s
    assert eta.eta(pred, 10, 30.0, 100) == pytest.approx(90 * 2.0)
    assert eta.eta(None, 10, 30.0, 100) == pytest.approx(90 * 3.0)  # measured only
    assert eta.eta(None, 0, 1.0, 100) is None and eta.eta(pred, 5, 1.0, None) is None


def test_compare_by_hand():
    c = eta.compare({"total_seconds": 10.0, "total_seconds_low": 9.0,
                     "total_seconds_high": 12.0}, 11.0)
    assert (c["ratio"], c["error"], c["inside_interval"]) == (10 / 11, 0.1, True)
    assert eta.compare(None, 5.0)["inside_interval"] is None
    # a prediction with a mean trajectory length, beside the run's measured one (None when
    # its rounds recorded no steps); none predicted: nothing added
    pred = {"total_seconds": 10.0, "total_seconds_low": 9.0, "total_seconds_high": 12.0,
            "mean_length": 20.0}
    assert eta.compare(pred, 11.0, {"mean_length": 25.0})["mean_length_actual"] == 25.0
    assert eta.compare(pred, 11.0, {"mean_length": None})["mean_length_actual"] is None
    assert "mean_length_actual" not in eta.compare({**pred, "mean_length": None}, 11.0,
                                                   {"mean_length": 25.0})


def test_launch_prediction_from_a_cost_file_is_predict_runs(tmp_path):
    csv = write_cluster(tmp_path / "c.csv", ClusterSpec([1.0, 2.0], [0.0, 0.0]))
    cost_path(csv).write_text(json.dumps(_cost()))
    p = eta.launch_prediction(_spec(), str(csv))
    expect = predict_run(CostModel.from_file(csv), "rennala_nigt", 10, M=3, M_init=5,
                         alpha=0.05, mode="allreduce", agents=range(2))
    assert p["total_seconds"] == expect.total_seconds
    assert p["total_seconds_low"] <= p["total_seconds"] <= p["total_seconds_high"]
    assert p["per_iteration_seconds"] == pytest.approx(2.36)  # 2.35 round + 0.01 gap
    # tabular: every trajectory has H = 30 steps, and no pilot can move them
    assert p["mean_length"] == expect.lengths["point_mean"] == 30.0
    with pytest.raises(ValueError, match="measured on env tabular with H = 30, the run is "
                       "tabular with H = 7"):
        eta.launch_prediction(_spec(tabular={"H": 7}), str(csv))
    with pytest.raises(ValueError, match="measured 2 agents, the run has 3"):
        eta.launch_prediction(_spec(n=3), str(csv))


def test_launch_prediction_of_an_emulated_run_is_the_clock_of_its_seed():
    # h = (1, 2), kappa = 0.5, fixed: Rennala M = 3 -> 0.5 + 2 + 0.5 = 3 s per round;
    # M_init = 5 (a0 1,2,3,4 + a1 2 by t = 4): 0.5 + 4 + 0.5 = 5 s; 10 rounds after it
    p = eta.launch_prediction(_spec(h=[1.0, 2.0], kappa=[0.5, 0.5]))
    assert (p["init_seconds"], p["total_seconds"]) == (5.0, 35.0)
    assert p["total_seconds_high"] == pytest.approx(35.0 * 1.15)
    none = eta.launch_prediction(_spec())
    assert none["total_seconds"] is None and "predict-from" in none["reason"]
    budget = eta.launch_prediction(_spec(iterations=None, time=5.0))
    assert budget["total_seconds"] is None and "time budget" in budget["reason"]
    # a method the clock's timeline does not model gets no ETA, not an error (an emulated
    # afedpg_agent launch ended with "method: unknown value" before it started)
    agent = eta.launch_prediction(_spec(h=[1.0, 2.0], kappa=[0.5, 0.5], method="afedpg_agent",
                                        mode="server", hyper={}))
    assert agent["total_seconds"] is None and "not afedpg_agent" in agent["reason"]


def test_predict_says_when_it_extrapolates_the_residual_to_another_M(tmp_path, capsys):
    from algorithms.cli.main import main

    csv = write_cluster(tmp_path / "c.csv", ClusterSpec([1.0, 2.0], [0.0, 0.0]))
    cost_path(csv).write_text(json.dumps(_cost(rounds=[9.0, 2.75, 2.75, 2.75])))  # M = 3
    args = ["predict", "--cluster", str(csv), "--iterations", "10", "--M-init", "6"]
    assert main([*args, "--M", "3"]) == 0
    out = capsys.readouterr().out
    assert "residual of Rennala" in out  # M_init = 6 is not the calibration's M
    assert main([*args, "--M", "6", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)["wallclock"]["rennala_nigt"]
    assert r["residual_other_batch"] is True
    assert r["residual_source"].startswith("measured at M = 3")
    # at the calibration's M and M_init: nothing extrapolated, no line
    assert main(["predict", "--cluster", str(csv), "--iterations", "10", "--M", "3",
                 "--M-init", "3"]) == 0
    assert "residual of" not in capsys.readouterr().out
