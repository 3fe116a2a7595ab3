"""AllReduce mode on real processes, checked against the simulated clock.

Emulated times are large against this machine's overheads (tens of milliseconds per
gradient against well under a millisecond of coordination), so counts and durations can
be compared with the clock's exact answers with tolerances that hold on a loaded 2-core
machine: counts within one gradient per agent, round durations within 25%.
"""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest

pytest.importorskip("torch")

from algorithms.aggregation import plan_malenia, plan_rennala  # noqa: E402
from algorithms.aggregation.malenia import malenia_should_stop  # noqa: E402
from algorithms.run.report import read_csv  # noqa: E402
from algorithms.sim.clock import make_clock  # noqa: E402
from tests.distributed._launch import (  # noqa: E402
    finish,
    pid_of,
    recomputed_gradient,
    run,
    start,
    wait_for_iteration,
)

pytestmark = pytest.mark.distributed


def _strict(text: str):
    def bad(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=bad)


def test_rennala_counts_durations_and_gradients_match_the_clock(tmp_path):
    """h = (0.1, 0.2, 0.4) s, M = 14: the clock uses (8, 4, 2) and 0.8 s per round; a fourth
    agent with h = 20 s (a straggler) never contributes and does not slow the rounds. Every
    round uses exactly M gradients, and the aggregated gradient is the mean of exactly the
    samples counted (recomputed from the record's seeds)."""
    h = [0.1, 0.2, 0.4, 20.0]
    M = 14
    s = run(tmp_path / "r", "--nproc", "4", "--h", ",".join(map(str, h)), "--M", str(M),
            "--M-init", str(M), "--iterations", "4", "--save-gradients")
    sim = plan_rennala(make_clock(h, 0.0), M)
    assert sim.counts.tolist() == [8, 4, 2, 0]
    assert s["method"] == "rennala_nigt" and s["n"] == 4 and s["mode"] == "allreduce"
    assert s["iterations"] == 4 and len(s["rounds"]) == 5
    for r in s["rounds"]:
        counts = np.array(r["counts"])
        assert counts.sum() == M
        assert np.abs(counts - sim.counts).max() <= 1, counts
        assert counts[3] == 0
    durations = [r["duration"] for r in s["rounds"]]
    assert abs(np.median(durations) - sim.duration) <= 0.25 * sim.duration, durations
    run_dir = tmp_path / "r"
    saved = np.load(run_dir / "gradients.npz")
    assert saved["g"].shape[0] == 5
    for j in range(5):
        ref = recomputed_gradient(run_dir, int(saved["round"][j]), saved["theta"][j],
                                  saved["counts"][j], "rennala")
        np.testing.assert_allclose(saved["g"][j], ref, rtol=1e-10, atol=1e-12)
    records = read_csv(run_dir / "rennala_nigt_seed0.csv")
    assert [rec.iteration for rec in records] == list(range(5))
    assert all(np.isfinite(rec.J) for rec in records)
    _strict((run_dir / "summary.json").read_text())


def test_malenia_rounds_satisfy_the_exit_condition(tmp_path):
    """Algorithm 3 on real processes (heterogeneous family): every round's counts pass the
    exact exit test n^2 >= M sum 1/M_i and are within one gradient of the clock's; the
    returned vector is 1/n sum_i gbar_i / M_i of exactly the counted samples."""
    h = [0.05, 0.1, 0.2]
    M = 14
    s = run(tmp_path / "m", "--nproc", "3", "--method", "malenia_nigt", "--family", "reward",
            "--h", ",".join(map(str, h)), "--M", str(M), "--M-init", str(M),
            "--iterations", "3", "--save-gradients")
    sim = plan_malenia(make_clock(h, 0.0), M)
    for r in s["rounds"]:
        counts = np.array(r["counts"])
        assert malenia_should_stop(counts, M), counts
        # it exited at the first arrival that passed: one gradient fewer somewhere fails
        assert any(not malenia_should_stop(counts - np.eye(3, dtype=int)[j], M)
                   for j in range(3) if counts[j] > 1), counts
        assert np.abs(counts - sim.counts).max() <= 1, (counts, sim.counts)
    run_dir = tmp_path / "m"
    saved = np.load(run_dir / "gradients.npz")
    for j in range(saved["g"].shape[0]):
        ref = recomputed_gradient(run_dir, int(saved["round"][j]), saved["theta"][j],
                                  saved["counts"][j], "malenia")
        np.testing.assert_allclose(saved["g"][j], ref, rtol=1e-10, atol=1e-12)


def test_a_killed_rank_restarts_the_group_from_the_last_iteration(tmp_path):
    """Synchronized NIGT with --max-restarts 1: rank 1 is killed mid-run; the group restarts
    from the checkpoint, and every iteration appears exactly once, in order. Each round is
    one gradient per agent and lasts max_i h_i (0.4 s) as on the clock."""
    run_dir = tmp_path / "s"
    K = 12
    proc = start(run_dir, "--nproc", "3", "--method", "sync_nigt", "--h", "0.1,0.2,0.4",
                 "--iterations", str(K), "--max-restarts", "1")
    wait_for_iteration(run_dir, 3)
    os.kill(pid_of(run_dir, "agent1"), signal.SIGKILL)
    code, out, err = finish(proc)
    assert code == 0, err
    s = _strict(out)
    restarts = [e for e in s["events"] if e["event"] == "restart"]
    assert len(restarts) == 1 and restarts[0]["resumed_at_iteration"] >= 3
    records = read_csv(run_dir / "sync_nigt_seed0.csv")
    assert [rec.iteration for rec in records] == list(range(K + 1))
    assert all(b.time > a.time for a, b in zip(records, records[1:], strict=False))
    assert [r["global_iteration"] for r in s["rounds"]] == list(range(K + 1))
    assert all(r["counts"] == [1, 1, 1] for r in s["rounds"])
    sim = make_clock([0.1, 0.2, 0.4], 0.0)
    from algorithms.aggregation.synchronized import synchronous_timeline

    start_t, finish_t, _ = synchronous_timeline(sim, 1, "synchronized")
    expected = float(finish_t.max() - start_t)
    assert abs(np.median([r["duration"] for r in s["rounds"]]) - expected) <= 0.25 * expected
