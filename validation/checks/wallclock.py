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

Needs torch (the ``mujoco`` extra) and a free local port; without torch the check is
reported as skipped. Both checks here sample the other processes' load while they run
(:class:`algorithms.wallclock.load.ForeignLoad`); above :data:`algorithms.wallclock.load.LOADED`
(half a core of other work on average) a case is "not judged: machine loaded (load L)".

``wallclock_real`` (:func:`check_wallclock_real`): the chain a user runs, at real speed
with no emulation: ``apga calibrate`` (2 agents, per environment and mode; MuJoCo with a
pilot of the run's method), ``apga predict --cluster FILE`` and ``apga launch
--predict-from FILE`` for Rennala, Malenia and Synchronized NIGT (AllReduce mode) and
Rennala NIGT and AFedPG (server mode). Target: every run within 10% of its point
prediction and inside its interval. Each mode is calibrated again after its runs: where
the two calibrations predict the same run further apart than the drift the prediction's
interval allowed (at least :data:`algorithms.wallclock.load.STEADY`, 5%), the machine's
speed moved under the runs (on a shared virtual machine the same launch took 13.6 to
18.7 ms per round within three minutes, no other load visible from inside it) and they are "not
judged: machine speed moved X% between calibrations". Quick: the tabular problem,
AllReduce mode, Rennala and Synchronized NIGT; full: tabular and Hopper-v5, all five, the
MuJoCo pilots half the largest run's gradients (``pilot_share``: the point follows the
pilot's episode lengths, and half-run pilots predicted the runs' mean lengths within
0.1-28% in three sittings on Hopper-v5 and Walker2d-v5, where 200-gradient pilots, a
tenth of a run, were off by up to a factor 2.5; docs/wallclock.md).

Paper: Lemmas C.1 and C.2 (round = broadcast + collection + one reduce), Algorithm 1
(the M_init round, then one round per iteration).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from algorithms.backends.distributed.launcher import launch_json
from algorithms.wallclock.load import LOADED, STEADY, ForeignLoad, judged, speed_moved
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
    from algorithms.methods.registry import get
    from theory.cluster_file import ClusterSpec, read_cluster, write_cluster

    K = budget.pick(5, 30)
    seed = budget.seed
    cases = []
    with tempfile.TemporaryDirectory(prefix="apga-wallclock-") as tmp, ForeignLoad() as load:
        tmp = Path(tmp)
        for key, (h, label) in clusters().items():
            path = write_cluster(tmp / f"{key}.csv", ClusterSpec(h, [KAPPA] * len(h)),
                                 [f"emulated cluster '{key}': {label}, kappa = 10 ms"])
            cluster = read_cluster(path)
            for method in METHODS:
                spec = get(method)  # the registry says what the method takes and suits
                batches = (["--M", str(M), "--M-init", str(M)]
                           if spec.hyperparameter("M") is not None else [])
                family = (["--family", "reward"] if "heterogeneous" in spec.settings
                          and spec.pattern == "malenia" else [])
                real = launch_json(tmp / f"{key}-{method}", "--cluster", str(path), "--method",
                               method, "--iterations", str(K), "--seed", str(seed),
                               *batches, *family)
                cases.append({"cluster": key, "label": label,
                              **compare(real, method, cluster, K, seed)})
    worst_round = max(c["round_error"] for c in cases)
    worst_run = max(c["run_error"] for c in cases)
    ok = worst_round <= ROUND_TARGET and worst_run <= RUN_TARGET
    judge, why, _ = judged(load.total)
    summary = ("" if judge else why + "; ") + (
               f"{len(cases)} emulated runs: worst median per-round error "
               f"{100 * worst_round:.1f}% (<= {100 * ROUND_TARGET:.0f}%), worst run error "
               f"{100 * worst_run:.1f}% (<= {100 * RUN_TARGET:.0f}%); real speed: see "
               "wallclock_real")
    return CheckResult(
        name, claim, paper,
        measured={"worst_round_error": worst_round, "worst_run_error": worst_run,
                  "load": load.total},
        threshold={"round_error": ROUND_TARGET, "run_error": RUN_TARGET, "load": LOADED},
        verdict=("pass" if ok else "fail") if judge else "reported",
        summary=summary,
        details={"iterations": K, "M": M, "kappa": KAPPA, "cases": cases,
                 "load": load.to_dict(),
                 "plot": {"cases": [(c["cluster"], c["method"], c["predicted"], c["measured"])
                                    for c in cases]}},
        seconds=time.perf_counter() - t0,
    )


def plot(details: dict, path: Path) -> Path:
    """Measured against predicted round durations, one marker per cluster, the +-10% band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5))
    markers = {"equal": "o", "sqrt": "s", "straggler": "^"}
    colors = {"rennala_nigt": "C0", "malenia_nigt": "C1", "sync_nigt": "C2"}
    lo, hi = np.inf, 0.0
    for cluster, method, pred, meas in details["plot"]["cases"]:
        ax.scatter(pred, meas, marker=markers[cluster], color=colors[method], s=18, alpha=0.7,
                   label=f"{method}, {cluster}")
        lo, hi = min(lo, min(pred), min(meas)), max(hi, max(pred), max(meas))
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


# ----------------------------------------------------------------------------- real speed
REAL_TARGET = 0.10
#: The methods of the real-speed check, per mode (Table 1: AFedPG has no AllReduce).
REAL_CASES = {"allreduce": ("rennala_nigt", "malenia_nigt", "sync_nigt"),
              "server": ("rennala_nigt", "afedpg")}
REAL_M = 20
#: Pilot gradients of calibrate (per method) where trajectory lengths move (MuJoCo).
PILOT = 200


def _cli(*args: str, timeout: float = 900.0) -> dict:
    proc = subprocess.run([sys.executable, "-m", "algorithms.cli.main", *args],
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"apga {args[0]} failed ({proc.returncode}): {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def calibrate(out: Path, env: str, mode: str, *, repetitions: int = 30, pilot: int = 0,
              seed: int = 0) -> tuple[dict, dict]:
    """``apga calibrate`` of 2 agents on ``env`` in ``mode`` (with a pilot of each method of
    the mode's cases, M = REAL_M, when ``pilot``): (its JSON, the load while it ran)."""
    extra = ["--pilot", str(pilot), "--method", ",".join(REAL_CASES[mode]), "--M",
             str(REAL_M), "--M-init", str(REAL_M)] if pilot else ["--M", str(REAL_M)]
    with ForeignLoad() as load:
        result = _cli("calibrate", "--nproc", "2", "--mode", mode, "--env", env, "--output",
                      str(out), "--repetitions", str(repetitions), "--seed", str(seed),
                      "--quiet", "--json", *extra)
    return result, load.to_dict()


def iterations_for(cluster: Path, mode: str, method: str, seconds: float, seed: int = 0
                   ) -> int:
    """The iterations K (20 .. 100,000) that ``cluster``'s prediction of ``method`` (M =
    M_init = REAL_M, its default step size) says take about ``seconds``."""
    from algorithms.methods.registry import get
    from algorithms.wallclock.cost import CostModel, predict_run

    per = predict_run(CostModel.from_file(cluster), method, 10, M=REAL_M, M_init=REAL_M,
                      mode=mode, seed=seed, alpha=get(method).resolve()[0]["alpha"])
    return max(20, min(100_000, math.ceil(seconds * 10 / per.total_seconds)))


def _batches(method: str) -> dict[str, int]:
    """The batches every real run of the check is given: M = M_init = REAL_M for the
    methods that have them, nothing for the others (their defaults)."""
    from algorithms.methods.registry import get

    return {"M": REAL_M, "M_init": REAL_M} if get(method).hyperparameter("M") else {}


def run_gradients(method: str, K: int, n: int = 2) -> int:
    """Gradients a run of K iterations uses (M = REAL_M, b = 1:
    :meth:`MethodSpec.gradients_per_round`)."""
    from algorithms.methods.registry import get

    return K * get(method).gradients_per_round(REAL_M, n)


def real_run(tmp: Path, cluster: Path, env: str, mode: str, method: str, seconds: float,
             seed: int = 0, tag: str = "", iterations: int | None = None) -> dict:
    """One method at real speed against its prediction from ``cluster``: the iterations K
    are ``iterations``, or those the prediction says take about ``seconds``; ``apga
    predict`` and ``apga launch --predict-from`` get the same flags."""
    batches = [x for k, v in _batches(method).items()
               for x in (f"--{k.replace('_', '-')}", str(v))]
    K = iterations or iterations_for(cluster, mode, method, seconds, seed)
    pred = _cli("predict", "--cluster", str(cluster), "--mode", mode, "--iterations", str(K),
                "--seed", str(seed), "--M", str(REAL_M), "--M-init", str(REAL_M), "--json")
    w = pred["wallclock"][method]
    with ForeignLoad() as load:
        real = launch_json(tmp / f"{tag}{env}-{mode}-{method}", "--nproc", "2", "--mode", mode,
                           "--env", env, "--method", method, "--iterations", str(K),
                           "--seed", str(seed), "--predict-from", str(cluster), *batches)
    p = real["prediction"]
    # per iteration after the first (the M_init round): predicted (point - first) / K,
    # measured (wall - end of the first round) / K, so that moving lengths compare too
    predicted_round = (w["total_seconds"] - w["init_seconds"]) / K
    measured_round = (p["actual_seconds"] - float(real["rounds"][0]["end"])) / K
    return {
        "env": env, "mode": mode, "method": method, "iterations": K,
        "predicted": p["total_seconds"], "low": p["total_seconds_low"],
        "high": p["total_seconds_high"], "measured": p["actual_seconds"],
        "error": abs(p["actual_seconds"] - p["total_seconds"]) / p["total_seconds"],
        "inside": p["inside_interval"], "point_source": p.get("point_source"),
        # the mean trajectory length the point assumed and the one the run measured (None
        # for tabular runs: every trajectory has H steps)
        "length_predicted": p.get("mean_length") if p.get("mean_length_actual") else None,
        "length_measured": p.get("mean_length_actual"),
        "drift": p.get("drift"),
        "predicted_round": predicted_round, "measured_round": measured_round,
        "round_error": abs(measured_round - predicted_round) / predicted_round,
        "predict_cli_total": w["total_seconds"],
        "same_prediction": abs(w["total_seconds"] - p["total_seconds"])
        <= 1e-9 * p["total_seconds"],
        "load": load.to_dict(),
    }


def _as_measured(model, row: dict) -> float:
    """The row's run predicted from the cost ``model`` with trajectory lengths as measured
    (no pilot trend): what two calibrations of one machine should agree on."""
    from algorithms.wallclock.cost import predict_run

    return predict_run(model, row["method"], row["iterations"], mode=row["mode"],
                       seed=row["seed"], **_batches(row["method"])).total_seconds


def _at_measured_length(model, row: dict) -> dict[str, float | None]:
    """The cost ``model`` (the row's own calibration) at the mean trajectory length the run
    measured: its error is the machine's and the primitives' alone, the rest of the point's
    error the pilot's trend (None for tabular runs, whose rounds record no lengths)."""
    from algorithms.wallclock.cost import total_at_length

    if not row.get("length_measured"):
        return {"at_length_seconds": None, "at_length_error": None}
    s = total_at_length(model, row["method"], row["iterations"], row["length_measured"],
                        mode=row["mode"], seed=row["seed"], **_batches(row["method"]))
    return {"at_length_seconds": s, "at_length_error": abs(row["measured"] - s) / s}


def real_cases(tmp: Path, envs, seconds: float, seed: int = 0, repetitions: int = 30,
               log=None, pilot_share: float | None = None) -> list[dict]:
    """Every env x mode x method of :data:`REAL_CASES` (``envs``: env -> modes), each
    mode calibrated before its runs (the prediction) and again after them (no pilot): a
    row whose prediction moved between the two calibrations by more than the drift its
    interval allowed (at least :data:`algorithms.wallclock.load.STEADY`), or that ran on a
    loaded machine, is not judged. ``log(row)`` is
    called after each mode's runs, once per row.

    MuJoCo pilots: :data:`PILOT` gradients of each method, or with ``pilot_share`` that
    share of the largest run's gradients (a first calibration without a pilot sizes the
    runs), so that the pilot's trend covers that much of each run."""
    rows = []
    for env, modes in envs.items():
        for mode in modes:
            methods = REAL_CASES[mode] if not isinstance(modes, dict) else modes[mode]
            cluster = tmp / f"{env}-{mode}.csv"
            pilot = 0 if env == "tabular" else PILOT
            Ks: dict[str, int] = {}
            if pilot and pilot_share:
                sizing = tmp / f"{env}-{mode}-sizing.csv"
                calibrate(sizing, env, mode, repetitions=repetitions, seed=seed)
                Ks = {m: iterations_for(sizing, mode, m, seconds, seed) for m in methods}
                pilot = max(PILOT, math.ceil(pilot_share * max(
                    run_gradients(m, K) for m, K in Ks.items())))
            cal, cal_load = calibrate(cluster, env, mode, repetitions=repetitions,
                                      pilot=pilot, seed=seed)
            done = []
            for method in methods:
                row = real_run(tmp, cluster, env, mode, method, seconds, seed,
                               iterations=Ks.get(method))
                row["pilot_gradients"] = pilot
                row["seed"] = seed
                row["calibrate_load"] = cal_load
                row["primitives"] = cal.get("primitives")
                done.append(row)
            after = tmp / f"{env}-{mode}-after.csv"
            _, after_load = calibrate(after, env, mode, repetitions=repetitions, seed=seed)
            from algorithms.wallclock.cost import CostModel

            models = CostModel.from_file(cluster), CostModel.from_file(after)
            for row in done:
                row.update(_at_measured_length(models[0], row))
                before_s, after_s = (_as_measured(m, row) for m in models)
                row["recalibrated"] = {"before": before_s, "after": after_s,
                                       "load": after_load}
                row["speed_moved"] = speed_moved(before_s, after_s)
                # steady: the calibrations agree within the drift the prediction allowed
                row["steady_within"] = max(STEADY, row.get("drift") or 0.0)
                loads = [x for x in (row["load"]["foreign_load"], cal_load["foreign_load"],
                                     after_load["foreign_load"]) if x is not None]
                row["judged"], row["why"], row["not_judged"] = judged(
                    max(loads) if loads else None, moved=row["speed_moved"],
                    steady=row["steady_within"])
                rows.append(row)
                if log is not None:
                    log(row)
    return rows


def check_wallclock_real(budget: Budget) -> CheckResult:
    """calibrate -> predict -> launch at real speed: every run within 10% of its point
    prediction and inside its interval (cases judged on a quiet machine only)."""
    t0 = time.perf_counter()
    name, claim, paper = ("wallclock_real", "a prediction from apga calibrate holds on a "
                          "real-speed run: within 10% of the point, inside the interval",
                          "Assumption 2.5; Algorithms 1-3; Lemmas C.1, C.2")
    try:
        import torch  # noqa: F401
    except ImportError:
        return CheckResult(name, claim, paper, {}, {}, "reported",
                           "skipped: needs torch (the mujoco extra of apga)",
                           seconds=time.perf_counter() - t0)
    envs = budget.pick({"tabular": {"allreduce": ("rennala_nigt", "sync_nigt")}},
                       {"tabular": ("allreduce", "server"), "Hopper-v5": ("allreduce",
                                                                          "server")})
    with tempfile.TemporaryDirectory(prefix="apga-wallclock-real-") as tmp:
        rows = real_cases(Path(tmp), envs, budget.pick(3.0, 8.0), budget.seed,
                          repetitions=budget.pick(20, 30), pilot_share=budget.pick(None, 0.5))
    return real_result(name, claim, paper, rows, time.perf_counter() - t0)


def real_result(name: str, claim: str, paper: str, rows: list[dict], seconds: float
                ) -> CheckResult:
    """The verdict over the judged rows (every one within REAL_TARGET and inside); rows on
    a loaded machine or whose calibrations disagree (``why``) are reported, not judged."""
    ok_rows = [r for r in rows if r["judged"]]
    loads = [r["load"]["foreign_load"] for r in rows if r["load"]["foreign_load"] is not None]
    worst = max((r["error"] for r in ok_rows), default=None)
    inside = sum(r["inside"] for r in ok_rows)
    words = {"loaded": "machine loaded", "moved": "machine speed moved"}
    reasons = sorted({words[r["not_judged"]] for r in rows if not r["judged"]})
    if not ok_rows:
        verdict = "reported"
        moved = [r["speed_moved"] for r in rows if r["not_judged"] == "moved"]
        if reasons == ["machine speed moved"]:
            summary = (f"not judged: machine speed moved {100 * max(moved):.1f}% between "
                       "calibrations")
        elif loads:
            summary = f"not judged: machine loaded (load {max(loads):.2f})"
        else:
            summary = "no case ran"
    else:
        good = all(r["error"] <= REAL_TARGET and r["inside"] for r in ok_rows)
        verdict = "pass" if good else "fail"
        summary = (f"{len(ok_rows)} real-speed runs judged: worst error {100 * worst:.1f}% "
                   f"(<= {100 * REAL_TARGET:.0f}%), {inside}/{len(ok_rows)} inside their "
                   "interval" + (f"; {len(rows) - len(ok_rows)} not judged "
                                 f"({', '.join(reasons)})" if len(ok_rows) < len(rows)
                                 else ""))
    return CheckResult(
        name, claim, paper,
        measured={"worst_error": worst, "inside": inside, "judged": len(ok_rows),
                  "runs": len(rows)},
        threshold={"error": REAL_TARGET, "load": LOADED, "speed_moved": STEADY},
        verdict=verdict, summary=summary, details={"rows": rows}, seconds=seconds)
