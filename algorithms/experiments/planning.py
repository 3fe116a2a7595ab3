"""Budgets and plans: an experiment of :mod:`algorithms.experiments.figures` scaled to a machine.

A :class:`Budget` scales a figure: horizon, seeds, tuning grid, simulated time, evaluation.
:func:`plan` applies it and lists every change from the paper in :attr:`Plan.scaled`.

Hyperparameters (Appendix H): eta = 0.1 for every method; alpha tuned over
{2^-10, ..., 2^-1} per method and panel; M = M_init tuned over {20, 30, 50}; 5 seeds.

Simulated time. The paper does not state its time axes. A panel runs for
``T = G / sum_i 1/(h_i + kappa_i)``: the time in which the n agents, each computing one
gradient and sending it, would deliver G gradients, with ``G = max(gradients,
per_agent * n)`` from the budget. Every scenario then costs about the same compute while the
timing scenario changes what each method can do with it.

Paper: Section 6, Appendix H.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from algorithms.experiments.figures import EXPERIMENTS, Experiment, Panel, Scenario, paper_H
from algorithms.methods.base import TUNE_SEED_OFFSET
from theory import checks

ALPHA_PAPER = tuple(2.0**-k for k in range(10, 0, -1))
M_PAPER = (20, 30, 50)
ETA = 0.1


@dataclass(frozen=True)
class Budget:
    """How far an experiment is scaled down.

    horizon:        cap on the horizon H (None: the paper's)
    reacher_H:      horizon used for Reacher-v4 (its own episode length is 50) when capped
    seeds:          reported seeds (paper: 5)
    tune_seeds:     seeds per tuning grid point
    alphas:         alpha grid (paper: 2^-10..2^-1)
    Ms:             M = M_init grid (paper: 20, 30, 50)
    gradients:      G of the simulated-time rule T = G / sum_i 1/(h_i + kappa_i) ...
    per_agent:      ... or per_agent * n when that is larger (n = 100 figures)
    eval_points:    evaluations at T k / eval_points, k = 0..eval_points
    eval_episodes:  episodes per evaluation
    envs_n100:      environments kept in the n = 100 figures (None: all three)
    """

    name: str
    horizon: int | None
    reacher_H: int | None
    seeds: int
    tune_seeds: int
    alphas: tuple[float, ...]
    Ms: tuple[int, ...]
    gradients: int
    per_agent: int
    eval_points: int
    eval_episodes: int
    envs_n100: tuple[str, ...] | None = None


BUDGETS: dict[str, Budget] = {
    b.name: b
    for b in (
        Budget("tiny", 8, 8, 2, 1, (2.0**-4,), (5,), 60, 0, 3, 2),
        Budget(
            "small",
            64,
            50,
            10,
            2,
            (2.0**-7, 2.0**-5, 2.0**-3),
            M_PAPER,
            800,
            12,
            10,
            10,
            ("Hopper-v4",),
        ),
        Budget("paper", None, None, 5, 1, ALPHA_PAPER, M_PAPER, 20000, 200, 40, 10),
    )
}


@dataclass(frozen=True)
class PanelPlan:
    """A panel with every number resolved."""

    panel: Panel
    H: int
    h: np.ndarray
    kappa: np.ndarray
    d: int
    max_time: float
    timing: str = "fixed"
    options: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Plan:
    """An experiment under a budget: what runs, and every change from the paper.

    perturb: scale of a perturbation of theta_0 (robustness reruns; 0 = none)
    """

    experiment: Experiment
    budget: Budget
    panels: tuple[PanelPlan, ...]
    seeds: tuple[int, ...]
    tune_seeds: tuple[int, ...]
    scaled: tuple[str, ...]
    perturb: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        e = self.experiment
        return {
            "experiment": e.name,
            "paper": e.paper,
            "budget": self.budget.name,
            "n": e.n,
            "methods": list(e.methods),
            "heterogeneous": e.heterogeneous,
            "seeds": list(self.seeds),
            "tune_seeds": list(self.tune_seeds),
            "alphas": list(self.budget.alphas),
            "Ms": list(self.budget.Ms),
            "eta": ETA,
            "eval_points": self.budget.eval_points,
            "eval_episodes": self.budget.eval_episodes,
            "perturb_theta0": self.perturb,
            "panels": [
                {
                    "key": p.panel.key,
                    "env_id": p.panel.env_id,
                    "scenario": p.panel.scenario.label,
                    "H": p.H,
                    "d": p.d,
                    "h": p.h.tolist(),
                    "kappa": p.kappa.tolist(),
                    "max_time": p.max_time,
                    # only when not fixed: the plan ids of the figures' plans stay as they were
                    **({"timing": p.timing, "timing_options": dict(p.options)}
                       if p.timing != "fixed" else {}),
                }
                for p in self.panels
            ],
            "scaled": list(self.scaled),
        }

    @property
    def plan_id(self) -> str:
        """Hash of everything that decides the results (:meth:`to_dict`); runs of one plan
        may share a folder, runs of different plans never do."""
        d = self.to_dict()
        if self.experiment.runs_of is not None:  # e.g. fig2 judges fig1's runs
            d["experiment"] = self.experiment.runs_of
            d["paper"] = EXPERIMENTS[self.experiment.runs_of].paper
        blob = json.dumps(d, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def simulated_time(h: np.ndarray, kappa: np.ndarray, G: int) -> float:
    """T = G / sum_i 1/(h_i + kappa_i): time for the agents to deliver G gradients one by one.

    Notes
    -----
    .. math:: T = G \\Big/ \\sum_{i=1}^n \\frac{1}{h_i + \\kappa_i}

    Paper: our choice (Appendix H does not state the time axes); h_i, kappa_i of Appendix H.
    """
    return float(checks.count("G", G) / np.sum(1.0 / (np.asarray(h) + np.asarray(kappa))))


def _horizon(env_id: str, budget: Budget) -> int:
    paper = paper_H(env_id)
    if budget.horizon is None:
        return paper
    if env_id.startswith("Reacher") and budget.reacher_H is not None:
        return min(paper, budget.reacher_H)
    return min(paper, budget.horizon)


def _fmt_grid(xs: Sequence[float]) -> str:
    return "{" + ", ".join(f"2^{math.log2(x):g}" for x in xs) + "}"


def gradient_count(budget: Budget, n: int) -> int:
    """G of :func:`simulated_time`: ``max(gradients, per_agent * n)``."""
    return max(budget.gradients, budget.per_agent * n)


def plan(
    name: str,
    budget: str = "small",
    seeds: int | None = None,
    dims: Callable[[str, bool], int] | None = None,
    gradients: int | None = None,
    panels: Sequence[str] | None = None,
    perturb: float = 0.0,
    cluster: Any = None,
) -> Plan:
    """Resolve experiment ``name`` under budget ``budget`` (ValueError on unknown names).

    ``cluster`` (a :class:`theory.cluster_file.ClusterSpec`, ``--cluster FILE``) replaces the
    figure's timing scenarios: one panel per environment with the file's h_i, kappa_i and
    timing model, n = the file's agents; the paper's claims are about its scenarios and are
    then not judged.

    ``panels`` keeps only the panels whose key, scenario key or environment is listed.
    ``seeds`` and ``gradients`` (G of :func:`simulated_time`) override the budget's.
    ``perturb`` adds ``perturb * N(0, 1)`` (Generator ``[seed, 4]``) to every theta_0.

    ``dims(env_id, heterogeneous) -> d`` gives the number of policy parameters (needed by
    the d^(1/4) scenarios); the default builds the environment once.
    """
    checks.choice("experiment", name, EXPERIMENTS)
    checks.choice("budget", budget, BUDGETS)
    e, b = EXPERIMENTS[name], BUDGETS[budget]
    if seeds is not None:
        b = replace(b, seeds=checks.count("seeds", seeds))
    if gradients is not None:
        b = replace(b, gradients=checks.count("gradients", gradients), per_agent=0)
    perturb = float(perturb)
    if not (math.isfinite(perturb) and perturb >= 0):
        raise ValueError(f"perturb: must be a finite number >= 0, got {perturb!r}")
    dims = dims or _policy_dim
    scaled = []
    chosen = e.panels
    if b.envs_n100 is not None and e.n >= 100:
        chosen = tuple(p for p in chosen if p.env_id in b.envs_n100)
        scaled.append(
            f"environments: {', '.join(p.env_id for p in e.panels)} -> "
            f"{', '.join(b.envs_n100)} (n = {e.n} costs {e.n // 10}x the agents of Figure 1)"
        )
    if panels is not None:
        keys = {k for p in chosen for k in (p.key, p.scenario.key, p.env_id)}
        for k in panels:
            checks.choice("panels", k, sorted(keys))
        chosen = tuple(p for p in chosen if {p.key, p.scenario.key, p.env_id} & set(panels))
        scaled.append(f"panels: only {', '.join(p.key for p in chosen)}")
    timing: tuple[str, tuple] = ("fixed", ())
    if cluster is not None:
        label = (f"cluster file {cluster.source or ''}: h_i, kappa_i of {cluster.n} agents, "
                 f"{cluster.timing} times")
        scenario = Scenario("cluster", label, tuple(cluster.h.tolist()),
                            tuple(cluster.kappa.tolist()))
        envs = list(dict.fromkeys(p.env_id for p in chosen))
        chosen = tuple(Panel(env, scenario) for env in envs)
        scaled.append(f"timing: the figure's scenarios and n = {e.n} -> {label} "
                      "(--cluster); the paper's claims are about its scenarios: not judged")
        e = replace(e, n=cluster.n, claims=())
        timing = (cluster.timing, tuple(sorted(cluster.options.items())))
    e = replace(e, panels=chosen)
    G = gradient_count(b, e.n)
    planned = []
    for p in chosen:
        H, d = _horizon(p.env_id, b), dims(p.env_id, e.heterogeneous)
        h, kappa = p.scenario.times(e.n, d)
        T = simulated_time(h, kappa, G)
        planned.append(PanelPlan(p, H, h, kappa, d, T, *timing))
        if H != paper_H(p.env_id):
            scaled.append(f"horizon {p.env_id}: {paper_H(p.env_id)} -> {H}")
        scaled.append(
            f"simulated time {p.key}: T = {T:.4g} s "
            f"(G = {G} gradients / sum_i 1/(h_i + kappa_i); paper: not stated)"
        )
    if b.seeds != 5:
        scaled.append(f"seeds: 5 -> {b.seeds}")
    if b.alphas != ALPHA_PAPER:
        scaled.append(f"alpha grid: {_fmt_grid(ALPHA_PAPER)} -> {_fmt_grid(b.alphas)}")
    if b.Ms != M_PAPER:
        scaled.append(f"M = M_init grid: {list(M_PAPER)} -> {list(b.Ms)}")
    scaled.append(f"tuning: {b.tune_seeds} tuning seed(s) per grid point (paper: not stated)")
    scaled.append(
        f"evaluation: {b.eval_episodes} episodes at {b.eval_points + 1} simulated "
        "times (not charged to the simulated clock)"
    )
    if perturb:
        scaled.append(f"theta_0 perturbed by {perturb:g} N(0, I) (robustness rerun)")
    seed_list = tuple(range(b.seeds))
    tune = tuple(TUNE_SEED_OFFSET + k for k in range(b.tune_seeds))
    return Plan(e, b, tuple(planned), seed_list, tune, tuple(dict.fromkeys(scaled)), perturb)


def _policy_dim(env_id: str, heterogeneous: bool) -> int:
    from algorithms.mujoco import MujocoOracle

    oracle = MujocoOracle(env_id, 1, heterogeneous=heterogeneous)
    try:
        return int(oracle.dim)
    finally:
        oracle.close()
