"""LAPG rounds: every agent computes its gradient; a rule decides which uploads are skipped.

Timeline as a synchronized round (:mod:`algorithms.aggregation.synchronized`): the
parameters are broadcast, every agent computes ``batch`` gradients, and then only the
agents selected by ``upload`` send (kappa_i each). A skipped upload costs no
communication, but the server still waits for every agent's computation (it cannot tell
a skip from a slow agent): end = max(max_i f_i, max_{uploading i} f_i + kappa_i).

Paper (LAPG, ../shared/papers/lapg-communication-efficient-drl.txt): Algorithm 2, the
upload rule (16); lines 7-8 "if learner m violates the condition then upload".
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from algorithms.aggregation import _common as cm
from algorithms.aggregation.records import RoundRecord
from algorithms.aggregation.synchronized import close_synchronous, synchronous_timeline
from algorithms.sim.clock import SimClock
from theory import checks


def lazy_round(theta, oracle, clock: SimClock, rng: np.random.Generator,
               upload: Callable[[np.ndarray], np.ndarray], batch: int = 1
               ) -> tuple[np.ndarray, np.ndarray, RoundRecord]:
    """One LAPG round: per-agent mean gradients (n, d), the upload mask (n,), the record.

    ``upload(per_agent_grads) -> bool mask`` is the caller's rule (e.g. LAPG's condition
    (16) on the innovation against each agent's last uploaded gradient). The caller
    uses only the rows with ``mask`` True as fresh information; the others are stale.

    Notes
    -----
    .. math:: \\hat\\nabla_i = \\frac{1}{b}\\sum_{k=1}^{b} g_{i,H}(\\tau_{i,k}, \\theta)

    Paper: LAPG Algorithm 2 and condition (16).
    """
    theta = cm.check_theta(theta, oracle)
    rng = cm.check_rng(rng)
    batch = checks.count("batch", batch)
    if not callable(upload):
        raise ValueError("upload must be a callable per_agent_grads -> bool mask")
    start, finish, s = synchronous_timeline(clock, batch, "lazy")
    counts = np.full(clock.n, batch, dtype=np.int64)
    grads = np.asarray(oracle.sum_gradients(theta, counts, rng)) / batch
    mask = np.asarray(upload(grads.copy()))
    if mask.shape != (clock.n,) or mask.dtype != bool:
        raise ValueError(f"upload must return a bool array of shape ({clock.n},), "
                         f"got {mask.dtype} {mask.shape}")
    rec = close_synchronous(clock, "lazy", start, finish, s, counts, mask, int(counts.sum()),
                            record_mask=True)
    return grads, mask, rec
