"""Synchronized rounds: every agent computes a fixed batch, then one reduce.

Timeline: agent i holds theta at s_i = max(now, join_i) + kappa_i, computes ``batch``
gradients back to back (finish f_i), uploads its local mean (kappa_i); the round ends
at max_i (f_i + kappa_i). Nothing is cancelled. An agent that never finishes (failed,
h = inf) would block the round forever: :class:`AgentFailedError`.

This is the aggregation of "Synchronized NIGT" (Section H) and of plain synchronous
policy gradient; :func:`synchronous_timeline` is shared with the LAPG and Fast-FedPG
rounds.

Paper: Section 4 (discussion after Theorem 4.2: max_i h_i (A + B/n)), Section H.
"""

from __future__ import annotations

import numpy as np

from algorithms.aggregation import _common as cm
from algorithms.aggregation.records import RoundRecord
from algorithms.sim.clock import AgentFailedError, SimClock
from theory import checks


def synchronous_timeline(clock: SimClock, per_agent: int, kind: str
                         ) -> tuple[float, np.ndarray, np.ndarray]:
    """Start a synchronous round: (start, finish times f_i, broadcast ends s_i).

    Every agent runs ``per_agent`` computations back to back from s_i. Raises
    :class:`AgentFailedError` naming an agent that would never finish.
    """
    cm.check_evaluations(per_agent * clock.n, "n", f"{clock.n} agents x {per_agent} each")
    start, h, key, s = cm.open_round(clock)
    finish = clock.finish_after(key, h, s, per_agent)
    bad = ~np.isfinite(finish)
    if bad.any():
        i = int(np.argmax(bad))
        raise AgentFailedError(f"{kind} round: agent {i} never finishes its computations "
                               "(failed or h = inf); a synchronous round would wait forever")
    return start, finish, s


def close_synchronous(clock: SimClock, kind: str, start: float, finish: np.ndarray,
                      s: np.ndarray, counts: np.ndarray, uploaded: np.ndarray,
                      evaluated: int, record_mask: bool = False) -> RoundRecord:
    """Charge the uploads of ``uploaded`` agents and advance the clock to the round's end.

    The server needs every agent's computation to have finished (a skipped upload is
    silent, so the round lasts until max_i f_i), and every upload to have arrived:
    end = max(max_i f_i, max_{i uploads} f_i + kappa_i).
    """
    t_exit = float(finish.max())
    arrive = finish[uploaded] + clock.kappa[uploaded]
    end = max(t_exit, float(arrive.max())) if arrive.size else t_exit
    bcast = min(float(clock.kappa.max()), t_exit - start)
    return cm.close_round(clock, start=start, end=end, kind=kind, t_exit=t_exit, counts=counts,
                          cancelled=0, unused=0, uploads=int(uploaded.sum()),
                          downloads=clock.n, broadcast_time=bcast, reduce_time=end - t_exit,
                          simulated=int(counts.sum()), evaluated=evaluated,
                          uploaded=uploaded if record_mask else None)


def synchronized_round(theta, oracle, clock: SimClock, rng: np.random.Generator,
                       batch: int = 1) -> tuple[np.ndarray, RoundRecord]:
    """Every agent computes ``batch`` gradients at theta; returns the mean of agent means.

    Notes
    -----
    .. math:: g = \\frac{1}{n}\\sum_{i=1}^n \\frac{1}{b}\\sum_{k=1}^{b} g_{i,H}(\\tau_{i,k},\\theta)

    (the average of per-environment means in the heterogeneous setting). One
    ``sum_gradients`` call; the round lasts max_i (s_i + b h_i + kappa_i) with fixed times.

    Paper: Section H ("Synchronized NIGT"), Section 4 (synchronized complexity).
    """
    theta = cm.check_theta(theta, oracle)
    rng = cm.check_rng(rng)
    batch = checks.count("batch", batch)
    start, finish, s = synchronous_timeline(clock, batch, "synchronized")
    counts = np.full(clock.n, batch, dtype=np.int64)
    sums = np.asarray(oracle.sum_gradients(theta, counts, rng))
    rec = close_synchronous(clock, "synchronized", start, finish, s, counts,
                            np.ones(clock.n, dtype=bool), int(counts.sum()))
    return sums.mean(axis=0) / batch, rec
