"""Plain heapq event loops for Algorithms 2 and 3: slow references for tests and bench/.

They read the same clock (same key, same durations d(key, i, k), same broadcast ends and
failures) as :func:`plan_rennala` / :func:`plan_malenia` but simulate one event at a time,
exactly as the pseudocode reads (simpy-style heap of (time, agent)). They return the
per-agent counts and the exit time, and advance the clock like the fast versions.

Paper: Algorithm 2 lines 4-8, Algorithm 3 lines 4-8.
"""

from __future__ import annotations

import heapq
from fractions import Fraction

import numpy as np

from algorithms.aggregation import _common as cm
from algorithms.sim.clock import AgentFailedError, SimClock

_CHUNK = 64


class _Durations:
    """Agent i's durations d(key, i, k), generated lazily in chunks of the same function."""

    def __init__(self, clock: SimClock, key: int, h: np.ndarray) -> None:
        self.clock, self.key, self.h = clock, key, h
        self.cache: dict[int, list[float]] = {}

    def get(self, i: int, k: int) -> float:
        buf = self.cache.setdefault(i, [])
        while k >= len(buf):
            ks = np.arange(len(buf), len(buf) + max(_CHUNK, len(buf)))
            buf.extend(self.clock.durations(self.key, self.h, np.full(ks.size, i), ks).tolist())
        return buf[k]


def _next_finish(clock, dur, h, s, i, k, prev):
    """Finish time of agent i's k-th computation (1-based) given the previous one."""
    t = s[i] + k * h[i] if clock.timing == "fixed" else prev + dur.get(i, k - 1)
    return t if t < clock.fail_at[i] else None


def _loop(clock: SimClock, stop) -> tuple[np.ndarray, float, float, np.ndarray]:
    start, h, key, s = cm.open_round(clock)
    dur = _Durations(clock, key, h)
    heap: list[tuple[float, int]] = []
    for i in range(clock.n):
        if np.isfinite(s[i]) and np.isfinite(h[i]):
            t = _next_finish(clock, dur, h, s, i, 1, float(s[i]))
            if t is not None:
                heapq.heappush(heap, (t, i))
    counts = np.zeros(clock.n, dtype=np.int64)
    while True:
        if not heap:
            raise AgentFailedError("reference loop: no computation in flight, cannot finish")
        t, j = heapq.heappop(heap)  # Wait for a gradient from an agent j
        counts[j] += 1
        if stop(j, counts):
            return counts, t, start, s
        nxt = _next_finish(clock, dur, h, s, j, int(counts[j]) + 1, t)  # j starts the next
        if nxt is not None:
            heapq.heappush(heap, (nxt, j))


def rennala_heap(clock: SimClock, M: int) -> tuple[np.ndarray, float]:
    """Per-agent counts and exit time of Algorithm 2 by a plain event loop."""
    total = [0]

    def stop(_j, _counts):
        total[0] += 1
        return total[0] >= M

    counts, t, _, _ = _loop(clock, stop)
    return counts, t


def malenia_heap(clock: SimClock, M: int, max_events: int = 10**7) -> tuple[np.ndarray, float]:
    """Per-agent counts and exit time of Algorithm 3, condition in exact Fractions."""
    n = clock.n
    state = {"zeros": n, "S": Fraction(0), "events": 0}

    def stop(j, counts):
        state["events"] += 1
        if state["events"] > max_events:
            raise AgentFailedError("reference loop: too many events")
        k = int(counts[j])
        if k == 1:
            state["zeros"] -= 1
            state["S"] += 1
        else:
            state["S"] += Fraction(1, k) - Fraction(1, k - 1)
        # while (1/n sum 1/M_i)^{-1} < M/n  <=>  n / S < M / n
        return state["zeros"] == 0 and not (Fraction(n) / state["S"] < Fraction(M, n))

    counts, t, _, _ = _loop(clock, stop)
    return counts, t
