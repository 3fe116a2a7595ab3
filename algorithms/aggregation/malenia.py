"""AggregateMalenia (Algorithm 3): per-agent means, waiting on the harmonic loop condition.

The loop of Algorithm 3 runs *while* (1/n sum_i 1/M_i)^{-1} < M/n, where M_i is the number
of gradients agent i has returned; any M_i = 0 makes the left side 0 (1/0 = inf), so the
loop keeps waiting until every agent has at least one gradient. It is NOT "collect M
gradients": that would weight fast agents' environments more and bias the estimator in
the heterogeneous setting. The condition is checked after every arrival, in (time, agent)
order, and evaluated in exact rational arithmetic: stop iff n^2 >= M sum_i 1/M_i.

Timeline as for Algorithm 2 (``docs/clock.md``), except that every agent uploads, so the
round ends at t_exit + max_i kappa_i. An agent that fails before its first gradient, or
failures that make the condition unreachable, raise :class:`AgentFailedError` (the
algorithm itself would wait forever).

Paper: Algorithm 3, Lemma C.2, Section 5 (unbiasedness of 1/n sum_i gbar_i / M_i).
"""

from __future__ import annotations

import math

import numpy as np

from algorithms.aggregation import _common as cm
from algorithms.aggregation import counting
from algorithms.aggregation.records import RoundRecord
from algorithms.sim.clock import AgentFailedError, SimClock, TooManyArrivalsError


def malenia_should_stop(counts: np.ndarray, M: int) -> bool:
    """Exit test of Algorithm 3's loop, exactly (rational arithmetic).

    Notes
    -----
    The loop continues while :math:`(\\frac{1}{n}\\sum_i 1/M_i)^{-1} < M/n`; with all
    M_i >= 1 this is :math:`n^2 < M \\sum_i 1/M_i`. Any M_i = 0 continues the loop.

    Paper: Algorithm 3 line 4.
    """
    counts = np.asarray(counts, dtype=np.int64)
    if (counts <= 0).any():
        return False
    n = counts.size
    # Float first: sum 1/M_i is within a relative 2^-50 of its exact value (each term
    # rounded once, summed exactly by fsum), so only a near tie needs the exact test,
    # whose lcm grows with the number of distinct counts.
    S = math.fsum((1.0 / counts).tolist())
    gap = n * n - M * S
    if abs(gap) > 2.0**-40 * (n * n + M * S):
        return gap > 0
    return _margin(counts, n, M) >= 0


def _margin(counts: np.ndarray, n: int, M: int) -> int:
    """An integer with the sign of n^2 - M sum_i 1/M_i (all counts >= 1), exactly.

    With L = lcm(M_i): n^2 - M sum 1/M_i = (n^2 L - M sum_i L/M_i) / L, and L > 0.

    Paper: Algorithm 3 line 4 (the loop condition, multiplied out).
    """
    vals, mult = np.unique(counts, return_counts=True)
    vals = [int(v) for v in vals]
    L = math.lcm(*vals)
    num = sum(int(c) * (L // v) for v, c in zip(vals, mult, strict=True))
    return n * n * L - int(M) * num


def plan_malenia(clock: SimClock, M: int) -> RoundRecord:
    """Run the clock side of Algorithm 3; advances ``clock.now`` and ``clock.iteration``.

    The arrivals up to a horizon are sorted once; the running value of sum_i 1/M_i after
    each arrival is a cumulative sum (a first arrival of an agent removes one M_i = 0; a
    k-th arrival adds 1/k - 1/(k-1)), which locates the exit to within rounding; the exact
    test :func:`malenia_should_stop` then fixes it by bisection (the test is monotone).

    Paper: Algorithm 3 lines 2-9, Lemma C.2.
    """
    M = cm.check_M(M)
    start, h, key, s = cm.open_round(clock)
    n = clock.n
    never = ~(np.isfinite(s) & np.isfinite(h))
    if never.any():
        i = int(np.argmax(never))
        raise AgentFailedError(
            f"AggregateMalenia: agent {i} can never return a gradient (failed or h = inf), "
            "so M_i = 0 keeps Algorithm 3 waiting forever")
    T = cm.first_horizon(s, start, float(h.max() + h.mean() * M / n))
    stop = cm.last_finite_failure(clock)
    target = n * n / M
    for _ in range(cm.MAX_DOUBLINGS):
        try:
            a, k, t = clock.arrivals(key, h, s, T)
        except TooManyArrivalsError as exc:
            if clock.timing != "fixed":
                raise cm.too_many(clock, "AggregateMalenia", exc, M) from None
            return _counted(clock, h, s, start, T, M, stop)
        order = np.lexsort((a, t))
        a, k, t = a[order], k[order], t[order]
        j = _exit_index(a, k, n, M, target)
        if j is not None:
            counts = np.bincount(a[: j + 1], minlength=n)
            t_exit = float(t[j])
            keep = t <= t_exit
            return cm.finish_round(clock, "malenia", start, t_exit, s, a[keep], t[keep],
                                   j + 1, counts, j + 1)
        if T >= stop:
            _raise_if_unreachable(clock, np.bincount(a, minlength=n), n, M)
        T = start + 2.0 * (T - start)
    raise AgentFailedError(  # pragma: no cover - needs astronomically slow agents
        "AggregateMalenia: the loop condition was not met within the simulated horizon")


def _counted(clock: SimClock, h: np.ndarray, s: np.ndarray, start: float, T: float, M: int,
             last_failure: float) -> RoundRecord:
    """The round of :func:`plan_malenia` by counting (fixed timing, too many arrivals to
    list; :mod:`algorithms.aggregation.counting`). Same exit, counts and record."""
    n = clock.n

    def stops(counts: np.ndarray) -> bool:
        return malenia_should_stop(counts, M)

    for _ in range(cm.MAX_DOUBLINGS):
        if not np.isfinite(T):
            break
        clock.check_resolution(T, start)
        counts = clock.fixed_counts(h, s, T)
        if stops(counts):
            t_exit, used, arrivals, at_exit = counting.counted_exit(clock, h, s, start, T,
                                                                     stops)
            total = int(used.sum())
            return cm.finish_round(clock, "malenia", start, t_exit, s, None, None, total,
                                   used, total, at_exit=at_exit, n_arrivals=arrivals)
        if T >= last_failure:
            _raise_if_unreachable(clock, counts, n, M)
        T = start + 2.0 * (T - start)
    raise AgentFailedError(
        "AggregateMalenia: the loop condition was not met within the simulated horizon")


def _exit_index(a, k, n, M, target):
    """Index of the arrival after which the loop exits, or None within these arrivals."""
    if a.size == 0:
        return None
    first = k == 1
    zeros = n - np.cumsum(first)
    delta = np.where(first, 1.0, 1.0 / k - 1.0 / np.maximum(k - 1, 1))
    S = np.cumsum(delta)
    full = zeros == 0
    if not full.any():
        return None
    j0 = int(np.argmax(full))

    def stops(j):
        return malenia_should_stop(np.bincount(a[: j + 1], minlength=n), M)

    # The exact test decides; the float running sum only gives first guesses. The test
    # is monotone in j: if it fails at the last arrival the loop has not exited yet.
    # (Trusting a float guess as an upper end, as before, returned "not yet" whenever the
    # exact test disagreed with it, and the caller then doubled its horizon until memory
    # ran out.)
    lo, hi = j0, a.size - 1
    if not stops(hi):
        return None
    for guess in (np.flatnonzero(S[j0:] <= target * (1 + 1e-6)),
                  np.flatnonzero(S[j0:] <= target * (1 - 1e-6))):
        if guess.size and lo <= j0 + int(guess[0]) < hi:
            g = j0 + int(guess[0])
            if stops(g):
                hi = g
            else:
                lo = g + 1
    while lo < hi:  # first j in [lo, hi] where the exact test passes (monotone in j)
        mid = (lo + hi) // 2
        if stops(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _raise_if_unreachable(clock: SimClock, counts: np.ndarray, n: int, M: int) -> None:
    """After the last failure: raise if the failed agents' final counts block the exit."""
    failed = np.isfinite(clock.fail_at)
    zero = failed & (counts == 0)
    if zero.any():
        i = int(np.argmax(zero))
        raise AgentFailedError(
            f"AggregateMalenia: agent {i} failed at t = {clock.fail_at[i]:g} before returning "
            "a gradient; M_i = 0 keeps Algorithm 3 waiting forever")
    # Living agents can only lower sum 1/M_i towards sum over failed agents (never reach it).
    fc = counts[failed]
    # Living agents can end the loop only if n^2 > M sum_{failed} 1/M_f (margin > 0).
    if fc.size == n or (fc.size and _margin(fc, n, M) <= 0):
        raise AgentFailedError(
            f"AggregateMalenia: {fc.size} failed agents' final counts keep "
            f"(1/n sum 1/M_i)^(-1) < M/n = {M / n:g} forever")


def aggregate_malenia(theta, M: int, oracle, clock: SimClock, rng: np.random.Generator
                      ) -> tuple[np.ndarray, RoundRecord]:
    """AggregateMalenia(theta, M): 1/n sum_i gbar_i / M_i, and the round's record.

    Notes
    -----
    .. math:: g = \\frac{1}{n}\\sum_{i=1}^n \\frac{\\bar g_i}{M_i},\\quad
              \\bar g_i = \\sum_{k=1}^{M_i} g_{i,H}(\\tau_{i,k}, \\theta)

    unbiased for the average of the per-environment gradients. One ``sum_gradients`` call.

    Paper: Algorithm 3 line 10; Section 5 (unbiasedness).
    """
    theta = cm.check_theta(theta, oracle)
    rng = cm.check_rng(rng)
    record = plan_malenia(clock, M)
    h = clock.h_at(record.iteration)
    cm.check_evaluations(record.evaluated, "h", f"Algorithm 3 waits for the slowest agent "
                         f"while the fastest computes: h from {h.min():.3g} to {h.max():.3g}")
    sums = np.asarray(oracle.sum_gradients(theta, record.counts, rng))
    return (sums / record.counts[:, None]).mean(axis=0), record
