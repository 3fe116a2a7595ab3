"""Server mode on real processes: Algorithm 2 with a server that receives from any source,
AFedPG's greedy server, and agents that die mid-run."""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest

pytest.importorskip("torch")

from tests.distributed._launch import (  # noqa: E402
    finish,
    pid_of,
    recomputed_gradient,
    start,
    wait_for_iteration,
)

pytestmark = pytest.mark.distributed


@pytest.mark.parametrize(
    "method, extra",
    [("rennala_nigt", ["--M", "6", "--M-init", "6"]), ("afedpg", [])],
)
def test_a_killed_agent_does_not_stop_the_run(tmp_path, method, extra):
    """Agent 1 is killed with SIGKILL mid-run; the run finishes its time budget with the
    other two, the records name the agent that left and when, and it contributes nothing
    after that. Rennala rounds still use exactly M gradients, and their mean is that of
    exactly the counted samples."""
    run_dir = tmp_path / method
    proc = start(run_dir, "--mode", "server", "--method", method, "--nproc", "3",
                 "--h", "0.05,0.1,0.2", "--time", "3", "--save-gradients", *extra)
    wait_for_iteration(run_dir, 3)
    os.kill(pid_of(run_dir, "agent1"), signal.SIGKILL)
    code, out, err = finish(proc)
    assert code == 0, err
    s = json.loads(out)
    left = [e for e in s["events"] if e["event"] == "agent_left"]
    assert [e["agent"] for e in left] == [1], s["events"]
    t_left = left[0]["time"]
    assert 0 < t_left < s["wall_seconds"]
    assert s["wall_seconds"] >= 3.0
    later = [r for r in s["rounds"] if r["start"] > t_left + 0.5]
    assert later, "the run went on after the agent left"
    assert all(r["counts"][1] == 0 for r in later)
    assert sum(r["counts"][0] + r["counts"][2] for r in later) > 0
    if method == "rennala_nigt":
        assert all(sum(r["counts"]) == 6 for r in s["rounds"])
        # Algorithm 2 at the server: the mean of exactly the counted samples (each agent's
        # first counts_i gradients at the broadcast point), before and after the departure
        saved = np.load(run_dir / "gradients.npz")
        for j in range(saved["g"].shape[0]):
            ref = recomputed_gradient(run_dir, int(saved["round"][j]), saved["theta"][j],
                                      saved["counts"][j], "rennala")
            np.testing.assert_allclose(saved["g"][j], ref, rtol=1e-10, atol=1e-12)
    else:  # one gradient per server update
        assert all(sum(r["counts"]) == 1 for r in s["rounds"])
        assert all(r["kind"] == "greedy" for r in s["rounds"])
