"""Runs: the one outer loop, its records, checkpoints, output folders and reports.

- :mod:`.records`: the typed records every run yields (:class:`IterationRecord`,
  :class:`RunResult`) and the running totals they are folded from.
- :mod:`.loop`: :func:`run_method`, the loop that drives a method on a backend
  (:mod:`algorithms.backends`): the simulated clock or real processes.
- :mod:`.checkpoint`: checkpoint files (which run, its state, its records).
- :mod:`.outputs`: output folders (claimed and locked), atomic writes, strict JSON.
- :mod:`.report`: CSV/JSON records, bands over seeds and plots.
"""

from typing import Any

__all__ = ["IterationRecord", "RunResult", "run_method"]


def __getattr__(name: str) -> Any:
    """``run_method``, ``IterationRecord`` and ``RunResult``, imported when first asked for:
    ``algorithms.run.tables`` and ``.outputs`` (which ``apga predict`` uses) do not pay for
    the loop's imports (the methods, the aggregation procedures)."""
    if name == "run_method":
        from algorithms.run.loop import run_method

        return run_method
    if name in ("IterationRecord", "RunResult"):
        from algorithms.run import records

        return getattr(records, name)
    raise AttributeError(f"module 'algorithms.run' has no attribute {name!r}")
