"""Aggregation patterns as the methods call them: (theta, batch size, ctx) -> g.

Each hands one round to the context's backend (:class:`algorithms.backends.protocol.Backend`):
on the simulated clock the round is planned by :mod:`algorithms.aggregation` and
evaluated once; on real processes (:mod:`algorithms.backends.distributed`) it runs in
wall-clock time. The method modules are the same on both. The backend appends the
round's record to ``ctx.rounds`` and returns the aggregated gradient estimate.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from algorithms.methods.base import Context

Aggregate = Callable[[np.ndarray, int, Context], np.ndarray]


def rennala(theta: np.ndarray, M: int, ctx: Context) -> np.ndarray:
    """AggregateRennala(theta, M, H): mean of the first M gradients to arrive (Algorithm 2)."""
    return ctx.backend.aggregate("rennala", theta, M, ctx)


def malenia(theta: np.ndarray, M: int, ctx: Context) -> np.ndarray:
    """AggregateMalenia(theta, M, H): 1/n sum_i gbar_i / M_i (Algorithm 3)."""
    return ctx.backend.aggregate("malenia", theta, M, ctx)


def synchronized(theta: np.ndarray, M: int, ctx: Context) -> np.ndarray:
    """Every agent computes ``batch`` gradients, then one reduce; ``M`` is not used.

    The batch per agent is the hyperparameter ``batch`` (1 in the paper's Synchronized
    NIGT: "all agents compute one stochastic gradient", Section H).
    """
    return ctx.backend.aggregate("synchronized", theta, M, ctx)
