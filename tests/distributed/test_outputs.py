"""What a run leaves behind for its user: TensorBoard scalars (train, compare, launch), and
for MuJoCo launches the training returns, periodic evaluations and a loadable policy."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from algorithms.cli.main import main


def _scalars(folder) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util.tensor_util import make_ndarray

    ea = EventAccumulator(str(folder))
    ea.Reload()
    return {tag: [(e.step, float(make_ndarray(e.tensor_proto))) for e in ea.Tensors(tag)]
            for tag in ea.Tags()["tensors"]}


def test_train_and_compare_write_tensorboard_scalars(tmp_path, capsys):
    """One folder per run; J per iteration equals the records' J; simulated time is on the
    Relative axis (wall_time = start + simulated seconds)."""
    pytest.importorskip("tensorboard")
    from algorithms.run.report import read_csv

    tb = tmp_path / "tb"
    assert main(["train", "--time", "20", "--out", str(tmp_path / "t"), "--tensorboard",
                 str(tb), "--no-plot", "--json"]) == 0
    sc = _scalars(tb / "rennala_nigt-seed0")
    records = read_csv(tmp_path / "t" / "rennala_nigt_seed0.csv")
    assert [s for s, _ in sc["J"]] == [r.iteration for r in records]
    np.testing.assert_allclose([v for _, v in sc["J"]], [r.J for r in records], rtol=1e-6)
    assert {"gradients/evaluated", "gradients/used", "round/seconds"} <= set(sc)
    assert main(["compare", "--methods", "rennala_nigt,sync_nigt", "--seeds", "2", "--time",
                 "10", "--out", str(tmp_path / "c"), "--tensorboard", str(tb), "--no-plot",
                 "--json"]) == 0
    names = sorted(p.name for p in tb.iterdir())
    assert names == ["rennala_nigt-seed0", "rennala_nigt-seed0-2", "rennala_nigt-seed1",
                     "sync_nigt-seed0", "sync_nigt-seed1"]
    capsys.readouterr()


def test_tensorboard_missing_is_one_line_with_the_install_hint(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    monkeypatch.setitem(sys.modules, "tensorboard.summary", None)
    for argv in (["train", "--time", "5"], ["launch", "--nproc", "1"]):
        assert main([*argv, "--out", str(tmp_path / argv[0]), "--tensorboard",
                     str(tmp_path / "tb")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--tensorboard" in err[0] and "pip install" in err[0], err


@pytest.mark.distributed
@pytest.mark.mujoco
def test_a_mujoco_launch_reports_returns_and_saves_a_policy(tmp_path):
    """Hopper-v4 (H = 16): every iteration's training return is recorded, the policy is
    evaluated every 2 iterations on rank 0, policy.pt loads back in one line and acts, and
    TensorBoard has every iteration's return, gradients used (M) and per-agent counts."""
    pytest.importorskip("torch")
    pytest.importorskip("gymnasium")
    pytest.importorskip("tensorboard")
    from algorithms.mujoco.saved import load_policy
    from tests.distributed._launch import rounds, run

    out = tmp_path / "hop"
    tb = tmp_path / "tb"
    s = run(out, "--nproc", "2", "--env", "Hopper-v4", "--H", "16", "--M", "2", "--M-init",
            "2", "--iterations", "4", "--eval-every", "2", "--eval-episodes", "2",
            "--tensorboard", str(tb))
    assert s["final"]["train_return"] is not None and np.isfinite(s["final"]["train_return"])
    assert s["final"]["J"] is not None  # the last evaluation
    rr = rounds(out)
    assert all(r["episodes"] == 2 and np.isfinite(r["return_sum"]) for r in rr)
    evals = [e for e in s["events"] if e["event"] == "evaluation"]
    assert [e["iteration"] for e in evals] == [0, 2, 4]
    pi = load_policy(out / "policy.pt")
    assert s["policy"] == str(out / "policy.pt")
    obs = np.zeros(pi.spec.d_s)
    a = pi.act(obs)
    assert a.shape == (pi.spec.d_a,) and np.all(np.abs(a) <= np.array(pi.spec.scale_array))
    theta = json.loads((out / "spec.json").read_text())
    assert pi.env_id == theta["env"] == "Hopper-v4"
    sc = _scalars(tb / "rennala_nigt-allreduce-seed0")
    assert [st for st, _ in sc["return/train"]] == list(range(5))
    np.testing.assert_allclose([v for _, v in sc["return/train"]],
                               [r["return_sum"] / r["episodes"] for r in rr], rtol=1e-5)
    assert all(v == 2 for _, v in sc["gradients/used"])
    counts = np.array([[v for _, v in sc[f"counts/agent{i}"]] for i in range(2)])
    assert (counts.sum(axis=0) == 2).all() and len(sc["round/seconds"]) == 5
    assert [st for st, _ in sc["J"]] == [0, 2, 4]  # the evaluations


@pytest.mark.distributed
@pytest.mark.mujoco
@pytest.mark.parametrize("mode", ["allreduce", "server"])
def test_a_mujoco_rounds_steps_are_its_trajectories_lengths(tmp_path, mode):
    """Synchronized NIGT (every agent computes its --batch gradients, none cancelled):
    each round's ``steps`` equals the lengths of exactly those trajectories, re-sampled
    from their seeds at the point the round broadcast; round_stats' mean_length is the
    mean over the rounds after the first of steps / evaluated."""
    pytest.importorskip("torch")
    pytest.importorskip("gymnasium")
    from algorithms.backends.distributed.emulate import gradient_rng
    from algorithms.backends.distributed.problem import build_oracle
    from algorithms.backends.distributed.spec import RunSpec
    from tests.distributed._launch import rounds, run

    out = tmp_path / mode
    s = run(out, "--nproc", "2", "--mode", mode, "--env", "Hopper-v4", "--H", "32",
            "--method", "sync_nigt", "--batch", "2", "--iterations", "3",
            "--save-gradients")
    spec = RunSpec.load(out / "spec.json")
    oracle, _ = build_oracle(spec)
    saved = np.load(out / "gradients.npz")
    rr = rounds(out)
    assert len(rr) == saved["g"].shape[0] == 4
    for j, r in enumerate(rr):
        t = int(saved["round"][j])
        lengths = [int(oracle.trajectories(saved["theta"][j], np.array([i]),
                                           gradient_rng(spec.seed, i, t, k)).lengths[0])
                   for i in range(2) for k in range(2)]
        assert r["evaluated"] == 4 and r["steps"] == sum(lengths), (t, r["steps"], lengths)
    expect = np.mean([r["steps"] / r["evaluated"] for r in rr[1:]])
    assert s["round_stats"]["mean_length"] == pytest.approx(expect, rel=1e-12)
    assert s["round_stats"]["mean_length_rounds"] == 3
