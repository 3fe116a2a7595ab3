"""AggregateRennala (Algorithm 2): average the first M stochastic gradients to arrive.

Timeline (see ``docs/clock.md``): the round starts at ``clock.now``; agent i holds theta
at s_i = max(now, join_i) + kappa_i and computes back to back; the loop ends at the finish
time t_exit of the M-th gradient in (time, agent) order; computations in flight are
cancelled (Algorithm 2 line 9: no further cost, no oracle call); agents with at least one
gradient upload their local sum, each upload starting at t_exit and taking kappa_i, so the
round ends at t_exit + max_{i: counts_i > 0} kappa_i. Agents with no gradient send nothing.

Plan, then evaluate: the clock decides the per-agent counts first (no event heap: the
M smallest finish times are found with one ``np.partition`` over vectorised per-agent
finish times), then the oracle evaluates exactly those M gradients in one
``sum_gradients`` call.

Paper: Algorithm 2, Lemma C.1, Section 3 (local aggregation, single AllReduce).
"""

from __future__ import annotations

import numpy as np

from algorithms.aggregation import _common as cm
from algorithms.aggregation import counting
from algorithms.aggregation.records import RoundRecord
from algorithms.sim.clock import AgentFailedError, SimClock, TooManyArrivalsError
from theory.harmonic import harmonic_min


def plan_rennala(clock: SimClock, M: int) -> RoundRecord:
    """Run the clock side of Algorithm 2: which samples the round uses and when it ends.

    Advances ``clock.now`` to the end of the round (broadcast + loop + reduce) and
    ``clock.iteration`` by one. Raises :class:`AgentFailedError` if failed agents make M
    gradients unreachable.

    Notes
    -----
    With fixed times and kappa = 0 the exit time is
    :math:`t^* = \\min\\{t : \\sum_i \\lfloor t / h_i \\rfloor \\ge M\\}` and
    :math:`t^* \\le \\min_m (\\sum_{i\\le m} 1/h_{(i)})^{-1}(M + m)` (Lemma C.1 proof).

    Paper: Algorithm 2 lines 2-9, Lemma C.1.
    """
    M = cm.check_M(M)
    start, h, key, s = cm.open_round(clock)
    h_eff = np.where(np.isfinite(s), h, np.inf)
    if np.isinf(h_eff).all():
        raise AgentFailedError("AggregateRennala: no agent can return a gradient "
                               "(all failed or have h = inf)")
    T = cm.first_horizon(s, start, harmonic_min(h_eff, 1.0, float(M)).value)
    stop = cm.last_finite_failure(clock)
    never_fails = np.isfinite(s) & np.isfinite(h) & np.isinf(clock.fail_at)
    for _ in range(cm.MAX_DOUBLINGS):
        try:
            a, _k, t = clock.arrivals(key, h, s, T)
        except TooManyArrivalsError as exc:
            if clock.timing != "fixed":
                raise cm.too_many(clock, "AggregateRennala", exc, M) from None
            return _counted(clock, h, s, start, T, M)
        if a.size >= M:
            break
        if not never_fails.any() and T >= stop:
            raise AgentFailedError(
                f"AggregateRennala: failed agents leave only {a.size} reachable gradients, "
                f"fewer than M = {M}")
        T = start + 2.0 * (T - start)
    else:  # pragma: no cover - guarded by the finite-time checks above
        raise AgentFailedError("AggregateRennala: horizon did not reach M gradients")
    t_exit = float(np.partition(t, M - 1)[M - 1])
    before = t < t_exit
    counts = np.bincount(a[before], minlength=clock.n)
    ties = np.sort(a[t == t_exit])  # equal finish times: lower agent index first
    counts += np.bincount(ties[: M - int(before.sum())], minlength=clock.n)
    keep = t <= t_exit
    return cm.finish_round(clock, "rennala", start, t_exit, s, a[keep], t[keep], M, counts, M)


def _counted(clock: SimClock, h: np.ndarray, s: np.ndarray, start: float, T: float,
             M: int) -> RoundRecord:
    """The round of :func:`plan_rennala` by counting (fixed timing, too many arrivals to
    list): the exit is the first time by which M computations have finished."""
    def enough(counts: np.ndarray) -> bool:
        return int(counts.sum()) >= M

    T = counting.horizon_reaching(clock, h, s, start, T, enough, cm.MAX_DOUBLINGS)
    if T is None:
        raise AgentFailedError(f"AggregateRennala: fewer than M = {M} gradients are "
                               "reachable (failed agents)")
    t_exit, counts, arrivals, at_exit = counting.counted_exit(clock, h, s, start, T, enough)
    return cm.finish_round(clock, "rennala", start, t_exit, s, None, None, M, counts, M,
                           at_exit=at_exit, n_arrivals=arrivals)


def aggregate_rennala(theta, M: int, oracle, clock: SimClock, rng: np.random.Generator
                      ) -> tuple[np.ndarray, RoundRecord]:
    """AggregateRennala(theta, M): the mean of the first M gradients to arrive, and its record.

    Notes
    -----
    .. math:: \\bar g = \\frac{1}{M}\\sum_{j=1}^{M} g_H(\\bar\\tau_j, \\theta)
              = \\frac{1}{M}\\sum_{i=1}^n \\sum_{k=1}^{c_i} g_H(\\tau_{i,k}, \\theta)

    where c_i are the per-agent counts (sum M). One ``oracle.sum_gradients`` call.

    Paper: Algorithm 2; unbiasedness in the proof of Theorem 4.1.
    """
    theta = cm.check_theta(theta, oracle)
    rng = cm.check_rng(rng)
    record = plan_rennala(clock, M)
    sums = oracle.sum_gradients(theta, record.counts, rng)
    return np.asarray(sums).sum(axis=0) / record.evaluated, record
