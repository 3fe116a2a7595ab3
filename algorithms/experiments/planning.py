"""Budgets and plans: an experiment of :mod:`algorithms.experiments.figures` scaled to a machine.

A :class:`Budget` scales a figure: horizon, seeds, tuning grid, simulated time, evaluation.
:func:`plan` applies it and lists every change from the paper in :attr:`Plan.scaled`.

Hyperparameters (Appendix H): eta = 0.1 for every method; alpha tuned over
{2^-10, ..., 2^-1} per method and panel; M = M_init tuned over {20, 30, 50}; 5 seeds.
How a budget tunes (:attr:`Budget.search`): ``grid`` runs every point of alphas x Ms;
``staged`` (the medium and paper budgets) searches the alpha grid coarse, then M = M_init
at the coarse winner, then alpha refined around the winner, extending past an edge winner
(:mod:`algorithms.experiments.tuning`).

Simulated time. The paper does not state its time axes. A panel runs for
``T = G / sum_i 1/(h_i + kappa_i)``: the time in which the n agents, each computing one
gradient and sending it, would deliver G gradients, with ``G = max(gradients,
per_agent * n)`` from the budget (or the budget's G for that figure,
:attr:`Budget.gradients_by`). Every scenario then costs about the same compute while the
timing scenario changes what each method can do with it.

Paper: Section 6, Appendix H.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from algorithms.experiments.figures import EXPERIMENTS, Experiment, Panel, Scenario, paper_H
from algorithms.methods.base import TUNE_SEED_OFFSET
from theory import checks

if TYPE_CHECKING:
    from theory.cluster_file import ClusterSpec

ALPHA_PAPER = tuple(2.0**-k for k in range(10, 0, -1))
M_PAPER = (20, 30, 50)
ETA = 0.1


@dataclass(frozen=True)
class Budget:
    """How far an experiment is scaled down.

    horizon:        cap on the horizon H (None: the paper's)
    reacher_H:      horizon used for Reacher-v4 (its own episode length is 50) when capped
    seeds:          reported seeds (paper: 5)
    tune_seeds:     seeds per tuning grid point (disjoint from the reported seeds)
    alphas:         alpha grid (paper: 2^-10..2^-1); the coarse grid of a staged search
    Ms:             M = M_init grid (paper: 20, 30, 50)
    gradients:      G of the simulated-time rule T = G / sum_i 1/(h_i + kappa_i) ...
    per_agent:      ... or per_agent * n when that is larger (n = 100 figures)
    eval_points:    evaluations at T k / eval_points, k = 0..eval_points
    eval_episodes:  episodes per evaluation
    envs_n100:      environments kept in the n = 100 figures (None: all three)
    search:         ``grid`` (every point of alphas x Ms) or ``staged`` (coarse alpha, M,
                    refined alpha, edge extensions: :mod:`algorithms.experiments.tuning`)
    refine:         staged: the refinement step, in powers of 2 of alpha
    extend:         staged: most grid extensions past an edge winner
    M_cover_n:      add M = n to the M grid when n > 50 (Algorithm 2 with M = n waits for
                    about one gradient per agent)
    gradients_by:   (experiment, G) pairs overriding ``gradients`` / ``per_agent``: a figure's
                    G chosen so every method makes enough steps in T (docs/experiments.md)
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
    search: str = "grid"
    refine: float = 1.0
    extend: int = 3
    M_cover_n: bool = False
    gradients_by: tuple[tuple[str, int], ...] = ()


#: the medium budget's G per figure: the smallest round number at which every method
#: (Rennala / Malenia NIGT at the smallest M of the grid) makes >= 5/eta = 50 server
#: updates in every panel (tests/algorithms/test_experiment_budgets.py checks it)
MEDIUM_G = (("fig1", 1600), ("fig2", 1600), ("fig3", 1600), ("fig4", 5200), ("fig5", 9600),
            ("fig6", 19000), ("fig7", 19000), ("fig8", 19000), ("fig9", 3500))
ALPHA_COARSE = (2.0**-10, 2.0**-7, 2.0**-4, 2.0**-1)

BUDGETS: dict[str, Budget] = {
    b.name: b
    for b in (
        Budget("tiny", 8, 8, 2, 1, (2.0**-4,), (5,), 60, 0, 4, 2),
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
        Budget("medium", 32, 32, 10, 5, ALPHA_COARSE, M_PAPER, 1600, 0, 20, 10,
               ("Hopper-v4",), search="staged", M_cover_n=True, gradients_by=MEDIUM_G),
        Budget("paper", None, None, 10, 5, ALPHA_COARSE, M_PAPER, 20000, 200, 40, 10,
               search="staged", M_cover_n=True),
    )
}
#: what decides a run besides the plan's numbers; bumped when a rule changes (2: the state
#: at exactly T k / P, afedpg_agent charged two vectors per download), so folders of runs
#: made under other rules are never reused
RUN_RULES = 2


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

    @property
    def cluster(self) -> ClusterSpec:
        """The panel's cluster (h_i, kappa_i, timing model and options) as one value."""
        from theory.cluster_file import ClusterSpec

        return ClusterSpec(self.h, self.kappa, self.timing, dict(self.options))


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

    @property
    def Ms(self) -> tuple[int, ...]:
        """The M = M_init grid: the budget's, plus n when n > 50 and the budget covers n."""
        n = self.experiment.n
        if self.budget.M_cover_n and n > 50 and n not in self.budget.Ms:
            return (*self.budget.Ms, n)
        return self.budget.Ms

    @property
    def tuning_metrics(self) -> tuple[str, ...]:
        """The metrics tuned (each on its own): those the claims judge, of the experiment
        whose runs these are (``average`` when there is no claim)."""
        e = self.experiment
        src = EXPERIMENTS.get(e.runs_of or e.name, e)
        claims = src.claims if e.claims else ()
        return tuple(sorted({c.metric for c in claims if not c.untestable})) or ("average",)

    @property
    def gradients(self) -> int:
        """G of :func:`simulated_time` for this plan."""
        return gradient_count(self.budget, self.experiment.n, self.experiment.runs_of
                              or self.experiment.name)

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
            "Ms": list(self.Ms),
            "search": self.budget.search,
            **({"refine": self.budget.refine, "extend": self.budget.extend}
               if self.budget.search == "staged" else {}),
            "run_rules": RUN_RULES,
            "tuning_metrics": list(self.tuning_metrics),
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
        """Hash of everything that decides the results (:meth:`to_dict` without its texts,
        ``paper`` and ``scaled``); runs of one plan may share a folder, runs of different
        plans never do."""
        d = {k: v for k, v in self.to_dict().items() if k not in ("paper", "scaled")}
        if self.experiment.runs_of is not None:  # e.g. fig2 judges fig1's runs
            d["experiment"] = self.experiment.runs_of
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


def gradient_count(budget: Budget, n: int, name: str | None = None) -> int:
    """G of :func:`simulated_time`: the budget's G for experiment ``name`` if it sets one
    (:attr:`Budget.gradients_by`), else ``max(gradients, per_agent * n)``."""
    by = dict(budget.gradients_by)
    if name is not None and name in by:
        return int(by[name])
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
        b = replace(b, gradients=checks.count("gradients", gradients), per_agent=0,
                    gradients_by=())
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
    G = gradient_count(b, e.n, e.runs_of or e.name)
    planned = []
    for p in chosen:
        H, d = _horizon(p.env_id, b), dims(p.env_id, e.heterogeneous)
        c = p.scenario.cluster(e.n, d)
        h, kappa = c.h, c.kappa
        T = simulated_time(h, kappa, G)
        planned.append(PanelPlan(p, H, h, kappa, d, T, *timing))
        if H != paper_H(p.env_id):
            scaled.append(f"horizon {p.env_id}: {paper_H(p.env_id)} -> {H}")
        scaled.append(
            f"simulated time {p.key}: T = {T:.4g} s "
            f"(G = {G} gradients / sum_i 1/(h_i + kappa_i); paper: not stated)"
        )
    if b.seeds != 5:
        scaled.append(f"seeds: 5 -> {b.seeds}" + (" (the verdicts' Holm families need "
                                                   "about 10)" if b.seeds > 5 else ""))
    if b.alphas != ALPHA_PAPER:
        scaled.append(f"alpha grid: {_fmt_grid(ALPHA_PAPER)} -> {_fmt_grid(b.alphas)}")
    Ms = b.Ms + ((e.n,) if b.M_cover_n and e.n > 50 and e.n not in b.Ms else ())
    if Ms != M_PAPER:
        scaled.append(f"M = M_init grid: {list(M_PAPER)} -> {list(Ms)}"
                      + (f" (M = n = {e.n} added)" if Ms[-1] == e.n != M_PAPER[-1] else ""))
    if b.search == "staged":
        scaled.append(
            f"tuning: staged search, {b.tune_seeds} tuning seeds per point: alpha on "
            f"{_fmt_grid(b.alphas)}, then M at the best alpha, then alpha x 2^(+-{b.refine:g}) "
            f"around the winner, extended up to {b.extend} times past an edge winner; "
            "score = the metric each claim judges (paper: not stated)")
    else:
        scaled.append(f"tuning: {b.tune_seeds} tuning seed(s) per grid point (paper: not "
                      "stated)")
    scaled.append(
        f"evaluation: {b.eval_episodes} episodes at {b.eval_points + 1} simulated "
        "times k T / P, of the state at that time (the last update at or before it; not "
        "charged to the simulated clock)"
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
