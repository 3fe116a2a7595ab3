"""apga launch as a whole: nodes meeting through a rendezvous on 127.0.0.1; what must end a
launch with one line (never a hang); folders claimed by one launch; failures reported
from the last attempt; signals, resumption and bounded resources."""

from __future__ import annotations

import json
import os
import signal
import socket
import time

import numpy as np
import pytest

pytest.importorskip("torch")

from algorithms.cli.main import main  # noqa: E402
from algorithms.run.report import read_csv  # noqa: E402
from tests.distributed._launch import (  # noqa: E402
    alive,
    finish,
    pids,
    rounds,
    run,
    start,
    wait_for,
    wait_for_iteration,
)

pytestmark = pytest.mark.distributed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


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
    full = [s for s in summaries if "round_stats" in s]
    assert len(full) == 1
    s = full[0]
    assert s["n"] == 2 and s["iterations"] == 3
    rr = rounds(s["run_dir"])
    assert all(sum(r["counts"]) == 6 for r in rr)
    # h = (0.05, 0.1), M = 6: 4 + 2 on the clock (t = 0.2 s, a tie at 0.2 s between them)
    assert all(abs(r["counts"][0] - 4) <= 1 for r in rr)


def test_nodes_started_with_different_arguments_all_exit_2_naming_them(tmp_path):
    """--alpha 0.05 on one node, 0.5 on the other: every node verifies at start that it runs
    the same spec; both exit 2 with one line naming --alpha, before any computation."""
    endpoint = f"127.0.0.1:{_free_port()}"
    base = ["--nnodes", "2", "--nproc", "1", "--rdzv-endpoint", endpoint, "--h", "0.05",
            "--iterations", "3"]
    procs = [start(tmp_path / f"n{k}", *base, "--alpha", a) for k, a in enumerate(("0.05", "0.5"))]
    results = [finish(p) for p in procs]
    for code, _, err in results:
        line = _one_line(err)
        assert code == 2 and "--alpha" in line and "0.5" in line and "0.05" in line, err
    assert not any((tmp_path / f"n{k}" / "rennala_nigt_seed0.csv").exists() and
                   len(read_csv(tmp_path / f"n{k}" / "rennala_nigt_seed0.csv")) > 0
                   for k in range(2))


def test_a_node_that_never_joins_ends_the_launch_with_exit_2(tmp_path):
    """--nnodes 2 but only one node starts: the rendezvous times out; one line, exit 2."""
    t0 = time.monotonic()
    proc = start(tmp_path / "alone", "--nnodes", "2", "--nproc", "1", "--rdzv-endpoint",
                 f"127.0.0.1:{_free_port()}", "--rdzv-timeout", "3", "--iterations", "2")
    code, out, err = finish(proc, timeout=90)
    assert code == 2
    assert "rdzv-endpoint" in _one_line(err)
    assert time.monotonic() - t0 < 60


def test_an_endpoint_held_by_another_listener_ends_within_the_rdzv_timeout(tmp_path):
    """The endpoint's port is held by a listener that is not a c10d store (it accepts and
    never answers): the launch still ends after --rdzv-timeout with one line, exit 2."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(8)
        endpoint = f"127.0.0.1:{srv.getsockname()[1]}"
        t0 = time.monotonic()
        proc = start(tmp_path / "held", "--nnodes", "2", "--nproc", "1", "--node-rank", "1",
                     "--rdzv-endpoint", endpoint, "--rdzv-timeout", "3", "--iterations", "2")
        code, out, err = finish(proc, timeout=120)
    assert code == 2 and "rdzv" in _one_line(err), err
    assert time.monotonic() - t0 < 3 + 60


BAD = [
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
    (["--rdzv-endpoint", "127.0.0.1:2\u0669"], "rdzv-endpoint"),  # an Arabic-Indic digit
    (["--rdzv-endpoint", "127.0.0.1:70000"], "rdzv-endpoint"),
    (["--nnodes", "2", "--node-rank", "5", "--rdzv-endpoint", "127.0.0.1:29999"], "node-rank"),
    (["--nnodes", "2", "--mode", "server", "--rdzv-endpoint", "127.0.0.1:29999"], "node-rank"),
    (["--env", "CartPole-v1"], "env"),
    (["--env", "Hopper-v3"], "env"),
    (["--env", "synthetic", "--family", "bogus"], "family"),
    (["--checkpoint-every", "0"], "checkpoint-every"),
]


@pytest.mark.parametrize("dry", [False, True])
@pytest.mark.parametrize("argv, name", BAD)
def test_bad_arguments_exit_2_before_any_process_starts(tmp_path, capsys, argv, name, dry):
    """The real run and --dry-run refuse the same arguments, with one line naming them."""
    extra = ["--dry-run"] if dry else []
    code = main(["launch", "--out", str(tmp_path / "o"), *argv, *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and name in err[0], err
    assert not (tmp_path / "o" / "spec.json").exists()


@pytest.mark.parametrize("dry", [False, True])
def test_an_unwritable_out_is_refused_by_the_run_and_the_dry_run(tmp_path, capsys, dry):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    extra = ["--dry-run"] if dry else []
    assert main(["launch", "--out", str(blocker / "run"), *extra]) == 2
    assert "out" in capsys.readouterr().err


def test_calibrate_dry_run_refuses_an_unwritable_output(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["calibrate", "--output", str(blocker / "c.csv"), "--dry-run"]) == 2
    assert "output" in capsys.readouterr().err


def test_out_folder_of_another_run_is_refused(tmp_path, capsys):
    out = tmp_path / "used"
    out.mkdir()
    (out / "summary.json").write_text("{}")
    assert main(["launch", "--out", str(out)]) == 2
    assert "out" in capsys.readouterr().err


def test_two_launches_into_one_folder_at_once_one_is_refused(tmp_path):
    """Started at the same moment with the same --out: one runs, the other is refused with one
    line (the folder lock is taken before the folder is checked); every iteration is in
    the records once."""
    out = tmp_path / "same"
    args = ["--nproc", "2", "--h", "0.05", "--M", "4", "--M-init", "4", "--iterations", "4"]
    procs = [start(out, *args) for _ in range(2)]
    results = sorted(finish(p) for p in procs)
    assert [code for code, _, _ in results] == [0, 2], [err for _, _, err in results]
    assert "--out" in _one_line(results[1][2])
    records = read_csv(out / "rennala_nigt_seed0.csv")
    assert [r.iteration for r in records] == list(range(5))


def test_a_bad_argument_seen_on_a_rank_names_the_option(tmp_path):
    """A rank that rejects its input (here: the rendezvous formed 2 processes for a run of
    3 agents) writes one line naming the option as typed (--nproc); the elastic agent stops
    every rank."""
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
    assert code == 2 and line.startswith("--nproc:")


def test_after_restarts_run_out_the_last_failure_is_reported(tmp_path):
    """Rank 1 fails on every attempt (an injected error naming its attempt) with
    --max-restarts 1: the line shown is attempt 1's, not a stale one of attempt 0."""
    proc = start(tmp_path / "r", "--nproc", "2", "--h", "0.05", "--iterations", "3",
                 "--max-restarts", "1", env={"APGA_TEST_FAULT": "rank1:group!"})
    code, out, err = finish(proc)
    line = _one_line(err)
    assert code == 1 and "injected failure at group on attempt 1" in line, err


def test_sigterm_ends_every_process_and_the_run_resumes(tmp_path):
    """SIGTERM to apga launch (AllReduce): every process it started is gone within a few
    seconds, a checkpoint of the last completed iteration is left, and the same command
    with --resume completes the run: every iteration appears exactly once, in order."""
    out = tmp_path / "sig"
    args = ["--nproc", "2", "--h", "0.03,0.05", "--M", "4", "--M-init", "4",
            "--iterations", "60", "--checkpoint-every", "1000"]
    proc = start(out, *args)
    wait_for_iteration(out, 8, proc)
    workers = pids(out)
    assert workers and all(alive(p) for p in workers)
    t0 = time.monotonic()
    os.kill(proc.pid, signal.SIGTERM)
    code, _, err = finish(proc, timeout=60)
    assert time.monotonic() - t0 < 15
    assert code == 128 + signal.SIGTERM and "interrupted" in _one_line(err) and \
        "--resume" in err, err
    assert not [p for p in workers if alive(p)]
    s = run(out, *args, "--resume")
    assert s["iterations"] == 60
    records = read_csv(out / "rennala_nigt_seed0.csv")
    assert [r.iteration for r in records] == list(range(61))
    assert [e["event"] for e in s["events"]].count("resume") == 1
    assert [r["global_iteration"] for r in rounds(out)] == list(range(61))


def test_sigint_ends_a_server_mode_launch_and_it_resumes(tmp_path):
    """The same with SIGINT (Ctrl-C) in server mode (the server and every agent gone within
    seconds), then --resume; AFedPG resumes sending every agent the point it was computing
    at."""
    out = tmp_path / "sigsrv"
    args = ["--mode", "server", "--method", "afedpg", "--nproc", "2", "--h", "0.03,0.05",
            "--iterations", "80"]
    proc = start(out, *args)
    wait_for_iteration(out, 10, proc)
    workers = pids(out)
    t0 = time.monotonic()
    os.kill(proc.pid, signal.SIGINT)
    code, _, err = finish(proc, timeout=60)
    assert time.monotonic() - t0 < 15
    assert code == 128 + signal.SIGINT and "interrupted" in _one_line(err), err
    assert not [p for p in workers if alive(p)]
    s = run(out, *args, "--resume")
    assert s["iterations"] == 80
    records = read_csv(out / "afedpg_seed0.csv")
    assert [r.iteration for r in records] == list(range(81))


def test_a_killed_launch_resumes_from_its_last_checkpoint(tmp_path):
    """SIGKILL of the whole launch (launcher and workers at once, as a crashed machine): a
    rerun without --resume is refused; the folder then cannot take error files (``errors``
    became a file) and a resumed attempt fails on rank 1: its line still reaches the
    terminal, saying where it could not be written; the next --resume continues from the
    last periodic checkpoint (--checkpoint-every 3) and every iteration appears once."""
    out = tmp_path / "kill"
    args = ["--nproc", "2", "--h", "0.03,0.05", "--M", "4", "--M-init", "4",
            "--iterations", "40", "--checkpoint-every", "3"]
    proc = start(out, *args)
    wait_for(out, proc, lambda p: (p.get("checkpoint_iteration") or 0) >= 6, "a checkpoint")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    code, _, err = finish(start(out, *args))
    assert code == 2 and "--resume" in _one_line(err)
    (out / "errors").write_text("not a folder")
    code, _, err = finish(start(out, *args, "--resume", env={"APGA_TEST_FAULT": "rank1:group!"}))
    line = _one_line(err)
    assert code == 1 and "injected failure" in line and "could not write it" in line, err
    (out / "errors").unlink()
    s = run(out, *args, "--resume")
    records = read_csv(out / "rennala_nigt_seed0.csv")
    assert [r.iteration for r in records] == list(range(41))
    resumed = [e for e in s["events"] if e["event"] == "resume"]
    assert resumed[0]["resumed_at_iteration"] % 3 == 0
    assert resumed[0]["resumed_at_iteration"] >= 6


def test_resume_refuses_other_arguments(tmp_path, capsys):
    """--resume into a folder holding a run of other arguments: one line naming them, exit 2,
    before anything starts (the check needs only the folder's spec.json)."""
    from algorithms.backends.distributed.spec import RunSpec

    out = tmp_path / "other"
    args = ["--nproc", "2", "--h", "0.02", "--iterations", "3", "--M", "2", "--M-init", "2"]
    assert main(["launch", *args, "--dry-run", "--json"]) == 0  # the spec that run had
    out.mkdir()
    RunSpec(**json.loads(capsys.readouterr().out)["spec"]).save(out / "spec.json")
    assert main(["launch", "--out", str(out), *args, "--alpha", "0.5", "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--alpha" in err[0], err
    assert main(["launch", "--out", str(out), *args, "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no checkpoint" in err[0], err


def test_resources_stay_bounded_with_cheap_gradients(tmp_path):
    """Real speed on the synthetic oracle (a gradient costs microseconds), 2 identical agents,
    M = 4, 1500 iterations: the store holds the same few keys at the end as after a few
    rounds (finished rounds' keys are deleted), the clerk never lets an agent run more
    than two registrations ahead (gradients evaluated per round <= M + 2 per agent, both
    agents contribute), summary.json is small, and rank 0's memory does not grow."""
    out = tmp_path / "cheap"
    K = 1500
    proc = start(out, "--env", "synthetic", "--dim", "10", "--nproc", "2", "--M", "4",
                 "--M-init", "4", "--iterations", str(K), "--checkpoint-every", "100")
    early = wait_for(out, proc, lambda p: p["iteration"] >= 200 and p["store_keys"] is not None,
                     "iteration 200")
    code, stdout, err = finish(proc)
    assert code == 0, err
    late = json.loads((out / "progress.json").read_text())
    assert late["iteration"] == K
    assert late["store_keys"] <= early["store_keys"] + 8, (early, late)
    assert late["rss_bytes"] <= early["rss_bytes"] + 20 * 2**20, (early, late)
    rr = rounds(out)
    evaluated = np.array([r["evaluated"] for r in rr])
    assert evaluated.max() <= 4 + 2 * 2 + 2, np.bincount(evaluated)
    both = sum(1 for r in rr if min(r["counts"]) > 0)
    assert both >= len(rr) // 10, "one agent took every ticket"
    assert (out / "summary.json").stat().st_size < 20_000


def test_summary_holds_the_prediction_against_the_actual_seconds(tmp_path):
    """An emulated launch (h = 60/120 ms, large against this machine's overheads) predicts
    itself from the simulated clock of its seed; summary.json has both numbers."""
    s = run(tmp_path / "run", "--h", "0.06,0.12", "--kappa", "0.01", "--M", "4",
            "--M-init", "4", "--iterations", "5")
    p = s["prediction"]
    assert p["source"].startswith("simulated clock") and p["actual_seconds"] == s[
        "wall_seconds"]
    assert p["inside_interval"] and p["error"] < 0.15
    on_disk = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert on_disk["prediction"] == p
