"""Predicted seconds against real-speed runs: calibrate -> predict -> launch, 2 ranks.

For each environment (the tabular problem, Hopper-v5 and Walker2d-v5 by default) and mode,
``apga calibrate`` measures this machine (2 agents; MuJoCo with a pilot of 200 gradients
of each method of the mode, M = 20, to see how trajectory lengths move), then for Rennala,
Malenia and
Synchronized NIGT (AllReduce mode) and Rennala NIGT and AFedPG (server mode) ``apga
predict --cluster FILE`` and ``apga launch --predict-from FILE`` run with the same flags
(M = M_init = 20, the method's default step size), at real speed, no emulation. The
iterations K are those the prediction says take about ``--seconds`` seconds.

Printed per run: predicted seconds (point and interval), measured seconds, the error of
the point, whether the run fell inside the interval, the predicted and the measured seconds
per iteration after the first (the M_init round), the other load while the run and its
calibrations ran (other processes' runnable threads sampled from /proc plus the
hypervisor's steal time, in cores), the 1-minute load average before and after, and how
far the machine's speed moved: each mode is calibrated again after its runs, and the same
run predicted from both calibrations. MuJoCo rows also show the mean trajectory length the point
assumed beside the one the run measured, and the error of the cost model at the measured
length (``total_at_length``): what is left of a miss once the lengths are known is the
machine's speed and the primitives, the rest is the pilot's trend. Target on a quiet,
steady machine (other load below 0.5 cores, speed moved no more than the drift the
prediction allowed, at least 5%): every run within 10% of its point prediction and inside
its interval. Rows outside those
conditions are printed as "loaded" or "moved" and not judged.

Usage: ``python bench/bench_wallclock.py [--envs tabular,Hopper-v5,Walker2d-v5]
[--seconds 8] [--pilot-share 0.5] [--out results.json]``. Run it on a quiet machine.
``--pilot-share F`` sizes each MuJoCo pilot to F times the largest run's gradients (a
first calibration sizes the runs) instead of 200 gradients.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from algorithms.wallclock.load import LOADED, STEADY
from validation.checks.wallclock import REAL_CASES, REAL_TARGET, real_cases


def _row(r: dict) -> str:
    load = r["load"]
    cal = r["calibrate_load"]["foreign_load"]
    after = r["recalibrated"]["load"]["foreign_load"]
    fl = max(x for x in (load["foreign_load"], cal, after, 0.0) if x is not None)
    verdict = ("ok" if r["error"] <= REAL_TARGET and r["inside"] else "MISS") if r["judged"] \
        else r["not_judged"]
    lp, lm = r.get("length_predicted"), r.get("length_measured")
    lengths = f"{lp:.3g} / {lm:.3g}" if lp is not None and lm is not None else "H (fixed)"
    e_len = r.get("at_length_error")
    at_len = "-" if e_len is None else f"{100 * e_len:.1f}%"
    return (f"| {r['env']} | {r['mode']} | {r['method']} | {r['iterations']} | "
            f"{r['predicted']:.3g} [{r['low']:.3g}, {r['high']:.3g}] | {r['measured']:.3g} | "
            f"{r['predicted'] / r['measured']:.3f} | {100 * r['error']:.1f}% | "
            f"{'yes' if r['inside'] else 'no'} | {r['predicted_round']:.4g} | "
            f"{r['measured_round']:.4g} | {100 * r['round_error']:.1f}% | {fl:.2f} | "
            f"{load['loadavg_before']:.2f} / {load['loadavg_after']:.2f} | "
            f"{100 * r['speed_moved']:.1f}% | {lengths} | {at_len} | {verdict} |")


HEADER = ("| env | mode | method | K | predicted s [interval] | measured s | pred/meas | "
          "error | inside | predicted s/iteration | measured s/iteration | error per iteration "
          "| other load "
          "| loadavg before / after | speed moved | mean length predicted / measured "
          "| error at the measured length | verdict |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--envs", default="tabular,Hopper-v5,Walker2d-v5")
    p.add_argument("--modes", default="allreduce,server")
    p.add_argument("--seconds", type=float, default=8.0, help="predicted seconds per run")
    p.add_argument("--repetitions", type=int, default=30)
    p.add_argument("--pilot-share", type=float, default=None,
                   help="MuJoCo pilots of this share of the largest run's gradients (a first "
                   "calibration sizes the runs); default: 200 gradients per method")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="write every row as JSON here")
    p.add_argument("--keep", default=None,
                   help="keep the cluster files and runs in this new folder (default: a "
                   "temporary one, removed)")
    a = p.parse_args(argv)
    modes = tuple(m for m in a.modes.split(",") if m in REAL_CASES)
    envs = {e.strip(): modes for e in a.envs.split(",") if e.strip()}
    print(HEADER, flush=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="apga-bench-wallclock-") as tmp:
        folder = Path(tmp)
        if a.keep:
            folder = Path(a.keep)
            folder.mkdir(parents=True, exist_ok=False)
        rows = real_cases(folder, envs, a.seconds, a.seed, a.repetitions,
                          log=lambda r: print(_row(r), flush=True),
                          pilot_share=a.pilot_share)
    judged = [r for r in rows if r["judged"]]
    ok = [r for r in judged if r["error"] <= REAL_TARGET and r["inside"]]
    inside = sum(r["inside"] for r in rows)
    within = sum(r["error"] <= REAL_TARGET for r in rows)
    print(f"\n{len(rows)} runs in {time.perf_counter() - t0:.0f} s; all runs: {within} within "
          f"{100 * REAL_TARGET:.0f}%, {inside} inside their interval; judged (other load <= "
          f"{LOADED}, speed moved <= the drift allowed, at least {100 * STEADY:g}%): "
          f"{len(judged)}, of which {len(ok)} within {100 * REAL_TARGET:.0f}% and inside")
    if a.out:
        Path(a.out).write_text(json.dumps(rows, indent=1) + "\n")
    return 0 if len(ok) == len(judged) else 1


if __name__ == "__main__":
    sys.exit(main())
