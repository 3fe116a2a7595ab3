"""Rounds with fixed timing decided by counting arrivals instead of listing them.

With fixed times the number of agent i's computations finished by time t is
K_i(t) = max{k : s_i + k h_i <= t} (:meth:`algorithms.sim.clock.SimClock.fixed_counts`), an
O(n) computation whatever the number of arrivals. A loop that exits on a test of the
per-agent counts that is monotone in t (Algorithm 2: sum_i M_i >= M; Algorithm 3: the
harmonic condition) exits at the first arrival time t* at which the test passes with
every arrival <= t* counted. That time is found by bisection on t over floats, and the
arrivals tied at t* are then consumed one by one in agent order, as the listing
procedures do in (time, agent) order. The result is the same round as listing every
arrival, at O(n log) cost: a spread such as h = (1e-6, 1e6) in Algorithm 3, where the
fast agent finishes ~10^12 computations before the slow one's third, is answered
without holding 10^12 events in memory.

Paper: Algorithm 2 lines 4-8, Algorithm 3 lines 3-8 (the loops whose exit is counted).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from algorithms.sim.clock import SimClock

Stop = Callable[[np.ndarray], bool]

#: Float bisection halves [lo, hi] until the two are neighbours: at most ~2100 steps
#: over the whole double range, ~60 in practice.
_MAX_BISECTIONS = 4096


def counted_exit(clock: SimClock, h: np.ndarray, s: np.ndarray, start: float, T: float,
                 stop: Stop) -> tuple[float, np.ndarray, int, np.ndarray]:
    """Exit of a loop whose test ``stop(counts)`` first passes by time ``T``.

    Requires ``stop(fixed_counts(T))`` to be true and the test to be monotone in t.
    Returns (t_exit, counts consumed, arrivals at times <= t_exit, mask of the agents
    with an arrival exactly at t_exit).

    Notes
    -----
    .. math:: t^* = \\min\\{t : \\mathrm{stop}(K(t))\\},\\quad
              K_i(t) = \\max\\{k : s_i + k h_i \\le t\\}

    then, for the agents i_1 < i_2 < ... finishing exactly at t^*, the loop consumes
    K(t^{*-}) + e_{i_1} + ... + e_{i_j} with j the first index at which the test passes.
    """
    lo, hi = start, T
    for _ in range(_MAX_BISECTIONS):
        mid = lo + (hi - lo) / 2
        if not lo < mid < hi:
            break
        if stop(clock.fixed_counts(h, s, mid)):
            hi = mid
        else:
            lo = mid
    before = clock.fixed_counts(h, s, lo)
    at_hi = clock.fixed_counts(h, s, hi)
    tied = np.flatnonzero(at_hi > before)
    counts = before.copy()
    for i in tied:  # equal finish times: lower agent index first, as when listing
        counts[i] += 1
        if stop(counts):
            break
    return float(hi), counts, int(at_hi.sum()), at_hi > before


def horizon_reaching(clock: SimClock, h: np.ndarray, s: np.ndarray, start: float,
                     T: float, stop: Stop, max_doublings: int) -> float | None:
    """Double T - start until the counts at T pass ``stop``; None if they never do
    within ``max_doublings`` or before T overflows."""
    for _ in range(max_doublings):
        clock.check_resolution(T, start)
        if stop(clock.fixed_counts(h, s, T)):
            return T
        T = start + 2.0 * (T - start)
    return None
