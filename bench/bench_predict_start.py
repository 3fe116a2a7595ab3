"""Cold start of ``apga predict`` (no arguments) and of its seconds section (--cluster).

Each case is a fresh interpreter (``python -m algorithms.cli.main ...``, output to
/dev/null), timed round-robin with the baseline so that load from other processes hits
all alike; best of ``--repeat``. Baseline: ``python -c "import numpy, rich.console"``
(what any numpy + rich command pays). Target (issues 1 and 10): ``apga predict`` with no
arguments under 0.5 s on a quiet machine; the seconds section is allowed to cost more
(it imports the clock: numpy + scipy.special).

Run: python bench/bench_predict_start.py [--repeat 15] [--ref /path/to/other/checkout]
``--ref`` also times the no-argument case with PYTHONPATH set to another checkout (e.g.
main before a change), in the same round-robin.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_once(argv: list[str], pythonpath: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    t0 = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--ref", default=None, help="another checkout to time for comparison")
    args = ap.parse_args()
    py = sys.executable
    cli = [py, "-m", "algorithms.cli.main", "predict"]
    cases = {
        "baseline: import numpy, rich": ([py, "-c", "import numpy, rich.console"], ROOT),
        "apga predict": (cli, ROOT),
        "apga predict --cluster hand.csv": (
            cli + ["--cluster", str(ROOT / "docs/clusters/hand.csv")], ROOT),
    }
    if args.ref:
        cases[f"apga predict ({args.ref})"] = (cli, Path(args.ref))
    best = dict.fromkeys(cases, float("inf"))
    for _ in range(args.repeat):
        for name, (argv, path) in cases.items():
            best[name] = min(best[name], run_once(argv, path))
    base = best["baseline: import numpy, rich"]
    for name, t in best.items():
        print(f"{name:45s} {t * 1000:8.1f} ms   x{t / base:5.2f} baseline")


if __name__ == "__main__":
    main()
