"""Typed per-round records of the aggregation procedures (records, not prints).

Paper: Algorithms 2 and 3 (what a round uses), Lemmas C.1 and C.2 (the time terms).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from algorithms.sim.clock import expand_counts


@dataclass(frozen=True)
class RoundRecord:
    """What one aggregation round did, on the simulated clock.

    start, end:        simulated times at which the round began (``clock.now`` on entry)
                       and at which its result is available (after the reduce).
    kind:              ``rennala`` | ``malenia`` | ``synchronized`` | ``lazy`` |
                       ``local_steps`` | ``greedy``.
    t_exit:            when the collection loop ended ("Stop all calculations").
    counts:            gradients contributed by each agent, shape (n,). Agent i's used
                       samples are exactly its computations k = 1..counts[i] of this round
                       (an agent computes sequentially and every finished computation
                       before the exit is used), so ``counts`` is the compact form of the
                       used (agent, k) pairs; :meth:`used_samples` expands it.
    cancelled:         computations in flight when the loop ended (started, not finished:
                       stopped, no further cost, no oracle call).
    unused:            computations that finished but were not used (ties at t_exit
                       beyond the M-th gradient in Algorithm 2); no oracle call.
    uploads, downloads: vector transfers agent -> server and server -> agent.
    n_communications:  uploads + downloads.
    broadcast_time:    min(max_i kappa_i over receiving agents, t_exit - start).
    reduce_time:       end - t_exit.
    communication_time: broadcast_time + reduce_time (2 kappa with one kappa, Lemma C.1).
    computation_time:  t_exit - start - broadcast_time; computation + communication =
                       end - start.
    simulated:         computations the clock simulated (used + unused + cancelled).
    evaluated:         gradients the oracle evaluated (= sum(counts) for one-theta rounds).
    iteration:         the clock iteration t the round ran in (selects h_{t,i}).
    uploaded:          per-agent upload mask (lazy rounds), else None.
    """

    start: float
    end: float
    kind: str
    t_exit: float
    counts: np.ndarray
    cancelled: int
    unused: int
    uploads: int
    downloads: int
    broadcast_time: float
    reduce_time: float
    simulated: int
    evaluated: int
    iteration: int
    uploaded: np.ndarray | None = field(default=None)

    def __post_init__(self) -> None:
        counts = np.array(self.counts, dtype=np.int64)
        counts.setflags(write=False)
        object.__setattr__(self, "counts", counts)
        if self.uploaded is not None:
            up = np.array(self.uploaded, dtype=bool)
            up.setflags(write=False)
            object.__setattr__(self, "uploaded", up)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RoundRecord):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    @property
    def n_communications(self) -> int:
        return self.uploads + self.downloads

    @property
    def communication_time(self) -> float:
        return self.broadcast_time + self.reduce_time

    @property
    def computation_time(self) -> float:
        return self.t_exit - self.start - self.broadcast_time

    @property
    def duration(self) -> float:
        return self.end - self.start

    def used_samples(self) -> np.ndarray:
        """The used samples as an (N, 2) int array of (agent, k) pairs, k = 1..counts[agent]."""
        return np.stack(expand_counts(np.arange(self.counts.size), self.counts), axis=1)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (lists and Python scalars), including the derived terms."""
        return {
            "kind": self.kind, "start": self.start, "end": self.end, "t_exit": self.t_exit,
            "iteration": self.iteration, "counts": self.counts.tolist(),
            "cancelled": self.cancelled, "unused": self.unused, "uploads": self.uploads,
            "downloads": self.downloads, "n_communications": self.n_communications,
            "broadcast_time": self.broadcast_time, "reduce_time": self.reduce_time,
            "communication_time": self.communication_time,
            "computation_time": self.computation_time, "simulated": self.simulated,
            "evaluated": self.evaluated,
            "uploaded": None if self.uploaded is None else self.uploaded.tolist(),
        }
