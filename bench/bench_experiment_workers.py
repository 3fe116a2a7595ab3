"""Parallel sweeps: ``apga experiment`` with 2 workers against 1, on the same plan (same run).

Figure 1 at the tiny budget (or ``--experiment``/``--budget``) is run twice from scratch in
fresh folders: the sweep (:func:`algorithms.experiments.run_plan`: every tuning and
reported run) with ``--workers 1`` and with ``--workers 2``, each followed by the summary
and verdicts from the stored runs. Prints both wall times, the ratio (target <= 0.60 on a
2-core machine) and whether the two summaries are identical (they must be, bit for bit,
wall-clock fields aside). ``--command`` also times the whole CLI command (process start,
imports, plan, plot), whose fixed costs do not shrink with workers.

Usage: ``python bench/bench_experiment_workers.py [--experiment fig1] [--budget tiny]
[--repeats 3] [--command]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _summary(ex, p, out):
    s = ex.summarise(ex.collect(p, [out]), p)
    for panel in s.values():
        for m in panel["methods"].values():
            m.pop("wall_seconds")
            for c in m["configs"].values():
                c.pop("wall_seconds")
    return s, ex.verdicts(p, s)


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the pool's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def sweep(ex, p, workers: int) -> tuple[float, float, object, float]:
    """(sweep seconds, sweep + summary seconds, summary, CPU seconds of the sweep)."""
    with tempfile.TemporaryDirectory() as d:
        c0, t0 = _cpu(), time.perf_counter()
        ex.run_plan(p, Path(d), workers=workers)
        t_sweep, cpu = time.perf_counter() - t0, _cpu() - c0
        result = _summary(ex, p, Path(d))
        return t_sweep, time.perf_counter() - t0, result, cpu


def command(name: str, budget: str, workers: int) -> float:
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "algorithms.cli.main", "experiment", name, "--budget",
             budget, "--workers", str(workers), "--out", f"{d}/o", "--quiet"],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="fig1")
    parser.add_argument("--budget", default="tiny")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--command", action="store_true", help="also time the whole command")
    args = parser.parse_args()
    from algorithms import experiments as ex

    p = ex.plan(args.experiment, args.budget)
    sweep(ex, p, 1)  # warm-up: environments built, caches filled
    s1, s2, t1, t2, same, cpu1, cpu2 = [], [], [], [], True, [], []
    for _ in range(args.repeats):
        a_sweep, a, ra, ca = sweep(ex, p, 1)
        b_sweep, b, rb, cb = sweep(ex, p, 2)
        cpu1.append(ca)
        cpu2.append(cb)
        s1.append(a_sweep)
        s2.append(b_sweep)
        t1.append(a)
        t2.append(b)
        same &= ra == rb
    print(f"{args.experiment} --budget {args.budget}: best of {args.repeats}")
    print(f"  sweep (every run):  workers 1: {min(s1):.2f} s   workers 2: {min(s2):.2f} s   "
          f"ratio {min(s2) / min(s1):.2f} (target <= 0.60)")  # fmt: skip
    print(f"  sweep + summary:    workers 1: {min(t1):.2f} s   workers 2: {min(t2):.2f} s   "
          f"ratio {min(t2) / min(t1):.2f}   identical summary and verdicts: {same}")  # fmt: skip
    # CPU time of the sweep (parent + workers): what parallelism costs on top of the work;
    # with other processes busy, wall time cannot fall below this / available cores
    print(f"  sweep CPU seconds:  workers 1: {min(cpu1):.2f} s   workers 2: {min(cpu2):.2f} s"
          f"   (load average before: {os.getloadavg()[0]:.2f})")  # fmt: skip
    if args.command:
        c1 = min(command(args.experiment, args.budget, 1) for _ in range(args.repeats))
        c2 = min(command(args.experiment, args.budget, 2) for _ in range(args.repeats))
        print(f"  whole command: workers 1: {c1:.2f} s   workers 2: {c2:.2f} s   "
              f"ratio {c2 / c1:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
