"""apga calibrate on real processes writes a cluster file that the rest of apga reads, and
measures what it is given: on an emulated cluster (--h, --kappa) its h and kappa are the
emulated ones plus this machine's small overheads, so the check holds on a loaded machine
(it measured kappa = 0 there when it compared the machine's real speed with itself). h is
measured inside real rounds, gradient start to gradient start: a round's first gradient
starts a moment after its emulated receive ends while its emulated duration runs from
that end, so h may sit a fraction of a percent below the emulated time (FLOOR)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("torch")

from algorithms.cli.main import main  # noqa: E402
from theory.cluster_file import cost_path, read_cluster  # noqa: E402

pytestmark = pytest.mark.distributed

H = (0.05, 0.1)
KAPPA = 0.03
#: Seconds of overhead a measurement may add to an emulated time on a loaded 2-core
#: machine (the store ticket, a gloo message, waking a thread): small against H, KAPPA.
SLACK = 0.02
#: How far below the emulated h the measured one may sit (see the module docstring).
FLOOR = 0.01


@pytest.mark.parametrize("mode", ["allreduce", pytest.param("server", marks=pytest.mark.slow)])
def test_calibrate_measures_the_emulated_cluster_and_predict_reads_it(tmp_path, capsys, mode):
    out = tmp_path / f"{mode}.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "algorithms.cli.main", "calibrate", "--nproc", "2", "--mode",
         mode, "--repetitions", "6", "--h", ",".join(map(str, H)), "--kappa", str(KAPPA),
         "--output", str(out), "--json", "--quiet"],
        capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout, parse_constant=lambda c: pytest.fail(f"JSON has {c}"))
    cluster = read_cluster(out)
    assert cluster.n == 2
    np.testing.assert_array_equal(cluster.h, result["h"])
    # h: the emulated seconds (less at most FLOOR of them), at most SLACK more
    assert np.all(cluster.h >= np.array(H) * (1 - FLOOR)), cluster.h
    assert np.all(cluster.h <= np.array(H) + SLACK), cluster.h
    # kappa: the emulated one within the overheads (half a round's or a round trip's)
    assert np.all(np.abs(cluster.kappa - KAPPA) <= SLACK), cluster.kappa
    assert cluster.timing == result["timing"]
    assert any("measured by apga calibrate" in c for c in cluster.comments)
    assert any(("all_reduce" if mode == "allreduce" else "round trip") in c
               for c in cluster.comments)
    if mode == "allreduce":  # one all_reduce per round: the same kappa for every agent
        assert cluster.kappa[0] == cluster.kappa[1]
    assert cost_path(out).exists() and result["cost"] == str(cost_path(out))
    capsys.readouterr()
    assert main(["predict", "--cluster", str(out), "--M", "10", "--M-init", "10",
                 "--iterations", "5", "--json"]) == 0
    pred = json.loads(capsys.readouterr().out)
    assert pred["wallclock"]["rennala_nigt"]["round_seconds"] > 0
    assert pred["wallclock_setup"]["cost_model"]["source"] == str(cost_path(out))
    w = pred["wallclock"]
    for m in ("rennala_nigt", "malenia_nigt", "sync_nigt", "afedpg"):
        assert 0 < w[m]["total_seconds_low"] <= w[m]["total_seconds"] <= w[m][
            "total_seconds_high"]
    assert pred["recommendation"]["method"] in w


def _calibrate(out, *args, timeout=240):
    proc = subprocess.run(
        [sys.executable, "-m", "algorithms.cli.main", "calibrate", "--nproc", "2", "--output",
         str(out), "--json", "--quiet", *args], capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _over_the_sleep(measured, emulated):
    """An emulated collective: its sleep (1% slack) plus at most 15% of it."""
    measured = np.atleast_1d(np.asarray(measured, dtype=float))
    assert np.all(measured >= emulated * 0.99) and np.all(measured <= emulated * 1.15), measured


@pytest.mark.parametrize("mode", ["allreduce", pytest.param("server", marks=pytest.mark.slow)])
def test_calibrate_on_an_emulated_cluster_returns_its_sleeps(tmp_path, mode):
    """Known sleeps, large against this machine's overheads (a gradient here takes 1-3 ms,
    a collective a few ms): h = 60 and 120 ms per gradient,
    kappa = 100 ms per communication. calibrate returns h_i (inside real rounds) within 5%
    and the collectives (the all_reduce a round pays, the messages to a server) at least
    the emulated time (1% slack) and at most 15% above it: a collective adds its real transfer and
    wake-ups to the emulated sleep, and the median of 3 took 5.8 ms more on this 2-core
    machine once (an error that drops or doubles kappa is far outside either bound)."""
    from algorithms.wallclock.cost import CostModel

    out = tmp_path / f"{mode}.csv"
    res = _calibrate(out, "--mode", mode, "--h", "0.06,0.12", "--kappa", "0.1",
                     "--repetitions", "3", "--warmup", "1", "--pattern-seconds", "2.5")
    np.testing.assert_allclose(res["h"], [0.06, 0.12], rtol=0.05)
    # every pattern ran its repetitions' rounds, in PASSES windows, each on until its
    # share of 2.5 s had passed after its first round (rounds and the gaps between them);
    # one extended stopped within a round of it
    from algorithms.backends.distributed.calibrate import PASSES

    cost = json.loads(cost_path(out).read_text())
    extended = 0
    for p, e in cost["patterns"].items():
        assert len(e["passes"]) == PASSES
        spent = sum(e["rounds"][1:]) + sum(e["gaps"])
        # the rounds kept: one per iteration, + the first window's M_init round (AFedPG's
        # updates have none, and each later window's first update is left out)
        least = e["iterations"] + 1 if p != "greedy" else e["iterations"] - (PASSES - 1)
        assert len(e["rounds"]) >= least and spent >= 2.5 * 0.99, (p, spent)
        if len(e["rounds"]) > least:
            extended += 1
            longest = max(e["rounds"][1:]) + max(e["gaps"], default=0.0)
            assert spent <= 2.5 + PASSES * 1.5 * longest, (p, spent)
    if mode == "allreduce":  # Rennala's 2 rounds per window, about 0.56 s each: < 1.25 s
        assert extended >= 1
    _over_the_sleep(res["kappa"], 0.1)
    model = CostModel.from_file(out)
    np.testing.assert_allclose(model.kappa, [0.1, 0.1])  # the emulated times, kept
    if mode == "allreduce":  # one all_reduce of a round: the emulated upload + real reduce
        _over_the_sleep(model.all_reduce_seconds(res["dim"] + 9, 2), 0.1)
    else:  # a message to the server and back: 2 kappa emulated + the real transfer
        trips = [np.median(t) for t in json.loads(cost_path(out).read_text())["messages"][
            "round_trip"]]
        _over_the_sleep(trips, 0.2)


@pytest.mark.slow
def test_calibrate_mujoco_pilot_records_lengths(tmp_path):
    pytest.importorskip("mujoco")
    out = tmp_path / "hopper.csv"
    res = _calibrate(out, "--env", "Hopper-v5", "--H", "16", "--repetitions", "3",
                     "--warmup", "1", "--pilot", "12", "--M", "4", "--M-init", "4",
                     "--alpha", "0.05")
    cost = json.loads(cost_path(out).read_text())
    assert cost["horizon"] == 16 and cost["env"] == "Hopper-v5"
    (pilot,) = cost["pilots"]
    assert pilot["method"] == "rennala_nigt" and pilot["hyper"]["alpha"] == 0.05
    # 12 gradients at M = 4: 3 iterations, the M_init round first
    assert 3 <= len(pilot["lengths"]) <= 4 and all(1 <= x <= 16 for x in pilot["lengths"])
    its = pilot["length_iterations"]
    assert len(its) == len(pilot["lengths"]) and its[0] == 0 and its == sorted(set(its))
    lengths = [x for a in cost["gradient"]["lengths"] for x in a]
    assert lengths and all(1 <= x <= 16 for x in lengths)
    assert all(s > 0 for s in res["primitives"]["seconds_per_step"])


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "1e308", "x", "3601"])
def test_calibrate_pattern_seconds_must_be_a_time(value, capsys):
    assert main(["calibrate", "--pattern-seconds", value, "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "pattern-seconds" in err and "Traceback" not in err and len(err.splitlines()) <= 3


def test_calibrate_refuses_an_existing_output_before_measuring(tmp_path, capsys):
    out = tmp_path / "c.csv"
    out.write_text("h,kappa\n1,1\n")
    assert main(["calibrate", "--output", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "output" in err[0]
    assert out.read_text() == "h,kappa\n1,1\n"


def test_calibrate_pilots_a_list_of_methods_only_with_pilot(capsys):
    assert main(["calibrate", "--method", "rennala_nigt,sync_nigt", "--dry-run"]) == 2
    assert "a list of methods only with --pilot" in capsys.readouterr().err
    assert main(["calibrate", "--method", "rennala_nigt,sync_nigt", "--pilot", "3", "--batch",
                 "2", "--M", "8", "--dry-run", "--json"]) == 0
    spec = json.loads(capsys.readouterr().out)["spec"]
    assert spec["hyper"] == {"M": 8, "batch": 2}  # each flag of the method that has it
    assert main(["calibrate", "--method", "rennala_nigt", "--pilot", "3", "--batch", "2",
                 "--dry-run"]) == 2
    assert "batch: not a hyperparameter of rennala_nigt" in capsys.readouterr().err
