"""Cost of the real backend (``apga launch``), against baselines measured in the same run.

1. Coordination overhead per round: Rennala NIGT in AllReduce mode on the synthetic oracle
   with d = 30,000 (a Gaussian draw per gradient, no simulation), every agent emulating
   h = 50 ms per gradient and M = n, so the simulated clock's round is exactly h
   (everyone's first gradient, kappa = 0). The overhead is the measured round minus h: the
   store's ticket counter, the stop signal reaching every rank, the all_reduce of 30,000
   floats and the NIGT update. Target (issue 9): <= 5 ms per round at 4 ranks. Baseline,
   measured in the same run by ``apga calibrate`` on as many ranks: the raw all_reduce of
   the same buffer (what a round cannot do without).
2. MuJoCo gradient throughput: 1 and 2 ranks computing Hopper-v4 gradients (H = 64) at
   once at theta_0, each with the store ticket a round pays per gradient, at the machine's
   real speed (``apga calibrate``'s timing, so every gradient is the same work whatever the
   number of ranks); gradients per second = sum_i 1/h_i. Target: 2 ranks >= 1.7x one rank
   (on a machine with 2 free cores).

3. Resources over a long run (``--resources``): Rennala NIGT on the synthetic oracle
   (d = 10, real speed: a gradient costs microseconds, so the run is all coordination),
   2 ranks, M = 2, 10^5 iterations. Rank 0's resident memory and the number of keys in
   the c10d store (which lives in rank 0's process) are read from the run's progress
   file as it goes; the baseline is their value after 10^3 iterations in the same run.
   Target: both flat (ratio ~1; before, the store gained ~2-11 keys per round and
   summary.json held every round). Also prints iterations per second.

Usage: ``python bench/bench_distributed.py [--iterations K] [--skip-mujoco] [--resources
[--long-iterations N]]``. Every launch is a real ``apga launch`` (processes, rendezvous,
gloo); start-up is not timed, only the rounds the records report. Run it on a quiet
machine: other load shows up as overhead.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from algorithms.backends.distributed.launcher import launch_json

OVERHEAD_TARGET_MS = 5.0
THROUGHPUT_TARGET = 1.7


def overhead(tmp: Path, ranks: int, iterations: int, h: float = 0.05, d: int = 30_000):
    """(median round, h, raw all_reduce): the baseline is ``apga calibrate``'s timing of the
    same all_reduce (d + 4n + 1 float64, after a barrier) on the same number of ranks."""
    s = launch_json(tmp / f"overhead{ranks}", "--env", "synthetic", "--dim", str(d), "--nproc",
                    str(ranks), "--h", str(h), "--M", str(ranks), "--M-init", str(ranks),
                    "--iterations", str(iterations))
    durations = np.array([r["duration"] for r in s["rounds"][1:]])
    cal = subprocess.run(
        [sys.executable, "-m", "algorithms.cli.main", "calibrate", "--env", "synthetic",
         "--dim", str(d), "--nproc", str(ranks), "--repetitions", str(iterations), "--json",
         "--quiet", "--output", str(tmp / f"cal{ranks}.csv")],
        capture_output=True, text=True, timeout=600)
    if cal.returncode != 0:
        raise SystemExit(f"calibrate failed: {cal.stderr.strip()}")
    return (float(np.median(durations)), h,
            json.loads(cal.stdout)["primitives"]["all_reduce_round_buffer"])


def throughput(tmp: Path, ranks: int, repetitions: int) -> float:
    """Gradients per second of ``ranks`` agents computing at once at theta_0 (the same work
    per gradient whatever the number of ranks): sum_i 1/h_i from ``apga calibrate``."""
    out = tmp / f"mujoco{ranks}.csv"
    cal = subprocess.run(
        [sys.executable, "-m", "algorithms.cli.main", "calibrate", "--env", "Hopper-v4", "--H",
         "64", "--nproc", str(ranks), "--repetitions", str(repetitions), "--json",
         "--quiet", "--output", str(out)],
        capture_output=True, text=True, timeout=600)
    if cal.returncode != 0:
        raise SystemExit(f"calibrate failed: {cal.stderr.strip()}")
    return float(sum(1.0 / h for h in json.loads(cal.stdout)["h"]))


def resources(tmp: Path, iterations: int) -> list[tuple[int, float, int, int]]:
    """(iteration, seconds, rank 0 RSS bytes, store keys) sampled from the run's progress."""
    import os
    import signal
    import time

    out = tmp / "long"
    cmd = [sys.executable, "-m", "algorithms.cli.main", "launch", "--out", str(out), "--json",
           "--quiet", "--env", "synthetic", "--dim", "10", "--nproc", "2", "--M", "2",
           "--M-init", "2", "--iterations", str(iterations), "--checkpoint-every", "1000"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    marks = sorted({int(iterations * f) for f in (0.01, 0.1, 0.25, 0.5, 0.75, 1.0)})
    rows: list[tuple[int, float, int, int]] = []
    try:
        while proc.poll() is None:
            time.sleep(0.2)
            try:
                p = json.loads((out / "progress.json").read_text())
            except (OSError, ValueError):
                continue
            while marks and p["iteration"] >= marks[0] and p.get("store_keys") is not None:
                rows.append((p["iteration"], p["time"], p["rss_bytes"], p["store_keys"]))
                marks.pop(0)
        if proc.returncode != 0:
            raise SystemExit(f"launch failed: {proc.stderr.read().strip()}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--iterations", type=int, default=40)
    p.add_argument("--skip-mujoco", action="store_true")
    p.add_argument("--resources", action="store_true",
                   help="only the long-run resource measurement (3.)")
    p.add_argument("--long-iterations", type=int, default=100_000)
    a = p.parse_args(argv)
    if a.resources:
        with tempfile.TemporaryDirectory() as d:
            rows = resources(Path(d), a.long_iterations)
        base = rows[0]
        print(f"resources over {a.long_iterations} iterations (synthetic d = 10, 2 ranks, "
              "M = 2, real speed); baseline = the first row")
        print(f"{'iteration':>10} {'seconds':>9} {'it/s':>8} {'rank-0 RSS':>11} "
              f"{'ratio':>6} {'store keys':>11} {'ratio':>6}")
        for it, t, rss, keys in rows:
            rate = it / t if t > 0 else float("nan")
            print(f"{it:>10} {t:>9.1f} {rate:>8.0f} {rss / 2**20:>8.1f} MB "
                  f"{rss / base[2]:>6.3f} {keys:>11} {keys / max(base[3], 1):>6.2f}")
        return 0
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        print("coordination overhead per round (synthetic d = 30,000, h = 50 ms, M = n)")
        print(f"{'ranks':>5} {'round (median)':>15} {'clock':>8} {'overhead':>10} "
              f"{'raw all_reduce':>15} {'overhead / all_reduce':>22}")
        over4 = None
        for ranks in (2, 4):
            med, h, raw = overhead(tmp, ranks, a.iterations)
            ms = 1000 * (med - h)
            over4 = ms if ranks == 4 else over4
            print(f"{ranks:>5} {1000 * med:>12.2f} ms {1000 * h:>5.1f} ms {ms:>7.2f} ms "
                  f"{1000 * raw:>12.2f} ms {ms / (1000 * raw):>22.2f}")
        verdict = "meets" if over4 <= OVERHEAD_TARGET_MS else "misses"
        print(f"overhead at 4 ranks: {over4:.2f} ms "
              f"({verdict} the <= {OVERHEAD_TARGET_MS} ms target)")
        if not a.skip_mujoco:
            print("\nMuJoCo gradient throughput (Hopper-v4, H = 64, real speed, at theta_0)")
            one = throughput(tmp, 1, 4 * a.iterations)
            two = throughput(tmp, 2, 4 * a.iterations)
            verdict = "meets" if two / one >= THROUGHPUT_TARGET else "misses"
            print(f"1 rank: {one:.1f} gradients/s   2 ranks: {two:.1f} gradients/s   "
                  f"ratio {two / one:.2f} ({verdict} the >= {THROUGHPUT_TARGET}x target)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
