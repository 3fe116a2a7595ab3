"""Speed of one AggregateRennala round (Algorithm 2) at scale, against a heapq event loop.

Target (issue 3, item 6): n = 100,000 agents, M = 1,000,000, exponential computation
times: the vectorised plan (:func:`algorithms.aggregation.plan_rennala`: per-agent finish
times as chunked sequential sums, then one ``np.partition``) must be >= 10x faster than a
plain heapq event loop (:func:`algorithms.aggregation.reference.rennala_heap`) computing
the same round in the same run.

Same draws: both run on clocks built with the same seed, so they draw the same round key
and agent i's k-th duration is the same pure function d(key, i, k) in both (the heap loop
generates each agent's draws lazily in chunks; its time includes them, as the plan's
time includes its own). The bench checks that the per-agent counts and the exit time are
identical, and exits 1 if not.

Usage: ``python bench/bench_aggregate.py [--n N] [--M M] [--h sqrt] [--timing exponential]
[--malenia]`` (``--malenia`` also times AggregateMalenia against its Fraction-exact heap
loop on a smaller cluster).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from algorithms.aggregation import plan_malenia, plan_rennala
from algorithms.aggregation.reference import malenia_heap, rennala_heap
from algorithms.sim.clock import make_clock

TARGET = 10.0


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def compare(name, plan, heap, n, M, h, timing, seed) -> bool:
    fast_clock = make_clock(h, 0.0, timing=timing, seed=seed, n=n)
    heap_clock = make_clock(h, 0.0, timing=timing, seed=seed, n=n)
    plan(make_clock(h, 0.0, timing=timing, seed=seed + 1, n=n), M)  # warm-up
    record, t_fast = timed(lambda: plan(fast_clock, M))
    (counts, t_exit), t_heap = timed(lambda: heap(heap_clock, M))
    same = bool(np.array_equal(record.counts, counts) and record.t_exit == t_exit)
    ratio = t_heap / t_fast
    print(f"{name}: n = {n:,}, M = {M:,}, h = {h}, timing = {timing}")
    print(f"  vectorised plan  {t_fast:8.3f} s   exit t = {record.t_exit!r}")
    print(f"  heapq loop       {t_heap:8.3f} s   exit t = {t_exit!r}")
    print(f"  identical counts and exit time: {same}  "
          f"(agents used: {int((record.counts > 0).sum()):,}, "
          f"max count {int(record.counts.max()):,})")
    print(f"  ratio heapq / vectorised = {ratio:.1f}x")
    return same and ratio >= TARGET


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--M", type=int, default=1_000_000)
    p.add_argument("--h", default="sqrt")
    p.add_argument("--timing", default="exponential")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--malenia", action="store_true")
    args = p.parse_args(argv)
    ok = compare("AggregateRennala", plan_rennala, rennala_heap, args.n, args.M, args.h,
                 args.timing, args.seed)
    print(f"target >= {TARGET:.0f}x: {'met' if ok else 'NOT met'}")
    if args.malenia:
        compare("AggregateMalenia", plan_malenia, malenia_heap, 2_000, 100_000, args.h,
                args.timing, args.seed)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
