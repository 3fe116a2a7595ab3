"""The simulated backend: methods run on the simulated clock (plan, then evaluate once).

:class:`SimulatedBackend` implements :class:`algorithms.backends.protocol.Backend` over a
:class:`algorithms.sim.clock.SimClock`: each round is planned exactly on the clock by an
aggregation procedure (:mod:`algorithms.aggregation`), then the oracle computes only the
gradients the round uses, in one batched call (docs/architecture.md, idea 1).

The clock stays public (``backend.clock``): procedures that exist only on the simulated
clock (LAPG's lazy uploads, Fast-FedPG's local steps) take it directly, and checkpoints
save it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from algorithms import aggregation
from algorithms.sim.clock import SimClock


class SimulatedBackend:
    """The :class:`~algorithms.backends.protocol.Backend` of a simulated run."""

    def __init__(self, clock: SimClock) -> None:
        if not isinstance(clock, SimClock):
            raise ValueError(f"clock: expected a SimClock (make_clock), got {type(clock).__name__}")
        self.clock = clock

    # -- the cluster ----------------------------------------------------------------------
    @property
    def n(self) -> int:
        return self.clock.n

    @property
    def kappa(self) -> np.ndarray:
        return self.clock.kappa

    @property
    def now(self) -> float:
        return self.clock.now

    @property
    def shared_now(self) -> float:
        return self.clock.now

    # -- rounds ---------------------------------------------------------------------------
    def aggregate(self, kind: str, theta: np.ndarray, M: int, ctx: Any) -> np.ndarray:
        """Algorithm 2 (``rennala``), Algorithm 3 (``malenia``) or a synchronized round
        planned on the clock; the round's record goes to ``ctx.rounds``."""
        if kind == "rennala":
            g, record = aggregation.aggregate_rennala(theta, M, ctx.oracle, self.clock, ctx.rng)
        elif kind == "malenia":
            g, record = aggregation.aggregate_malenia(theta, M, ctx.oracle, self.clock, ctx.rng)
        elif kind == "synchronized":
            batch = int(ctx.hyper.get("batch", 1))
            g, record = aggregation.synchronized_round(theta, ctx.oracle, self.clock, ctx.rng,
                                                       batch=batch)
        else:
            raise ValueError(f"kind: unknown aggregation round {kind!r}")
        ctx.rounds.append(record)
        return g

    def greedy(self, oracle: Any, rng: np.random.Generator) -> aggregation.AsyncGreedy:
        """AFedPG's greedy scheduler on the clock."""
        return aggregation.AsyncGreedy(oracle, self.clock, rng)
