"""From stored runs to the summary, the verdicts and the plot.

:func:`collect` reads the runs of a plan from one or more folders (a run, its shards, or
folders copied back from other machines) into :class:`PanelResult` s, replaying each job's
tuning search on the stored tuning runs; :func:`summarise` turns them into the JSON
summary (per configuration run on the reported seeds: per-seed final and time-averaged
returns, server updates in T, the median and 20/80% quantile curves; per metric the tuning
table, winner and runner-up); :func:`verdicts` judges the paper's claims
(:mod:`algorithms.experiments.judging`); :func:`plot` draws the figure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from algorithms.experiments import judging, stats
from algorithms.experiments.planning import PanelPlan, Plan
from algorithms.experiments.runner import (
    Task,
    jobs_of,
    read_run,
    replay_job,
    run_summary,
    tuning_metrics,
)


@dataclass
class PanelResult:
    """One panel: per method, its tuning (per metric) and its reported runs per
    configuration (one run summary per reported seed)."""

    plan: PanelPlan
    tuning: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)


class MissingRunsError(ValueError):
    """Some runs of the plan are in none of the folders (a shard not run or not finished)."""


def collect(plan: Plan, dirs: Sequence[Path]) -> list[PanelResult]:
    """Every panel's results from the run files of ``plan`` in ``dirs``.

    Raises :class:`MissingRunsError` naming the first missing part and how many jobs are
    incomplete, and :class:`algorithms.experiments.runner.CorruptRunError` naming a run
    file that exists but cannot be read.
    """
    dirs = [Path(d) for d in dirs]
    cache: dict[Task, dict[str, Any] | None] = {}

    def fetch(task: Task) -> dict[str, Any] | None:
        if task not in cache:
            cache[task] = None
            for d in dirs:
                blob = read_run(d / task.path(plan), plan.plan_id, strict=True)
                if blob is not None:
                    cache[task] = run_summary(blob)
                    break
        return cache[task]

    out = [PanelResult(pp) for pp in plan.panels]
    missing: list[str] = []
    for p, m in jobs_of(plan):
        st = replay_job(plan, (p, m), fetch)
        if st.need:
            t = st.need[0][0]
            missing.append(f"{plan.panels[p].panel.key} {m} {t.phase} {t.config} seed {t.seed}")
            continue
        out[p].tuning[m] = st.tuning
        out[p].runs[m] = {k: [fetch(Task(p, m, "report", k, s)) for s in plan.seeds]
                          for k in st.reported}
    if missing:
        raise MissingRunsError(
            f"{len(missing)} job(s) of the plan are incomplete in these folders, e.g. "
            f"{missing[0]} is in none of them (run the missing shard(s), or give every "
            "shard's folder)"
        )
    return out


def _num(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def _q(a: np.ndarray, q: float) -> float | None:
    return _num(float(np.quantile(a, q)))


def summarise(results: Sequence[PanelResult], plan: Plan) -> dict[str, Any]:
    """Per panel and method: every configuration run on the reported seeds (per-seed
    metrics, updates in T, median and 20/80% curves), the tuning table of each metric, and
    the winner's medians; strict JSON (a time never reached is null)."""
    main = tuning_metrics(plan)[0]
    out: dict[str, Any] = {}
    for pr in results:
        T = pr.plan.max_time
        first = next(iter(pr.runs.values()))
        any_runs = next(iter(first.values()))
        times = [t for t, _ in any_runs[0]["curve"]]
        init = [r["curve"][0][1] for r in any_runs]  # J(theta_0), generator [seed, 2, 0]
        panel: dict[str, Any] = {"initial_return": float(np.mean(init)),
                                 "initial_returns": [float(x) for x in init],
                                 "max_time": T, "eval_times": times, "methods": {}}
        best_final = -math.inf
        for name, configs in pr.runs.items():
            win = pr.tuning[name][main]["winner"]
            best_final = max(best_final, float(np.median([r["final"] for r in configs[win]])))
        level = panel["initial_return"] + 0.5 * (best_final - panel["initial_return"]) \
            if best_final > panel["initial_return"] else math.nan
        panel["level"] = _num(level)
        for name, configs in pr.runs.items():
            cs = {}
            for key, runs in configs.items():
                curves = np.array([[J for _, J in r["curve"]] for r in runs], dtype=float)
                finals = np.array([r["final"] for r in runs])
                avgs = np.array([r["average"] for r in runs])
                c = {
                    "hyper": runs[0]["hyper"],
                    "hyper_source": runs[0]["hyper_source"],
                    "final_returns": finals.tolist(),
                    "average_returns": avgs.tolist(),
                    "iterations": [r["steps"] for r in runs],
                    "gradients": [r["gradients"] for r in runs],
                    "min_steps": judging.min_steps(runs[0]["hyper"]),
                    "curve_median": np.median(curves, axis=0).tolist(),
                    "curve_q20": np.quantile(curves, 0.2, axis=0).tolist(),
                    "curve_q80": np.quantile(curves, 0.8, axis=0).tolist(),
                    "wall_seconds": float(sum(r["wall_seconds"] for r in runs)),
                }
                if runs[0].get("final_return_per_env") is not None:
                    per_env = np.array([r["final_return_per_env"] for r in runs])
                    c["final_return_per_env"] = per_env.tolist()
                    c["final_return_per_env_median"] = np.median(per_env, axis=0).tolist()
                ttl = []
                for row in curves:
                    hit = np.flatnonzero(row >= level) if math.isfinite(level) else []
                    ttl.append(times[hit[0]] if len(hit) else math.inf)
                c["time_to_level_median"] = _num(float(np.median(ttl)))
                c["reached_level"] = int(np.sum(np.isfinite(ttl)))
                cs[key] = c
            win = pr.tuning[name][main]["winner"]
            w = cs[win]
            f = np.array(w["final_returns"])
            panel["methods"][name] = {
                "tuning": pr.tuning[name],
                "configs": cs,
                "winner": win,
                "hyper": w["hyper"],
                "hyper_source": w["hyper_source"],
                "final_return_median": float(np.median(f)),
                "final_return_q20": _q(f, 0.2),
                "final_return_q80": _q(f, 0.8),
                "average_return_median": float(np.median(w["average_returns"])),
                "time_to_level_median": w["time_to_level_median"],
                "reached_level": w["reached_level"],
                "iterations": float(np.median(w["iterations"])),
                "gradients_evaluated": float(np.median(w["gradients"])),
                "wall_seconds": float(sum(c["wall_seconds"] for c in cs.values())),
            }
        out[pr.plan.panel.key] = panel
    return out


def verdicts(plan: Plan, summary: Mapping[str, Any],
             references: Mapping[str, Mapping[str, Any]] | None = None,
             level: float = stats.LEVEL) -> list[dict[str, Any]]:
    """Each claim of the experiment judged (:func:`judging.judge`); ``references`` maps a
    referenced experiment's name to its summary (claims on ``figN:KEY`` panels)."""
    panels = dict(summary)
    for name, s in (references or {}).items():
        panels.update({f"{name}:{k}": v for k, v in s.items()})
    return judging.judge(plan.experiment.claims, panels, len(plan.seeds), level)


def plot(summary: Mapping[str, Any], plan: Plan, path: Path, title: str = "") -> Path:
    """One panel per (environment, scenario): median and 20-80% band over seeds of the
    return of the state at each evaluation time, for each method's winner."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from algorithms.methods.registry import get

    keys = [pp.panel.key for pp in plan.panels if pp.panel.key in summary]
    cols = min(len(keys), 3)
    rows = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys, strict=False):
        panel = summary[key]
        pp = next(p for p in plan.panels if p.panel.key == key)
        t = np.asarray(panel["eval_times"])
        for name, m in panel["methods"].items():
            c = m["configs"][m["winner"]]
            (line,) = ax.plot(t, c["curve_median"], label=get(name).title, lw=1.4)
            ax.fill_between(t, c["curve_q20"], c["curve_q80"], color=line.get_color(),
                            alpha=0.2, lw=0)
        ax.set_title(f"{pp.panel.env_id} (H={pp.H})\n{pp.panel.scenario.label}", fontsize=9)
        ax.set_xlabel("simulated time (s)")
        ax.set_ylabel("average return (state at t)")
        ax.set_xlim(0, panel["max_time"])
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys):]:
        ax.set_visible(False)
    handles, labels = axes[0][0].get_legend_handles_labels()
    handles.append(Patch(color="grey", alpha=0.25))
    labels.append(f"band: 20-80% of {len(plan.seeds)} seeds\nline: median")
    axes[0][0].legend(handles, labels, fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return path


__all__ = ["MissingRunsError", "PanelResult", "collect", "jobs_of", "plot", "summarise",
           "verdicts"]  # fmt: skip
