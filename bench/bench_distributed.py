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

Usage: ``python bench/bench_distributed.py [--iterations K] [--skip-mujoco]``. Every launch
is a real ``apga launch`` (processes, rendezvous, gloo); start-up is not timed, only the
rounds the records report. Run it on a quiet machine: other load shows up as overhead.
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
         "--no-progress", "--output", str(tmp / f"cal{ranks}.csv")],
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
         "--no-progress", "--output", str(out)],
        capture_output=True, text=True, timeout=600)
    if cal.returncode != 0:
        raise SystemExit(f"calibrate failed: {cal.stderr.strip()}")
    return float(sum(1.0 / h for h in json.loads(cal.stdout)["h"]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--iterations", type=int, default=40)
    p.add_argument("--skip-mujoco", action="store_true")
    a = p.parse_args(argv)
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
