"""Predicted seconds against real runs: the simulated clock on a cluster file vs `apga launch`.

For three emulated clusters on this machine (equal times; h_i proportional to sqrt(i); one
straggler 20x slower than the others), each written as a cluster file, and for Rennala,
Malenia and Synchronized NIGT, we run the real backend (``apga launch --cluster FILE``,
AllReduce mode, real processes, wall-clock time) and predict the same run from the same
file with the simulated clock (:func:`algorithms.wallclock.run_timeline`, the clock of
the run seed, round by round). We compare every round's duration (median relative error,
target <= 10%) and the whole run's time (relative error, target <= 15%).

The emulated times are 70 ms to 1.6 s per gradient, large against the machine's
per-round overheads (under 2 ms of store tickets, stop signal and one all_reduce when the
machine is quiet), so the targets test the backend's timing model, not the machine.
Then once with no emulation: ``apga calibrate`` measures the machine first, and a
real-speed run is compared with the prediction from the measured file; its errors are
reported (there is no target: real gradient times vary with the load of the machine).

Needs torch (the ``mujoco`` extra) and a free local port; without torch the check is
reported as skipped.

Paper: Lemmas C.1 and C.2 (round = broadcast + collection + one reduce), Algorithm 1
(the M_init round, then one round per iteration).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from algorithms.backends.distributed.launcher import launch_json
from validation.result import Budget, CheckResult

ROUND_TARGET = 0.10
RUN_TARGET = 0.15
METHODS = ("rennala_nigt", "malenia_nigt", "sync_nigt")
M = 12
KAPPA = 0.01


def clusters() -> dict[str, tuple[list[float], str]]:
    """The emulated clusters (h_i in seconds, 4 agents) and their labels."""
    return {
        "equal": ([0.1] * 4, "h_i = 100 ms"),
        "sqrt": ([float(0.07 * np.sqrt(i)) for i in range(1, 5)], "h_i = 70 sqrt(i) ms"),
        "straggler": ([0.08, 0.08, 0.08, 1.6], "h = (80, 80, 80, 1600) ms: one 20x slower"),
    }


def compare(real: dict, method: str, cluster, K: int, seed: int) -> dict:
    """Round-by-round and whole-run comparison of one real run with its prediction."""
    from algorithms.wallclock import run_timeline

    pred = run_timeline(method, cluster, K, M=M, M_init=M, run_seed=seed)
    measured = np.array([r["duration"] for r in real["rounds"]])
    if measured.size != pred.durations.size:
        raise RuntimeError(f"{method}: {measured.size} real rounds, {pred.durations.size} "
                           "predicted")
    rel = np.abs(measured - pred.durations) / pred.durations
    run_pred, run_real = float(pred.ends[-1]), float(real["wall_seconds"])
    return {
        "method": method, "rounds": int(measured.size),
        "predicted_round": float(np.median(pred.durations)),
        "measured_round": float(np.median(measured)),
        "round_error": float(np.median(rel)), "predicted_run": run_pred,
        "measured_run": run_real, "run_error": abs(run_real - run_pred) / run_pred,
        "measured": measured.tolist(), "predicted": pred.durations.tolist(),
    }


def check_wallclock(budget: Budget) -> CheckResult:
    """Real rounds and runs against the simulated clock's prediction from the cluster file."""
    t0 = time.perf_counter()
    name, claim, paper = ("wallclock", "predicted seconds per round and per run match real "
                          "runs of the distributed backend", "Lemmas C.1, C.2; Algorithm 1")
    try:
        import torch  # noqa: F401
    except ImportError:
        return CheckResult(name, claim, paper, {}, {}, "reported",
                           "skipped: needs torch (the mujoco extra of apga)",
                           seconds=time.perf_counter() - t0)
    from theory.cluster_file import ClusterSpec, read_cluster, write_cluster

    K = budget.pick(5, 30)
    seed = budget.seed
    cases = []
    with tempfile.TemporaryDirectory(prefix="apga-wallclock-") as tmp:
        tmp = Path(tmp)
        for key, (h, label) in clusters().items():
            path = write_cluster(tmp / f"{key}.csv", ClusterSpec(h, [KAPPA] * len(h)),
                                 [f"emulated cluster '{key}': {label}, kappa = 10 ms"])
            cluster = read_cluster(path)
            for method in METHODS:
                batches = [] if method == "sync_nigt" else ["--M", str(M), "--M-init", str(M)]
                family = ["--family", "reward"] if method == "malenia_nigt" else []
                real = launch_json(tmp / f"{key}-{method}", "--cluster", str(path), "--method",
                               method, "--iterations", str(K), "--seed", str(seed),
                               *batches, *family)
                cases.append({"cluster": key, "label": label,
                              **compare(real, method, cluster, K, seed)})
        calibrated = _unemulated(tmp, K, seed)
    worst_round = max(c["round_error"] for c in cases)
    worst_run = max(c["run_error"] for c in cases)
    ok = worst_round <= ROUND_TARGET and worst_run <= RUN_TARGET
    summary = (f"{len(cases)} emulated runs: worst median per-round error "
               f"{100 * worst_round:.1f}% (<= {100 * ROUND_TARGET:.0f}%), worst run error "
               f"{100 * worst_run:.1f}% (<= {100 * RUN_TARGET:.0f}%); unemulated (calibrated): "
               f"round {100 * calibrated['round_error']:.0f}%, run "
               f"{100 * calibrated['run_error']:.0f}% (reported)")
    return CheckResult(
        name, claim, paper,
        measured={"worst_round_error": worst_round, "worst_run_error": worst_run,
                  "unemulated_round_error": calibrated["round_error"],
                  "unemulated_run_error": calibrated["run_error"]},
        threshold={"round_error": ROUND_TARGET, "run_error": RUN_TARGET},
        verdict="pass" if ok else "fail",
        summary=summary,
        details={"iterations": K, "M": M, "kappa": KAPPA, "cases": cases,
                 "unemulated": calibrated,
                 "plot": {"cases": [(c["cluster"], c["method"], c["predicted"], c["measured"])
                                    for c in cases]}},
        seconds=time.perf_counter() - t0,
    )


def _unemulated(tmp: Path, K: int, seed: int) -> dict:
    """Calibrate 2 agents on the tabular problem, then a real-speed Rennala run vs the
    prediction from the measured file."""
    from theory.cluster_file import read_cluster

    out = tmp / "calibrated.csv"
    proc = subprocess.run([sys.executable, "-m", "algorithms.cli.main", "calibrate", "--nproc",
                           "2", "--output", str(out), "--no-progress", "--json"],
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"apga calibrate failed: {proc.stderr.strip()}")
    cluster = read_cluster(out)
    real = launch_json(tmp / "unemulated", "--nproc", "2", "--M", str(M), "--M-init", str(M),
                   "--iterations", str(4 * K), "--seed", str(seed))
    return {"cluster": "calibrated", "h": cluster.h.tolist(), "kappa": cluster.kappa.tolist(),
            "timing": cluster.timing,
            **compare(real, "rennala_nigt", cluster, 4 * K, seed)}


def plot(details: dict, path: Path) -> Path:
    """Measured against predicted round durations, one marker per cluster, the +-10% band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5))
    markers = {"equal": "o", "sqrt": "s", "straggler": "^", "calibrated": "x"}
    colors = {"rennala_nigt": "C0", "malenia_nigt": "C1", "sync_nigt": "C2"}
    lo, hi = np.inf, 0.0
    for cluster, method, pred, meas in details["plot"]["cases"]:
        ax.scatter(pred, meas, marker=markers[cluster], color=colors[method], s=18, alpha=0.7,
                   label=f"{method}, {cluster}")
        lo, hi = min(lo, min(pred), min(meas)), max(hi, max(pred), max(meas))
    un = details.get("unemulated")
    if un:
        ax.scatter(un["predicted"], un["measured"], marker="x", color="k", s=18,
                   label="rennala_nigt, unemulated (calibrated)")
        lo, hi = min(lo, min(un["predicted"]), min(un["measured"])), max(
            hi, max(un["predicted"]), max(un["measured"]))
    xs = np.geomspace(lo * 0.8, hi * 1.25, 50)
    ax.plot(xs, xs, "k-", lw=0.8)
    ax.fill_between(xs, 0.9 * xs, 1.1 * xs, color="0.85", label="+-10% of the prediction")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("predicted round (s): simulated clock on the cluster file")
    ax.set_ylabel("measured round (s): apga launch")
    ax.set_title("Round durations, predicted vs measured")
    ax.legend(fontsize=6, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
