"""apga launch as a whole: two "nodes" meeting through a c10d rendezvous on 127.0.0.1, and
failures that must end the launch with one line and exit 2, never a hang."""

from __future__ import annotations

import json
import socket
import time

import pytest

pytest.importorskip("torch")

from algorithms.cli.main import main  # noqa: E402
from tests.distributed._launch import finish, start  # noqa: E402

pytestmark = pytest.mark.distributed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_nodes_meet_through_a_c10d_rendezvous(tmp_path):
    """Two launches with --nnodes 2 and the same endpoint form one run of n = 2 agents:
    exactly one of them (the node holding rank 0) writes the records."""
    endpoint = f"127.0.0.1:{_free_port()}"
    args = ["--nnodes", "2", "--nproc", "1", "--rdzv-endpoint", endpoint, "--h", "0.05,0.1",
            "--M", "6", "--M-init", "6", "--iterations", "3"]
    procs = [start(tmp_path / f"node{k}", *args) for k in range(2)]
    results = [finish(p) for p in procs]
    assert [code for code, _, _ in results] == [0, 0], [err for _, _, err in results]
    summaries = [json.loads(out) for _, out, _ in results]
    full = [s for s in summaries if "rounds" in s]
    assert len(full) == 1
    s = full[0]
    assert s["n"] == 2 and s["iterations"] == 3
    assert all(sum(r["counts"]) == 6 for r in s["rounds"])
    # h = (0.05, 0.1), M = 6: 4 + 2 on the clock (t = 0.2 s), up to one gradient of jitter
    assert all(abs(r["counts"][0] - 4) <= 1 for r in s["rounds"])


def test_a_node_that_never_joins_ends_the_launch_with_exit_2(tmp_path):
    """--nnodes 2 but only one node starts: the rendezvous times out; one line, exit 2."""
    t0 = time.monotonic()
    proc = start(tmp_path / "alone", "--nnodes", "2", "--nproc", "1", "--rdzv-endpoint",
                 f"127.0.0.1:{_free_port()}", "--rdzv-timeout", "3", "--iterations", "2")
    code, out, err = finish(proc, timeout=90)
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "rdzv-endpoint" in lines[0], err
    assert time.monotonic() - t0 < 60


@pytest.mark.parametrize(
    "argv, name",
    [
        (["--nproc", "0"], "nproc"),
        (["--nproc", "3", "--h", "1,2"], "h"),
        (["--method", "afedpg"], "method"),
        (["--mode", "ring"], "mode"),
        (["--env", "NoSuchEnv-v0"], "env"),
        (["--iterations", "0"], "iterations"),
        (["--time", "nan"], "time"),
        (["--M", "0"], "M"),
        (["--kappa", "fast"], "kappa"),
        (["--timing", "exponential"], "timing"),
        (["--rdzv-endpoint", "nohost"], "rdzv-endpoint"),
        (["--nnodes", "2"], "rdzv-endpoint"),
    ],
)
def test_bad_arguments_exit_2_before_any_process_starts(tmp_path, capsys, argv, name):
    code = main(["launch", "--out", str(tmp_path / "o"), *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and name in err[0], err
    assert not (tmp_path / "o" / "spec.json").exists()


def test_out_folder_of_another_run_is_refused(tmp_path, capsys):
    out = tmp_path / "used"
    out.mkdir()
    (out / "summary.json").write_text("{}")
    assert main(["launch", "--out", str(out)]) == 2
    assert "out" in capsys.readouterr().err


def test_a_bad_argument_seen_on_a_rank_ends_the_whole_launch(tmp_path):
    """A rank that rejects its input (here: the rendezvous formed 2 processes for a run of
    3 agents) writes one line; the elastic agent stops every rank; exit status 2."""
    from algorithms.backends.distributed.node import NodeConfig, first_error, run_node
    from algorithms.backends.distributed.spec import RunSpec

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    RunSpec(method="rennala_nigt", mode="allreduce", n=3, iterations=2).save(
        run_dir / "spec.json")
    cfg = NodeConfig(run_dir=str(run_dir), nproc=2, nnodes=1,
                     endpoint=f"127.0.0.1:{_free_port()}", run_id="bad", join_timeout=20)
    result = run_node(cfg)
    assert result.is_failed()
    code, line = first_error(run_dir)
    assert code == 2 and line.startswith("nproc:")


def test_the_clerk_answers_in_order_and_hands_errors_to_the_agent():
    """Registrations run on the clerk's thread; answers come back in submission order, and an
    exception raised there is raised by the agent's thread when it takes the answers."""
    import threading

    from algorithms.backends.distributed.signals import Clerk

    clerk = Clerk()
    seen = []
    for k in range(50):
        clerk.submit(lambda k=k: (seen.append(threading.current_thread().name) or (k, k == 49)))
    answers = clerk.take(wait_for=50, timeout=10)
    assert [a[0] for a in answers] == list(range(50)) and answers[-1][1]
    assert set(seen) == {"apga-clerk"}

    def boom():
        raise RuntimeError("store gone")

    clerk.submit(boom)
    with pytest.raises(RuntimeError, match="store gone"):
        clerk.take(wait_for=1, timeout=10)
    clerk.close()


def test_summary_holds_the_prediction_against_the_actual_seconds(tmp_path):
    """An emulated launch (h = 60/120 ms, large against this machine's overheads) predicts
    itself from the simulated clock of its seed; summary.json has both numbers."""
    from tests.distributed._launch import run

    s = run(tmp_path / "run", "--h", "0.06,0.12", "--kappa", "0.01", "--M", "4",
            "--M-init", "4", "--iterations", "5")
    p = s["prediction"]
    assert p["source"].startswith("simulated clock") and p["actual_seconds"] == s[
        "wall_seconds"]
    assert p["inside_interval"] and p["error"] < 0.15
    on_disk = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert on_disk["prediction"] == p
