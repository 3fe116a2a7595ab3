"""The paper's MuJoCo figures (Section 6, Appendix H) as runnable experiments.

* :mod:`~algorithms.experiments.figures` - the figures as data (panels, methods, claims);
* :mod:`~algorithms.experiments.planning` - budgets and plans (what is scaled, and how);
* :mod:`~algorithms.experiments.runner` - runs, workers, shards, result files;
* :mod:`~algorithms.experiments.tuning` - the tuning search (grid or staged), winner and
  runner-up;
* :mod:`~algorithms.experiments.stats` - paired sign-flip tests, t intervals, Holm, power;
* :mod:`~algorithms.experiments.judging` - adequacy and the four verdicts on the claims;
* :mod:`~algorithms.experiments.summary` - summary, verdicts and plot from stored runs.

None of these import torch or gymnasium at import time.
"""

from algorithms.experiments.figures import (
    EQUAL,
    EXPERIMENTS,
    FAST_SLOW,
    PAPER_H,
    QUARTER_D4,
    SQRT_D4,
    SQRT_FREE,
    SQRT_SQRT,
    Claim,
    Experiment,
    Panel,
    Scenario,
)
from algorithms.experiments.planning import (
    ALPHA_PAPER,
    BUDGETS,
    ETA,
    M_PAPER,
    Budget,
    PanelPlan,
    Plan,
    plan,
    simulated_time,
)
from algorithms.experiments.runner import (
    CorruptRunError,
    GridEvaluator,
    curve_metrics,
    hyper_grid,
    per_env_returns,
    run_one,
    run_plan,
    shard_jobs,
)
from algorithms.experiments.stats import paired
from algorithms.experiments.summary import (
    MissingRunsError,
    PanelResult,
    collect,
    plot,
    summarise,
    verdicts,
)

__all__ = [
    "ALPHA_PAPER", "BUDGETS", "EQUAL", "ETA", "EXPERIMENTS", "FAST_SLOW", "M_PAPER",
    "PAPER_H", "QUARTER_D4", "SQRT_D4", "SQRT_FREE", "SQRT_SQRT", "Budget", "Claim",
    "CorruptRunError", "Experiment", "GridEvaluator", "MissingRunsError", "Panel", "PanelPlan",
    "PanelResult", "Plan", "Scenario", "collect", "curve_metrics", "hyper_grid", "paired",
    "per_env_returns", "plan", "plot", "run_one", "run_plan", "shard_jobs", "simulated_time",
    "summarise", "verdicts",
]  # fmt: skip
