"""Server mode on real processes: Algorithm 2 with a server that receives from any source,
Algorithm 3's mean of agent means, AFedPG's greedy server, and agents that die, freeze,
straggle or vanish while starting."""

from __future__ import annotations

import json
import os
import signal
import time

import numpy as np
import pytest

pytest.importorskip("torch")

from algorithms.methods.afedpg import afedpg_agent_direction, afedpg_update  # noqa: E402
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


def _check_afedpg(run_dir, agent_momentum: bool, eta: float = 0.1, alpha: float = 0.01):
    """Every arrival's gradient is the agent's k-th sample at the point the server sent it
    (recomputed), and AFedPG replayed on the arrivals sends exactly those points; the
    staleness in the records is the number of updates since that point was sent."""
    from algorithms.backends.distributed.emulate import gradient_rng
    from algorithms.backends.distributed.problem import build_oracle
    from algorithms.backends.distributed.spec import RunSpec

    spec = RunSpec.load(run_dir / "spec.json")
    oracle, theta0 = build_oracle(spec)
    saved = np.load(run_dir / "gradients.npz")
    n = spec.n
    points = {a: theta0.copy() for a in range(n)}
    sent_at = dict.fromkeys(range(n), 0)
    d_sent: dict[int, np.ndarray | None] = dict.fromkeys(range(n), None)
    theta, d = theta0.copy(), None
    greedy = [r for r in rounds(run_dir) if r["kind"] == "greedy"]
    assert len(greedy) == saved["g"].shape[0] > 0
    for u in range(saved["g"].shape[0]):
        a, v, k, g = (int(saved["agent"][u]), int(saved["version"][u]), int(saved["k"][u]),
                      saved["g"][u])
        assert int(saved["round"][u]) == u
        np.testing.assert_array_equal(saved["theta"][u], points[a])  # the point it was sent
        assert v == sent_at[a] and greedy[u]["staleness"] == u - sent_at[a]
        ref = oracle.sample_gradients(points[a], np.array([a]),
                                      gradient_rng(spec.seed, a, v, k))[0]
        np.testing.assert_allclose(g, ref, rtol=1e-10, atol=1e-12)
        if agent_momentum:
            upload = afedpg_agent_direction(d_sent[a], g, eta)
            theta, d, x = afedpg_update(theta, None, upload, eta, alpha)
            d_sent[a] = d
        else:
            theta, d, x = afedpg_update(theta, d, g, eta, alpha)
        points[a], sent_at[a] = x, u + 1


@pytest.mark.parametrize(
    "method, extra",
    [("rennala_nigt", ["--M", "6", "--M-init", "6"]), ("afedpg", [])],
)
def test_a_killed_agent_does_not_stop_the_run(tmp_path, method, extra):
    """Agent 1 is killed with SIGKILL mid-run; the run finishes its time budget with the
    other two, the records name the agent that left and when, and it contributes nothing
    after that. Rennala rounds still use exactly M gradients, and their mean is that of
    exactly the counted samples; AFedPG's gradients are recomputed and its updates
    replayed."""
    run_dir = tmp_path / method
    proc = start(run_dir, "--mode", "server", "--method", method, "--nproc", "3",
                 "--h", "0.05,0.1,0.2", "--time", "3", "--save-gradients", *extra)
    wait_for_iteration(run_dir, 3, proc)
    os.kill(pid_of(run_dir, "agent1"), signal.SIGKILL)
    code, out, err = finish(proc)
    assert code == 0, err
    s = json.loads(out)
    left = [e for e in s["events"] if e["event"] == "agent_left"]
    assert [e["agent"] for e in left] == [1], s["events"]
    t_left = left[0]["time"]
    assert 0 < t_left < s["wall_seconds"]
    assert s["wall_seconds"] >= 3.0
    rr = rounds(run_dir)
    later = [r for r in rr if r["start"] > t_left + 0.5]
    assert later, "the run went on after the agent left"
    assert all(r["counts"][1] == 0 for r in later)
    assert sum(r["counts"][0] + r["counts"][2] for r in later) > 0
    if method == "rennala_nigt":
        assert all(sum(r["counts"]) == 6 for r in rr)
        saved = np.load(run_dir / "gradients.npz")
        for j in range(saved["g"].shape[0]):
            ref = recomputed_gradient(run_dir, int(saved["round"][j]), saved["theta"][j],
                                      saved["counts"][j], "rennala")
            np.testing.assert_allclose(saved["g"][j], ref, rtol=1e-10, atol=1e-12)
    else:  # one gradient per server update
        assert all(sum(r["counts"]) == 1 for r in rr)
        assert all(r["kind"] == "greedy" for r in rr)
        _check_afedpg(run_dir, agent_momentum=False)


@pytest.mark.slow
def test_afedpg_agent_momentum_gradients_and_updates(tmp_path):
    """AFedPG as its paper defines it (the agent forms (1 - eta) d_j + eta g from the d_j it
    received): gradients recomputed at the points sent, updates replayed, staleness."""
    run_dir = tmp_path / "agent"
    run(run_dir, "--mode", "server", "--method", "afedpg_agent", "--nproc", "2",
        "--h", "0.03,0.05", "--iterations", "30", "--save-gradients")
    _check_afedpg(run_dir, agent_momentum=True)


def test_malenia_server_returns_the_mean_of_agent_means(tmp_path):
    """Algorithm 3 at the server with unequal counts per agent: the returned vector is
    1/n sum_i gbar_i / M_i of exactly the counted samples (not their pooled mean)."""
    run_dir = tmp_path / "mal"
    run(run_dir, "--mode", "server", "--method", "malenia_nigt", "--family", "reward",
        "--nproc", "3", "--h", "0.04,0.08,0.2", "--M", "9", "--M-init", "9",
        "--iterations", "2", "--save-gradients")
    saved = np.load(run_dir / "gradients.npz")
    assert any(len(set(c.tolist())) > 1 for c in saved["counts"])  # pooled != mean of means
    for j in range(saved["g"].shape[0]):
        ref = recomputed_gradient(run_dir, int(saved["round"][j]), saved["theta"][j],
                                  saved["counts"][j], "malenia")
        np.testing.assert_allclose(saved["g"][j], ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("method, frozen", [
    ("rennala_nigt", "agent0"),
    pytest.param("rennala_nigt", "agent2", marks=pytest.mark.slow),
    pytest.param("afedpg", "agent0", marks=pytest.mark.slow),
])
def test_a_frozen_agent_does_not_stall_the_server(tmp_path, method, frozen):
    """An agent frozen with SIGSTOP for 3 s (the fastest, or the slowest): the server's sends
    to it never block its loop, so rounds go on with the others at their pace (each round
    well under the freeze), and the frozen agent rejoins when it wakes."""
    run_dir = tmp_path / "frozen"
    h = [0.05, 0.1, 0.2]
    extra = ["--M", "4", "--M-init", "4"] if method == "rennala_nigt" else []
    proc = start(run_dir, "--mode", "server", "--method", method, "--nproc", "3",
                 "--h", ",".join(map(str, h)), "--time", "7", *extra)
    p = wait_for_iteration(run_dir, 3, proc)
    pid = pid_of(run_dir, frozen)
    os.kill(pid, signal.SIGSTOP)
    t_freeze = p["time"]
    time.sleep(3.0)
    os.kill(pid, signal.SIGCONT)
    code, out, err = finish(proc)
    assert code == 0, err
    rr = rounds(run_dir)
    during = [r for r in rr if t_freeze + 0.5 < r["start"] < t_freeze + 2.5]
    assert len(during) >= 3, "the run stalled while an agent was frozen"
    # without the frozen agent a Rennala round of M = 4 takes at most 4 x 0.2 s; AFedPG's
    # updates come every 0.1 s
    assert max(r["duration"] for r in during) < 1.0, [r["duration"] for r in during]
    if frozen == "agent0":  # the fastest contributes to every round: it rejoins
        assert any(r["counts"][0] > 0 for r in rr if r["start"] > t_freeze + 3.5), \
            "the agent did not rejoin after it woke"
    assert not [e for e in json.loads(out)["events"] if e["event"] == "agent_left"]


def test_an_agent_slower_than_the_timeout_is_slow_not_dead(tmp_path):
    """--h 0.05,0.1,3 --timeout 1: agent 2 never finishes a gradient before the next round
    interrupts it; it is recorded as slow, never as left, and the run completes with the
    other two (a timeout ends no connection)."""
    run_dir = tmp_path / "slow"
    s = run(run_dir, "--mode", "server", "--nproc", "3", "--h", "0.05,0.1,3", "--M", "4",
            "--M-init", "4", "--time", "3.5", "--timeout", "1")
    kinds = [e["event"] for e in s["events"]]
    assert "agent_left" not in kinds, s["events"]
    slow = [e for e in s["events"] if e["event"] == "agent_slow"]
    assert [e["agent"] for e in slow] == [2] and slow[0]["time"] >= 1.0
    assert s["wall_seconds"] >= 3.5


@pytest.mark.parametrize("phase", [pytest.param("start", marks=pytest.mark.slow), "hello"])
def test_an_agent_lost_while_starting_ends_the_launch_naming_it(tmp_path, phase):
    """Agent 1 dies before the roll call (``start``) or after it, while the processes
    connect (``hello``): the launch ends within --rdzv-timeout (plus start-up) with one
    line naming agent 1, never a raw store timeout."""
    t0 = time.monotonic()
    proc = start(tmp_path / phase, "--mode", "server", "--nproc", "3", "--h", "0.05",
                 "--iterations", "5", "--rdzv-timeout", "4",
                 env={"APGA_TEST_FAULT": f"agent1:{phase}"})
    code, out, err = finish(proc, timeout=120)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1, err
    assert "agent 1" in lines[0] and "rdzv-timeout" in lines[0], lines[0]
    assert time.monotonic() - t0 < 4 + 60


def test_an_agent_lost_after_the_group_formed_leaves_the_run(tmp_path):
    """Agent 1 dies right after the process group formed (before its first round): the
    server records that it left and Rennala finishes with the other two."""
    s = run(tmp_path / "group", "--mode", "server", "--nproc", "3", "--h", "0.05,0.1,0.2",
            "--M", "4", "--M-init", "4", "--iterations", "5", "--rdzv-timeout", "20",
            env={"APGA_TEST_FAULT": "agent1:group"})
    assert [e["agent"] for e in s["events"] if e["event"] == "agent_left"] == [1], s["events"]
    assert s["iterations"] == 5
    assert s["round_stats"]["counts_total"][1] == 0
