"""AllReduce mode on real processes, checked against the simulated clock.

Emulated times are large against this machine's overheads (tens of milliseconds per
gradient against about a millisecond of coordination), and chosen so that the clock's
arrivals near each round's exit are at least 30 ms apart or exactly tied: then the real
counts equal the clock's exactly, on a loaded 2-core machine too. Tolerances on times
come from the clock's own numbers (half the gap to the next arrival) or from the stated
stop latency :data:`STOP_LATENCY`.
"""

from __future__ import annotations

import json
import os
import signal
import time

import numpy as np
import pytest

pytest.importorskip("torch")

from algorithms.aggregation import plan_malenia, plan_rennala  # noqa: E402
from algorithms.aggregation.malenia import malenia_should_stop  # noqa: E402
from algorithms.run.report import read_csv  # noqa: E402
from algorithms.sim.clock import make_clock, seeded_clock  # noqa: E402
from algorithms.updates import extrapolate, momentum, normalized_step  # noqa: E402
from tests.distributed._launch import (  # noqa: E402
    finish,
    pid_of,
    recomputed_gradient,
    rounds,
    run,
    start,
    wait_for_iteration,
)

pytestmark = pytest.mark.distributed

#: The latency we state for the stop signal: from the moment the round's last gradient
#: sets the stop key to the moment every other rank has left its computation
#: (docs/distributed.md). Measured: a few milliseconds on a quiet machine.
STOP_LATENCY = 0.25


def _strict(text: str):
    def bad(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=bad)


def _check_gradients(run_dir, kind: str) -> np.lib.npyio.NpzFile:
    """Every aggregated gradient equals the recomputation from exactly the samples counted,
    at the point the round broadcast."""
    saved = np.load(run_dir / "gradients.npz")
    for j in range(saved["g"].shape[0]):
        ref = recomputed_gradient(run_dir, int(saved["round"][j]), saved["theta"][j],
                                  saved["counts"][j], kind)
        np.testing.assert_allclose(saved["g"][j], ref, rtol=1e-10, atol=1e-12)
    return saved


def _replay_nigt(saved, theta0: np.ndarray, eta: float, alpha: float) -> None:
    """Algorithm 1 replayed from the saved aggregated gradients: the point of round t is the
    extrapolation of the replayed iterates (line 5), so theta went on correctly."""
    g = saved["g"]
    assert saved["round"].tolist() == list(range(g.shape[0]))
    np.testing.assert_allclose(saved["theta"][0], theta0, rtol=0, atol=0)
    d = g[0]
    theta_prev, theta = theta0, normalized_step(theta0, d, alpha)
    for t in range(1, g.shape[0]):
        point = extrapolate(theta, theta_prev, eta)
        np.testing.assert_allclose(saved["theta"][t], point, rtol=1e-12, atol=1e-14)
        d = momentum(d, g[t], eta)
        theta_prev, theta = theta, normalized_step(theta, d, alpha)


def _exit_margin(h, M: int) -> float:
    """Seconds between the clock's M-th and (M+1)-th arrival of a fixed-h round (0: tie)."""
    times = np.sort(np.concatenate([np.arange(1, M + 2) * hi for hi in h]))
    return float(times[M] - times[M - 1])


def test_rennala_counts_equal_the_clock_and_late_gradients_are_discarded(tmp_path):
    """h = (0.1, 0.1, 0.25, 20), M = 6: arrivals 0.1 0.1 0.2 0.2 0.25 0.3 0.3, so the 6th and
    7th gradients finish together: one is used, the other is discarded (on real processes,
    whose rounds start a fraction of a millisecond apart, the tie is broken either way: it
    finished and is ``unused``, or the stop caught it, ``cancelled``); agent 2 is in the
    middle of its second gradient and the straggler (20 s) of its first: their gradients
    exist (the tabular oracle computes them at once, the emulated wait is what the stop
    interrupts) and are discarded. The aggregated gradient is the mean of exactly the
    samples counted (so none of the discarded ones), uploads = the 3 agents that
    contributed, and theta follows Algorithm 1."""
    h = [0.1, 0.1, 0.25, 20.0]
    M = 6
    run_dir = tmp_path / "r"
    s = run(run_dir, "--nproc", "4", "--h", ",".join(map(str, h)), "--M", str(M),
            "--M-init", str(M), "--iterations", "3", "--save-gradients")
    sim = plan_rennala(make_clock(h, 0.0), M)
    assert sorted(sim.counts.tolist()[:2]) == [2, 3] and sim.counts.tolist()[2:] == [1, 0]
    assert sim.unused == 1 and sim.uploads == 3
    assert s["method"] == "rennala_nigt" and s["n"] == 4 and s["mode"] == "allreduce"
    assert s["iterations"] == 3
    rr = rounds(run_dir)
    assert len(rr) == 4 and s["round_stats"]["count"] == 4
    for r in rr:
        counts = r["counts"]
        assert sum(counts) == M and sorted(counts[:2]) == [2, 3] and counts[2:] == [1, 0], counts
        assert r["unused"] + r["cancelled"] >= sim.unused + sim.cancelled, r
        assert r["evaluated"] + r["cancelled"] >= M + 3, r  # the discarded ones exist
        assert r["uploads"] == sim.uploads and r["downloads"] == 4
        # the round ends at the clock's t = 0.3 s, within the stop latency
        assert abs((r["t_exit"] - r["start"]) - sim.t_exit) <= STOP_LATENCY, r
    saved = _check_gradients(run_dir, "rennala")
    _replay_nigt(saved, np.zeros(saved["theta"].shape[1]), 0.1, 0.05)
    records = read_csv(run_dir / "rennala_nigt_seed0.csv")
    assert [rec.iteration for rec in records] == list(range(4))
    assert all(np.isfinite(rec.J) for rec in records)
    _strict((run_dir / "summary.json").read_text())
    assert s["device"]["backend"] == "gloo" and s["device"]["device"] == "cpu"


def test_rennala_stops_at_the_mth_gradient_and_the_stop_reaches_every_rank(tmp_path):
    """h = (0.07, 0.11, 0.6), M = 3: the clock's 3rd arrival is at 0.14 s, the 4th at 0.21 s.
    The round ends at the 3rd (not one gradient late), and the third agent, in the middle
    of a 0.6 s gradient, leaves its computation within STOP_LATENCY of the stop key being
    set (an emulated wait that ignored the stop would leave it at 0.6 s)."""
    h = [0.07, 0.11, 0.6]
    M = 3
    assert _exit_margin(h, M) >= 0.05
    run_dir = tmp_path / "lat"
    run(run_dir, "--nproc", "3", "--h", ",".join(map(str, h)), "--M", str(M), "--M-init",
        str(M), "--iterations", "3")
    sim = plan_rennala(make_clock(h, 0.0), M)
    for r in rounds(run_dir):
        assert r["counts"] == sim.counts.tolist(), r
        assert r["last_agent"] in (0, 1) and r["stop_time"] is not None
        lat = np.array(r["exit_times"]) - r["stop_time"]
        assert lat.max() <= STOP_LATENCY, lat
        # the exit is the clock's M-th arrival, not the next one
        assert abs((r["t_exit"] - r["start"]) - sim.t_exit) < 0.5 * _exit_margin(h, M) + 0.02


def test_random_emulated_times_give_the_clocks_counts_round_by_round(tmp_path):
    """--timing exponential: every round draws its own durations from the round keys the
    simulated clock of the same seed draws; each round's counts equal that clock's round,
    wherever the clock's M-th and (M+1)-th arrivals are far enough apart to be told apart
    on real processes (30 ms)."""
    h = [0.25, 0.35]
    M = 3
    K = 6
    run_dir = tmp_path / "exp"
    run(run_dir, "--nproc", "2", "--h", ",".join(map(str, h)), "--timing", "exponential",
        "--M", str(M), "--M-init", str(M), "--iterations", str(K), "--seed", "3")
    clock, _ = seeded_clock(h, 0.0, 3, timing="exponential")
    compared = 0
    for r in rounds(run_dir):
        key = clock.new_key()
        d = clock.durations(key, clock.h_at(), np.arange(2)[:, None], np.arange(M + 1)[None, :])
        times = np.cumsum(d, axis=1)  # agent i's k-th finish time in the round
        agents = np.repeat(np.arange(2), M + 1)
        order = np.argsort(times.ravel(), kind="stable")
        first = np.sort(times.ravel())
        counts = np.bincount(agents[order[:M]], minlength=2)
        if first[M] - first[M - 1] >= 0.03:
            assert r["counts"] == counts.tolist(), (r["counts"], counts, first[:M + 1])
            compared += 1
    assert compared >= K // 2, "too few rounds could be compared"
    # all rounds used different durations (a run reusing round 0's would repeat its counts)
    assert len({tuple(r["counts"]) for r in rounds(run_dir)}) > 1


def test_malenia_exits_at_the_first_passing_arrival(tmp_path):
    """Algorithm 3 on real processes (heterogeneous family): every round's counts pass the
    exact exit test n^2 >= M sum 1/M_i, and without the last arrival (its agent is in the
    record) they fail it: the round ended at the first passing arrival, not one late. The
    counts are the clock's, the returned vector is 1/n sum_i gbar_i / M_i of exactly the
    counted samples, and every rank left its computation within STOP_LATENCY."""
    h = [0.12, 0.22, 0.58]  # exit at 1.44 s (agent 0's 12th); nearest arrivals 0.1 s away
    M = 12
    run_dir = tmp_path / "m"
    run(run_dir, "--nproc", "3", "--method", "malenia_nigt", "--family", "reward",
        "--h", ",".join(map(str, h)), "--M", str(M), "--M-init", str(M),
        "--iterations", "2", "--save-gradients")
    sim = plan_malenia(make_clock(h, 0.0), M)
    for r in rounds(run_dir):
        counts = np.array(r["counts"])
        assert malenia_should_stop(counts, M), counts
        last = np.eye(3, dtype=int)[r["last_agent"]]
        assert not malenia_should_stop(counts - last, M), (counts, r["last_agent"])
        assert counts.tolist() == sim.counts.tolist(), (counts, sim.counts)
        lat = np.array(r["exit_times"]) - r["stop_time"]
        assert lat.max() <= STOP_LATENCY, lat
    _check_gradients(run_dir, "malenia")


def test_a_hung_rank_ends_malenia_after_timeout_with_one_line(tmp_path):
    """Malenia waits for every agent: rank 2 frozen (SIGSTOP) with --timeout 3 ends the launch
    within the timeout plus a few seconds, with one line naming the agent, never a hang."""
    run_dir = tmp_path / "hung"
    proc = start(run_dir, "--nproc", "3", "--method", "malenia_nigt", "--h", "0.05,0.05,0.1",
                 "--M", "6", "--M-init", "6", "--iterations", "100000", "--timeout", "3")
    wait_for_iteration(run_dir, 2, proc)
    os.kill(pid_of(run_dir, "agent2"), signal.SIGSTOP)
    t0 = time.monotonic()
    code, out, err = finish(proc, timeout=90)
    took = time.monotonic() - t0
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1, err
    assert "timeout" in lines[0] and "agent(s) 2" in lines[0], lines[0]
    assert took < 3 + 20, took


@pytest.mark.parametrize("victim", ["agent0", pytest.param("agent1", marks=pytest.mark.slow)])
def test_a_killed_rank_restarts_the_group_and_theta_goes_on(tmp_path, victim):
    """Synchronized NIGT with --max-restarts 1 and --checkpoint-every 1: rank 0 (which writes
    the checkpoints) or rank 1 is killed mid-run; the group restarts from the checkpoint,
    every iteration appears exactly once, in order, and theta continues exactly: the point
    of every round is Algorithm 1 replayed on the saved aggregated gradients. torch's
    "Terminating process" lines do not reach the terminal."""
    run_dir = tmp_path / "s"
    K = 12
    proc = start(run_dir, "--nproc", "3", "--method", "sync_nigt", "--h", "0.05,0.1,0.15",
                 "--iterations", str(K), "--max-restarts", "1", "--checkpoint-every", "1",
                 "--save-gradients")
    wait_for_iteration(run_dir, 3, proc)
    os.kill(pid_of(run_dir, victim), signal.SIGKILL)
    code, out, err = finish(proc)
    assert code == 0, err
    assert "Terminating process" not in err and not err.strip(), err
    s = _strict(out)
    restarts = [e for e in s["events"] if e["event"] == "restart"]
    assert len(restarts) == 1 and restarts[0]["resumed_at_iteration"] >= 3
    records = read_csv(run_dir / "sync_nigt_seed0.csv")
    assert [rec.iteration for rec in records] == list(range(K + 1))
    assert all(b.time > a.time for a, b in zip(records, records[1:], strict=False))
    rr = rounds(run_dir)
    assert [r["global_iteration"] for r in rr] == list(range(K + 1))
    assert all(r["counts"] == [1, 1, 1] for r in rr)
    saved = _check_gradients(run_dir, "synchronized")
    _replay_nigt(saved, np.zeros(saved["theta"].shape[1]), 0.1, 0.05)
