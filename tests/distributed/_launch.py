"""Helpers of the distributed tests: run ``apga launch`` as a subprocess, read its run folder.

Every launch runs in its own session (process group) with a hard timeout, and every group
a test started is killed with SIGKILL when the test ends (``conftest.py``), whatever the
test's outcome; a launch also gets SIGTERM if pytest itself dies (``PR_SET_PDEATHSIG``),
and then ends every process it started. So a test never leaves processes behind.

Waits are bounded by the emulated times they wait for plus a start-up allowance
(:data:`STARTUP`: forking torch workers on a loaded 2-core machine), and give up at once
if the launch has exited.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from algorithms.backends.distributed.pids import alive  # noqa: F401 - used by the tests

LAUNCH_TIMEOUT = 240.0
#: Seconds a launch may take to start its processes on a busy 2-core machine.
STARTUP = 120.0
#: Process groups started by the running test (killed at teardown by conftest.py).
STARTED: list[subprocess.Popen] = []


def launch_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "algorithms.cli.main", "launch", *args]


_LIBC = ctypes.CDLL(None) if sys.platform.startswith("linux") else None


def _die_with_pytest() -> None:  # runs in the child before exec: nothing to import
    if _LIBC is not None:
        _LIBC.prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG


def popen(cmd: list[str], env: dict | None = None) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=_die_with_pytest,
                            env=None if env is None else {**os.environ, **env})
    STARTED.append(proc)
    return proc


def start(out: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    """Start ``apga launch --out OUT ARGS --json --quiet`` in its own session."""
    return popen(launch_cmd("--out", str(out), "--json", "--quiet", *args), env)


def kill_all() -> None:
    """SIGKILL every process group the test started (launch, fork server, workers)."""
    while STARTED:
        proc = STARTED.pop()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            proc.communicate(timeout=10)
        except (subprocess.TimeoutExpired, ValueError, OSError):
            pass


def finish(proc: subprocess.Popen, timeout: float = LAUNCH_TIMEOUT) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"apga launch did not finish in {timeout} s; stderr: {err}") from None
    return proc.returncode, out, err


def run(out: Path, *args: str, timeout: float = LAUNCH_TIMEOUT, env: dict | None = None) -> dict:
    """Run a launch to the end; returns its --json summary (and asserts exit 0)."""
    code, stdout, stderr = finish(start(out, *args, env=env), timeout)
    assert code == 0, f"exit {code}: {stderr}"
    return json.loads(stdout)


def progress(run_dir: Path) -> dict | None:
    try:
        return json.loads((run_dir / "progress.json").read_text())
    except (OSError, ValueError):
        return None


def wait_for(run_dir: Path, proc: subprocess.Popen | None, test, what: str,
             timeout: float = STARTUP) -> dict:
    """Block until ``test(progress)`` holds (or fail, at once if the launch exited)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        p = progress(run_dir)
        if p is not None and test(p):
            return p
        if proc is not None and proc.poll() is not None:
            _, err = proc.communicate()
            raise AssertionError(f"the launch exited ({proc.returncode}) before {what}: {err}")
        time.sleep(0.05)
    raise AssertionError(f"the run in {run_dir} never reached {what} in {timeout:g} s")


def wait_for_iteration(run_dir: Path, iteration: int, proc: subprocess.Popen | None = None,
                       timeout: float = STARTUP) -> dict:
    """Block until the run's progress.json reports ``iteration``."""
    return wait_for(run_dir, proc, lambda p: p["iteration"] >= iteration,
                    f"iteration {iteration}", timeout)


def rounds(run_dir: Path) -> list[dict]:
    from algorithms.backends.distributed.runlog import read_rounds

    return read_rounds(run_dir)


def pid_of(run_dir: Path, name: str) -> int:
    return json.loads((run_dir / "pids" / f"{name}.json").read_text())["pid"]


def pids(run_dir: Path) -> list[int]:
    return [json.loads(p.read_text())["pid"] for p in (run_dir / "pids").glob("*.json")]


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
