"""Helpers of the distributed tests: run ``apga launch`` as a subprocess, read its run folder.

Every launch runs in its own session with a hard timeout, so a test never leaves
processes behind and never hangs: on timeout the whole process group is killed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

LAUNCH_TIMEOUT = 150.0


def launch_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "algorithms.cli.main", "launch", *args]


def start(out: Path, *args: str) -> subprocess.Popen:
    """Start ``apga launch --out OUT ARGS --json --no-progress`` in its own session."""
    return subprocess.Popen(
        launch_cmd("--out", str(out), "--json", "--no-progress", *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def finish(proc: subprocess.Popen, timeout: float = LAUNCH_TIMEOUT) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"apga launch did not finish in {timeout} s; stderr: {err}") from None
    return proc.returncode, out, err


def run(out: Path, *args: str, timeout: float = LAUNCH_TIMEOUT) -> dict:
    """Run a launch to the end; returns its --json summary (and asserts exit 0)."""
    code, stdout, stderr = finish(start(out, *args), timeout)
    assert code == 0, f"exit {code}: {stderr}"
    return json.loads(stdout)


def wait_for_iteration(run_dir: Path, iteration: int, timeout: float = 90.0) -> dict:
    """Block until the run's progress.json reports ``iteration`` (or fail)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            p = json.loads((run_dir / "progress.json").read_text())
            if p["iteration"] >= iteration:
                return p
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"the run in {run_dir} never reached iteration {iteration}")


def pid_of(run_dir: Path, name: str) -> int:
    return json.loads((run_dir / "pids" / f"{name}.json").read_text())["pid"]


def recomputed_gradient(run_dir: Path, r: int, theta: np.ndarray, counts: np.ndarray,
                        kind: str) -> np.ndarray:
    """The aggregate of exactly the samples the record says round r used, recomputed."""
    from algorithms.backends.distributed.emulate import gradient_rng
    from algorithms.backends.distributed.problem import build_oracle
    from algorithms.backends.distributed.spec import RunSpec

    spec = RunSpec.load(run_dir / "spec.json")
    oracle, _ = build_oracle(spec)
    per_agent = []
    for i, c in enumerate(counts):
        rows = [oracle.sample_gradients(theta, np.array([i]), gradient_rng(spec.seed, i, r, k))[0]
                for k in range(int(c))]
        per_agent.append(np.sum(rows, axis=0) if rows else np.zeros(oracle.dim))
    per_agent = np.array(per_agent)
    if kind == "rennala":
        return per_agent.sum(axis=0) / counts.sum()
    return (per_agent / counts[:, None]).mean(axis=0)
