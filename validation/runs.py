"""Running methods for the checks: seeded clocks, exact evaluation, seeds in parallel."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from algorithms.sim.clock import seeded_clock  # noqa: F401 - re-exported for the checks


def grad_norm_evaluator(objective: Any) -> Callable[[np.ndarray], tuple[float, float]]:
    """(NaN, ||grad J(theta)||) from an exact objective: J itself is not needed here."""
    return lambda theta: (float("nan"), float(np.linalg.norm(objective.grad_J(theta))))


def map_seeds(
    fn: Callable[[int], Any], seeds: Sequence[int], workers: int | None = None
) -> list[Any]:
    """``[fn(s) for s in seeds]``, in worker processes when there is more than one seed.

    Results come back in seed order; each call is a pure function of its seed, so the
    output does not depend on the number of workers. ``workers`` defaults to
    min(len(seeds), os.cpu_count(), 4); ``APGA_VALIDATE_WORKERS=1`` forces a serial run.
    """
    seeds = list(seeds)
    env = os.environ.get("APGA_VALIDATE_WORKERS")
    if workers is None:
        workers = int(env) if env else min(len(seeds), os.cpu_count() or 1, 4)
    if workers <= 1 or len(seeds) <= 1:
        return [fn(s) for s in seeds]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, seeds))
