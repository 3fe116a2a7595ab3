"""Aggregation patterns as the methods call them: (theta, batch size, ctx) -> g.

Each wraps one procedure of :mod:`algorithms.aggregation`, appends its RoundRecord to
``ctx.rounds`` and returns the aggregated gradient estimate.

Real execution: when ``ctx.clock`` is a real backend (:mod:`algorithms.distributed`), it
has an ``aggregate(kind, theta, M, ctx)`` method that runs the same procedure on real
processes in wall-clock time; the patterns hand the round to it instead of planning it on
the simulated clock. The method modules do not change.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from algorithms import aggregation
from algorithms.methods.base import Context

Aggregate = Callable[[np.ndarray, int, Context], np.ndarray]


def _real(kind: str, theta: np.ndarray, M: int, ctx: Context) -> np.ndarray | None:
    """The round run by a real backend, or None on the simulated clock."""
    backend = getattr(ctx.clock, "aggregate", None)
    return None if backend is None else backend(kind, theta, M, ctx)


def rennala(theta: np.ndarray, M: int, ctx: Context) -> np.ndarray:
    """AggregateRennala(theta, M, H): mean of the first M gradients to arrive (Algorithm 2)."""
    if (g := _real("rennala", theta, M, ctx)) is not None:
        return g
    g, record = aggregation.aggregate_rennala(theta, M, ctx.oracle, ctx.clock, ctx.rng)
    ctx.rounds.append(record)
    return g


def malenia(theta: np.ndarray, M: int, ctx: Context) -> np.ndarray:
    """AggregateMalenia(theta, M, H): 1/n sum_i gbar_i / M_i (Algorithm 3)."""
    if (g := _real("malenia", theta, M, ctx)) is not None:
        return g
    g, record = aggregation.aggregate_malenia(theta, M, ctx.oracle, ctx.clock, ctx.rng)
    ctx.rounds.append(record)
    return g


def synchronized(theta: np.ndarray, M: int, ctx: Context) -> np.ndarray:
    """Every agent computes ``batch`` gradients, then one reduce; ``M`` is not used.

    The batch per agent is the hyperparameter ``batch`` (1 in the paper's Synchronized
    NIGT: "all agents compute one stochastic gradient", Section H).
    """
    if (g := _real("synchronized", theta, M, ctx)) is not None:
        return g
    batch = int(ctx.hyper.get("batch", 1))
    g, record = aggregation.synchronized_round(theta, ctx.oracle, ctx.clock, ctx.rng, batch=batch)
    ctx.rounds.append(record)
    return g
