"""Runs: the one outer loop, its records, checkpoints, output folders and reports.

- :mod:`.records`: the typed records every run yields (:class:`IterationRecord`,
  :class:`RunResult`) and the running totals they are folded from.
- :mod:`.loop`: :func:`run_method`, the loop that drives a method on a backend
  (:mod:`algorithms.backends`): the simulated clock or real processes.
- :mod:`.checkpoint`: checkpoint files (which run, its state, its records).
- :mod:`.outputs`: output folders (claimed and locked), atomic writes, strict JSON.
- :mod:`.report`: CSV/JSON records, bands over seeds and plots.
"""

from algorithms.run.loop import run_method
from algorithms.run.records import IterationRecord, RunResult

__all__ = ["IterationRecord", "RunResult", "run_method"]
