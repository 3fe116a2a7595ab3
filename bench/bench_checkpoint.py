"""Cost of checkpointing every iteration, against the same run without checkpoints.

Issue 12, item 14: a checkpoint used to pickle every record so far, so checkpointing
every iteration was quadratic in the run length (74 s against 13 s for the same run).
Checkpoints now append the new records to a side file and rewrite only the (small)
state, so the overhead per iteration is constant.

The bench runs the default `apga train` setting (Rennala NIGT, 10-state Garnet MDP,
n = 10, h_i = sqrt(i)) for ``--time`` simulated seconds three times in the same
process: without checkpoints (the baseline), with a checkpoint every 50 iterations (the
CLI default) and every iteration, and prints the wall times and the ratios to the
baseline. It also checks that the three runs wrote identical records (exits 1 if not).

Usage: ``python bench/bench_checkpoint.py [--time 20000]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from algorithms.methods.registry import get
from algorithms.run import run_method
from algorithms.tabular.setting import TabularSetting


def timed_run(time_budget: float, checkpoint: Path | None, every: int):
    setting = TabularSetting()
    oracle, clock, rng, theta0 = setting.build(0)
    t0 = time.perf_counter()
    res = run_method(get("rennala_nigt"), oracle, clock, rng, theta0, max_time=time_budget,
                     checkpoint=checkpoint, checkpoint_every=every)
    return res, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time", type=float, default=20000.0, help="simulated seconds per run")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base, t_base = timed_run(args.time, None, 1)
        every50, t_50 = timed_run(args.time, Path(tmp) / "a.pkl", 50)
        every1, t_1 = timed_run(args.time, Path(tmp) / "b.pkl", 1)
    n = len(base.records) - 1
    print(f"{n} iterations of rennala_nigt, {args.time:g} simulated seconds")
    print(f"no checkpoints:           {t_base:8.2f} s  (baseline)")
    print(f"checkpoint every 50 it.:  {t_50:8.2f} s  ratio {t_50 / t_base:.2f}")
    print(f"checkpoint every it.:     {t_1:8.2f} s  ratio {t_1 / t_base:.2f}")
    if not (base.records == every50.records == every1.records):
        print("FAIL: the runs wrote different records")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
