"""From stored runs to the summary, the verdicts and the plot.

:func:`collect` reads the runs of a plan from one or more folders (a run, its shards, or
folders copied back from other machines) into :class:`PanelResult` s; :func:`summarise`
turns them into the JSON summary (medians and 20/80% quantiles over seeds, per-seed final
and time-averaged returns, tuning tables with both scores) and :func:`verdicts` judges the
paper's claims (:mod:`algorithms.experiments.stats`); :func:`plot` draws the figure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from algorithms.experiments import stats
from algorithms.experiments.planning import PanelPlan, Plan
from algorithms.experiments.runner import (
    Task,
    auc_score,
    final_return,
    find_run,
    hyper_grid,
    jobs_of,
    read_run,
    run_from_json,
    select,
    tuning_rows,
)


@dataclass
class PanelResult:
    """Runs and tuning of one panel: method -> runs over the reported seeds."""

    plan: PanelPlan
    runs: dict[str, list[Any]] = field(default_factory=dict)
    tuning: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    initial: list[float] = field(default_factory=list)


class MissingRunsError(ValueError):
    """Some runs of the plan are in none of the folders (a shard not run or not finished)."""


def collect(plan: Plan, dirs: Sequence[Path]) -> list[PanelResult]:
    """Every panel's results from the run files of ``plan`` in ``dirs``.

    Raises :class:`MissingRunsError` naming the first missing job and how many runs are missing.
    """
    from algorithms.methods.registry import get

    dirs = [Path(d) for d in dirs]
    out = []
    missing: list[str] = []
    for p, pp in enumerate(plan.panels):
        pr = PanelResult(pp)
        init = None
        for d in dirs:
            blob = read_run(d / f"runs/{pp.panel.key}/initial.json", plan.plan_id)
            if blob is not None:
                init = blob["initial"]
                break
        if init is None:
            missing.append(f"{pp.panel.key} initial returns")
        pr.initial = list(init or [])
        for m in plan.experiment.methods:
            grid = hyper_grid(get(m), plan.budget)
            if len(grid) > 1:
                rows = tuning_rows(plan, dirs, (p, m), grid)
                if rows is None:
                    missing.append(f"{pp.panel.key} {m} tuning")
                    continue
                pr.tuning[m] = rows
            else:
                pr.tuning[m] = []
            runs = []
            for s in plan.seeds:
                blob = find_run(plan, dirs, Task(p, m, "report", 0, s))
                if blob is None:
                    missing.append(f"{pp.panel.key} {m} seed {s}")
                    break
                runs.append(run_from_json(blob))
            else:
                best = select(pr.tuning[m]) if pr.tuning[m] else {}
                if any(runs[0].hyper.get(k) != v for k, v in best.items()):
                    raise ValueError(
                        f"merge: {pp.panel.key} {m}: the reported runs do not use the tuning "
                        "winner (folders of different plans?)"
                    )
                pr.runs[m] = runs
        out.append(pr)
    if missing:
        raise MissingRunsError(
            f"{len(missing)} part(s) of the plan are in none of the folders, e.g. "
            f"{missing[0]} (run the missing shard(s), or give every shard's folder)"
        )
    return out


def _finals(runs: Sequence[Any]) -> np.ndarray:
    return np.array([final_return(r.records) for r in runs])


def _averages(runs: Sequence[Any], T: float) -> np.ndarray:
    return np.array([auc_score(r.records, T) for r in runs])


def level_for(pr: PanelResult, fraction: float = 0.5) -> float:
    """Return level of a panel: ``fraction`` of the way from the initial return (mean over
    seeds) to the best method's final median return (NaN if no method improved)."""
    J0 = float(np.mean(pr.initial))
    best = max(float(np.median(_finals(runs))) for runs in pr.runs.values())
    return J0 + fraction * (best - J0) if best > J0 else math.nan


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def summarise(results: Sequence[PanelResult]) -> dict[str, Any]:
    """Per panel and method: medians and 20/80% quantiles over seeds, per-seed finals and
    time-averages, tuning rows; strict JSON (a time never reached is null)."""
    from algorithms.run.report import time_to_reach

    out: dict[str, Any] = {}
    for pr in results:
        level = level_for(pr)
        T = pr.plan.max_time
        panel: dict[str, Any] = {
            "initial_return": float(np.mean(pr.initial)),
            "initial_returns": list(pr.initial),
            "level": _num(level),
            "max_time": T,
            "methods": {},
        }
        for name, runs in pr.runs.items():
            finals, avgs = _finals(runs), _averages(runs, T)
            last = [r.records[-1] for r in runs]
            ttl = np.array(
                [
                    time_to_reach(r.records, "J", level, below=False)
                    if math.isfinite(level)
                    else math.inf
                    for r in runs
                ]
            )
            m = {
                "hyper": runs[0].hyper,
                "hyper_source": runs[0].hyper_source,
                "final_return_median": float(np.median(finals)),
                "final_return_q20": float(np.quantile(finals, 0.2)),
                "final_return_q80": float(np.quantile(finals, 0.8)),
                "final_returns": finals.tolist(),
                "average_return_median": float(np.median(avgs)),
                "average_returns": avgs.tolist(),
                "time_to_level_median": _num(float(np.median(ttl))),
                "reached_level": int(np.sum(np.isfinite(ttl))),
                "iterations": float(np.median([r.iteration for r in last])),
                "gradients_evaluated": float(np.median([r.gradients_evaluated for r in last])),
                "communications": float(np.median([r.communications for r in last])),
                "wall_seconds": float(sum(r.meta["wall_seconds"] for r in runs)),
                "tuning": pr.tuning[name],
            }
            if "final_return_per_env" in runs[0].meta:
                per_env = np.array([r.meta["final_return_per_env"] for r in runs])
                m["final_return_per_env_median"] = np.median(per_env, axis=0).tolist()
                m["final_return_per_env"] = per_env.tolist()
            panel["methods"][name] = m
        out[pr.plan.panel.key] = panel
    return out


def verdicts(plan: Plan, summary: dict[str, Any], level: float = stats.LEVEL) -> list[dict]:
    """Each claim of the experiment judged on both metrics (claims about panels that are not
    in the plan are listed as not run)."""
    out = []
    initial = {k: p["initial_return"] for k, p in summary.items()}
    per = {
        metric: {
            k: {m: np.array(v[key]) for m, v in p["methods"].items()} for k, p in summary.items()
        }
        for metric, key in (("final", "final_returns"), ("average", "average_returns"))
    }
    for c in plan.experiment.claims:
        row: dict[str, Any] = {
            "claim": c.key,
            "source": c.source,
            "text": c.text,
            "kind": c.kind,
            "panel": c.panel,
            "subject": c.subject,
            "level": level,
        }
        try:
            for metric in ("final", "average"):
                row[metric] = stats.judge(c, per[metric], initial, metric, level)
        except KeyError:
            row["final"] = row["average"] = {"verdict": "not run", "comparisons": []}
        out.append(row)
    return out


def plot(results: Sequence[PanelResult], path: Path, title: str = "", points: int = 300) -> Path:
    """One panel per (environment, scenario): median and 20-80% band of the return."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from algorithms.methods.registry import get
    from algorithms.run.report import draw_bands

    cols = min(len(results), 3)
    rows = math.ceil(len(results) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4 * rows), squeeze=False)
    for ax, pr in zip(axes.flat, results, strict=False):
        # up to the last record: the final evaluation happens when a run passes T
        t_end = max(r.records[-1].time for runs in pr.runs.values() for r in runs)
        grid = np.linspace(0.0, t_end, points)
        draw_bands(
            ax,
            {get(name).title: [r.records for r in runs] for name, runs in pr.runs.items()},
            "J",
            grid,
        )
        ax.set_title(
            f"{pr.plan.panel.env_id} (H={pr.plan.H})\n{pr.plan.panel.scenario.label}", fontsize=9
        )
        ax.set_xlabel("simulated time (s)")
        ax.set_ylabel("average return")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(results) :]:
        ax.set_visible(False)
    n_seeds = len(next(iter(results[0].runs.values())))
    handles, labels = axes[0][0].get_legend_handles_labels()
    handles.append(Patch(color="grey", alpha=0.25))
    labels.append(f"band: 20-80% of {n_seeds} seeds\nline: median")
    axes[0][0].legend(handles, labels, fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


__all__ = ["MissingRunsError", "PanelResult", "collect", "jobs_of", "level_for", "plot",
           "summarise", "verdicts"]  # fmt: skip
