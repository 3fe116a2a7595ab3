"""Algorithm 1 (NIGT with extrapolation, momentum and a normalised step), generic in
its aggregation procedure.

With AggregateRennala it is Rennala NIGT, with AggregateMalenia Malenia NIGT, with a
synchronized round Synchronized NIGT (Fatkhullin et al., 2023). Line numbers below are
Algorithm 1's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from algorithms.methods.base import Context, Hyperparameter
from algorithms.methods.patterns import Aggregate
from algorithms.updates import extrapolate, momentum, normalized_step


@dataclass(frozen=True)
class NIGTState:
    """theta = theta_t, theta_prev = theta_{t-1}, d = d_{t-1}, t = global iteration."""

    theta: np.ndarray
    theta_prev: np.ndarray
    d: np.ndarray
    t: int


@dataclass(frozen=True)
class NIGT:
    """Algorithm 1 with the aggregation procedure ``aggregate``.

    Hyperparameters (``ctx.hyper``): eta (momentum), alpha (step size), M_init, M.
    """

    aggregate: Aggregate

    def init(self, theta0: np.ndarray, ctx: Context) -> NIGTState:
        h = ctx.hyper
        d0 = self.aggregate(theta0, int(h.get("M_init", 1)), ctx)  # line 2
        theta1 = normalized_step(theta0, d0, h["alpha"])  # line 3
        return NIGTState(theta=theta1, theta_prev=theta0, d=d0, t=1)

    def step(self, state: NIGTState, ctx: Context) -> NIGTState:
        h = ctx.hyper
        theta_tilde = extrapolate(state.theta, state.theta_prev, h["eta"])  # line 5
        g = self.aggregate(theta_tilde, int(h.get("M", 1)), ctx)  # line 6
        d = momentum(state.d, g, h["eta"])  # line 7
        theta_next = normalized_step(state.theta, d, h["alpha"])  # line 8
        return NIGTState(theta=theta_next, theta_prev=state.theta, d=d, t=state.t + 1)


#: Momentum and step of Algorithm 1, shared by every NIGT-style method (Section H: eta = 0.1
#: for all methods).
ETA = Hyperparameter(
    "eta", 0.1, "momentum eta in (0, 1] (Algorithm 1 line 7; Section H: 0.1)", maximum=1.0
)
ALPHA = Hyperparameter("alpha", 0.05, "step size of the normalised step (Algorithm 1 lines 3, 8)")

#: Hyperparameters of Algorithm 1 with an aggregation batch (Rennala and Malenia NIGT).
#: M = M_init = 20 is the smallest of Section H's grid.
NIGT_HYPER = (
    ETA,
    ALPHA,
    Hyperparameter(
        "M_init", 20, "initial batch: the first aggregation's (Algorithm 1 line 2)", integer=True
    ),
    Hyperparameter("M", 20, "batch of every later aggregation (Algorithm 1 line 6)", integer=True),
)
