"""Fast-FedPG rounds: K sequential local steps on every agent, then one reduce.

Timeline as a synchronized round: agent i holds theta at s_i, then performs K local steps,
each computing ``batch`` gradients at its current local parameters (K * batch
computations back to back), and uploads its final local parameters (kappa_i). The round
ends at max_i (f_i + kappa_i).

Evaluation: step k of agent i needs the gradients at theta_{i,k}, which depends on the
earlier steps, so the oracle is called once per (step, agent) - except step 0, where all
agents share theta and one batched ``sum_gradients`` call serves everyone.

Paper (Fast-FedPG, ../shared/papers/fast-fedpg.txt): Algorithm 1 (H local steps per
round, then the server averages).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from algorithms.aggregation import _common as cm
from algorithms.aggregation.records import RoundRecord
from algorithms.aggregation.synchronized import close_synchronous, synchronous_timeline
from algorithms.sim.clock import SimClock
from theory import checks

LocalUpdate = Callable[[int, int, np.ndarray, np.ndarray], np.ndarray]


def local_steps_round(theta, K: int, local_update: LocalUpdate, oracle, clock: SimClock,
                      rng: np.random.Generator, batch: int = 1
                      ) -> tuple[np.ndarray, RoundRecord]:
    """K local steps per agent; returns the final local parameters (n, d) and the record.

    ``local_update(i, k, theta_i, g) -> theta_i_new`` with g the mean of ``batch``
    gradients of agent i at theta_i (k = 0..K-1).

    Notes
    -----
    .. math:: \\theta_{i,k+1} = U(i, k, \\theta_{i,k}, \\tfrac{1}{b}\\sum_{j=1}^b
              g_{i,H}(\\tau_{i,k,j}, \\theta_{i,k})), \\quad \\theta_{i,0} = \\theta

    Paper: Fast-FedPG Algorithm 1 (local steps, eq. (6) is the caller's ``local_update``).
    """
    theta = cm.check_theta(theta, oracle)
    rng = cm.check_rng(rng)
    K = checks.count("K", K)
    batch = checks.count("batch", batch)
    if not callable(local_update):
        raise ValueError("local_update must be a callable (i, k, theta_i, g) -> theta_i")
    start, finish, s = synchronous_timeline(clock, K * batch, "local_steps")
    n = clock.n
    thetas = np.tile(theta, (n, 1))
    g0 = np.asarray(oracle.sum_gradients(theta, np.full(n, batch, dtype=np.int64), rng)) / batch
    for k in range(K):
        for i in range(n):
            if k == 0:
                g = g0[i]
            else:
                g = np.asarray(oracle.sample_gradients(thetas[i], np.full(batch, i), rng)
                               ).mean(axis=0)
            new = np.asarray(local_update(i, k, thetas[i].copy(), g), dtype=float)
            if new.shape != theta.shape:
                raise ValueError(f"local_update must return shape {theta.shape}, got {new.shape}")
            thetas[i] = new
    counts = np.full(n, K * batch, dtype=np.int64)
    rec = close_synchronous(clock, "local_steps", start, finish, s, counts,
                            np.ones(n, dtype=bool), int(counts.sum()))
    return thetas, rec
