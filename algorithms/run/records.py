"""The records every run yields, on any backend (records, not prints: docs/architecture.md,
idea 4).

- :class:`IterationRecord`: the state of a run after one global iteration (cumulative
  counters); the CSV of ``apga train`` and ``apga launch`` has one row per record.
- :class:`RunResult`: everything :func:`algorithms.run.run_method` returns.
- :class:`Totals`: the running counters an iteration's rounds are folded into.
- :func:`make_record` builds a record from the totals and the iterate, evaluating
  (J, ||grad J||) with an :data:`Evaluate` such as :func:`exact_evaluator`.

No dependency beyond numpy: checkpoints, reports and both backends read these types.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: theta -> (J(theta), ||grad J(theta)||); may return NaN to skip an iteration.
Evaluate = Callable[[np.ndarray], tuple[float, float]]


@dataclass(frozen=True)
class IterationRecord:
    """State of a run after one global iteration (cumulative counters).

    iteration:            global iteration t (0 = after the initialisation, e.g. Alg. 1 l. 2-3)
    time:                 seconds of the backend's clock (simulated, or wall-clock since
                          the start of a real run)
    gradients_evaluated:  stochastic gradients the oracle computed
    gradients_simulated:  computations started (incl. cancelled / unused)
    communications:       vector communications (broadcasts not counted separately)
    communication_time:   seconds spent communicating
    J:                    objective at theta_t (exact for tabular; NaN if not evaluated)
    grad_norm:            ||grad J(theta_t)|| (exact for tabular; NaN if not available)
    """

    iteration: int
    time: float
    gradients_evaluated: int
    gradients_simulated: int
    communications: int
    communication_time: float
    J: float
    grad_norm: float


@dataclass
class RunResult:
    """Everything a run produced."""

    method: str
    hyper: dict[str, float]
    hyper_source: dict[str, str]
    records: list[IterationRecord]
    theta: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Totals:
    """Cumulative costs of a run: what every round record adds (``evaluated``,
    ``simulated``, ``n_communications``, ``communication_time``)."""

    evaluated: int = 0
    simulated: int = 0
    communications: int = 0
    communication_time: float = 0.0

    def add(self, record: Any) -> None:
        self.evaluated += int(record.evaluated)
        self.simulated += int(record.simulated)
        self.communications += int(record.n_communications)
        self.communication_time += float(record.communication_time)


def exact_evaluator(oracle: Any) -> Evaluate | None:
    """(J, ||grad J||) from an oracle with exact quantities, else None.

    Uses ``oracle.J_and_grad_J`` when it has one (one linear solve for both; it runs
    after every iteration), else ``J`` and ``grad_J``.
    """
    both = getattr(oracle, "J_and_grad_J", None)
    if both is not None:

        def evaluate(theta: np.ndarray) -> tuple[float, float]:
            J, g = both(theta)
            return float(J), float(np.linalg.norm(g))

        return evaluate
    if hasattr(oracle, "J") and hasattr(oracle, "grad_J"):
        return lambda theta: (float(oracle.J(theta)), float(np.linalg.norm(oracle.grad_J(theta))))
    return None


def make_record(it: int, now: float, totals: Totals, theta: np.ndarray,
                evaluate: Evaluate | None) -> IterationRecord:
    """The record of iteration ``it`` at time ``now`` with (J, ||grad J||) = evaluate(theta)."""
    # ``evaluate`` may return NaN to skip an iteration (e.g. evaluation on a time grid);
    # theta near the float limit (a huge step size) may give NaN too, not a warning.
    with np.errstate(over="ignore", invalid="ignore"):
        J, g = evaluate(np.asarray(theta)) if evaluate is not None else (math.nan, math.nan)
    return IterationRecord(
        it,
        float(now),
        totals.evaluated,
        totals.simulated,
        totals.communications,
        totals.communication_time,
        J,
        g,
    )
