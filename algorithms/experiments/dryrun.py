"""``apga experiment NAME --budget B --dry-run``: what a plan would cost, before any run.

For every job (panel, method) it estimates the runs (:func:`runner.job_cost`: the staged
search's coarse grid, other Ms and two refined alphas on every tuning seed per tuned
metric, then the winner and runner-up on every reported seed) and their CPU time from the
gradients each run evaluates in T (counted on the clock, :func:`runner.count_steps`) and
the evaluation episodes, at :data:`STEP_SECONDS` per environment step. The episode length
is unknown before the runs: the estimate is a range, from episodes as short as the initial
policy's (:data:`INITIAL_LENGTH`) to every episode lasting H steps (a policy that learned
to stay up). It also prints each method's server updates in T against the minimum the
verdicts need (:func:`judging.min_steps`), the shard commands and a SLURM array example.

The constants were measured on the development machine (one core, one BLAS thread;
``docs/experiments.md``, "Cost"): a cluster node will differ by a constant factor.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from algorithms.experiments.judging import min_steps
from algorithms.experiments.planning import Plan
from algorithms.experiments.runner import count_steps, job_cost, jobs_of, shard_jobs
from algorithms.experiments.tuning import make_config

#: CPU seconds per environment step of a single-gradient rollout with backward pass
#: (policy forward + MuJoCo step + backward, amortised); evaluation steps cost about the same
STEP_SECONDS = {"Humanoid-v4": 5.0e-4, "Walker2d-v4": 3.0e-4, "Hopper-v4": 2.5e-4,
                "Reacher-v4": 1.2e-4}
#: batched rollouts (Rennala / Malenia / Synchronized NIGT) run every trajectory of a batch
#: as long as its longest: about this much more per gradient
BATCH_FACTOR = 1.4
#: mean episode length of the initial policy (theta_0), measured
INITIAL_LENGTH = {"Humanoid-v4": 24, "Walker2d-v4": 21, "Hopper-v4": 18, "Reacher-v4": 50}
_BATCHED = ("rennala_nigt", "malenia_nigt", "sync_nigt")


def estimate(plan: Plan) -> dict[str, Any]:
    """Runs, CPU-hours (range), updates in T per method and panel, per-job costs."""
    from algorithms.methods.registry import get

    b = plan.budget
    jobs = []
    for p, method in jobs_of(plan):
        pp = plan.panels[p]
        spec = get(method)
        names = {h.name for h in spec.hyper}
        Ms = list(plan.Ms) if "M" in names else [None]
        counts = {}
        for M in Ms:
            c = make_config(spec, b.alphas[0] if "alpha" in names else None, M)
            counts[M] = count_steps(method, c, pp, plan.experiment.heterogeneous) or (0, 0)
        need = min_steps(make_config(spec, None, None))
        ok = [M for M in Ms if counts[M][0] >= need] or Ms
        grads = float(np.mean([counts[M][1] for M in ok]))
        runs = job_cost(plan, (p, method))
        step = STEP_SECONDS.get(pp.panel.env_id, 3e-4)
        factor = BATCH_FACTOR if method in _BATCHED else 1.0
        evals = (b.eval_points + 1) * b.eval_episodes
        cost = []
        for L in (min(pp.H, INITIAL_LENGTH.get(pp.panel.env_id, pp.H)), pp.H):
            cost.append(runs * (grads * factor + evals) * step * L)
        jobs.append({
            "panel": pp.panel.key, "method": method, "runs": runs,
            "gradients_per_run": grads, "cpu_seconds": cost,
            "steps": {str(M) if M is not None else "-": counts[M][0] for M in Ms},
            "min_steps": need,
        })
    total = [sum(j["cpu_seconds"][i] for j in jobs) for i in (0, 1)]
    return {"jobs": jobs, "runs": sum(j["runs"] for j in jobs),
            "cpu_hours": [total[0] / 3600, total[1] / 3600]}


def shard_count(plan: Plan, most: int = 32) -> int:
    """Shards a cluster run splits into: one per job, at most ``most``."""
    return max(1, min(most, len(jobs_of(plan))))


def render(plan: Plan, command: str, out: str) -> str:
    """The dry run as text: runs, CPU-hours, adequacy, shard commands, SLURM array."""
    est = estimate(plan)
    k = shard_count(plan)
    lo, hi = est["cpu_hours"]
    jobs = {(j["panel"], j["method"]): j for j in est["jobs"]}
    per_shard = [sum(jobs[(plan.panels[p].panel.key, m)]["cpu_seconds"][1]
                     for p, m in shard_jobs(plan, (i, k))) for i in range(k)]
    longest_run = max(j["cpu_seconds"][1] / j["runs"] for j in est["jobs"])
    # a stage's runs (its configurations x tuning seeds) run side by side with enough workers
    width = len(plan.budget.alphas) * len(plan.tune_seeds)
    cpus = max(1, min(32, width))
    stages = 4 + (plan.budget.extend if plan.budget.search == "staged" else 0)
    wall = max(max(per_shard) / cpus, stages * longest_run)
    lines = [
        f"dry run: {plan.experiment.name}, {plan.budget.name} budget, plan {plan.plan_id}",
        f"runs: about {est['runs']} ({len(plan.seeds)} reported seeds, "
        f"{len(plan.tune_seeds)} tuning seeds; the staged search may add a few on edge "
        "winners)",
        f"CPU: {_amount(lo * 3600)} to {_amount(hi * 3600)} (episodes as long as the initial "
        "policy's .. every episode H steps; per-step costs measured on one core, "
        "docs/experiments.md)",
        "server updates in T (minimum for a verdict: 5/eta = "
        f"{min(j['min_steps'] for j in est['jobs'])}):",
    ]
    for j in est["jobs"]:
        steps = ", ".join(f"M={M}: {s}" if M != "-" else str(s) for M, s in j["steps"].items())
        flag = "" if max(j["steps"].values()) >= j["min_steps"] else "  (too few: not judged)"
        lines.append(f"  {j['panel']} {j['method']}: {steps}{flag}")
    base = command.split(" --dry-run")[0].split(" --shard")[0]
    lines += [
        f"shards: {k} (one per job, each into its own folder; the longest is "
        f"{_amount(max(per_shard))}; with --workers {cpus} a stage's runs go side by "
        f"side: about {_amount(wall, 'wall')} per shard):",
        *[f"  {base} --workers {cpus} --shard {i}/{k} --out {out}/shard-{i}"
          for i in range(min(k, 2))],
        *(["  ..."] if k > 3 else []),
        *([f"  {base} --workers {cpus} --shard {k - 1}/{k} --out {out}/shard-{k - 1}"]
          if k > 2 else []),
        f"then: {base} --merge {out}/shard-* --out {out}/merged",
        "SLURM (one array task per shard, the folders on shared storage):",
        f"  #SBATCH --array=0-{k - 1}",
        f"  #SBATCH --cpus-per-task={cpus}",
        f"  #SBATCH --time={_hours(wall * 1.5)}",
        f"  {base} --workers $SLURM_CPUS_PER_TASK --shard $SLURM_ARRAY_TASK_ID/{k} \\",
        f"      --out {out}/shard-$SLURM_ARRAY_TASK_ID",
        f"  # after the array: {base} --merge {out}/shard-* --out {out}/merged",
    ]
    return "\n".join(lines)


def _amount(seconds: float, kind: str = "cpu") -> str:
    """CPU time or wall time (seconds), readably."""
    h = seconds / 3600
    unit = "hours" if kind == "wall" else "CPU-hours"
    if h >= 0.1:
        return f"{h:.3g} {unit}"
    return f"{seconds / 60:.2g} {unit.replace('hours', 'minutes')}"


def _hours(seconds: float) -> str:
    m = max(10, int(math.ceil(seconds / 60)))
    return f"{m // 60:02d}:{m % 60:02d}:00"
