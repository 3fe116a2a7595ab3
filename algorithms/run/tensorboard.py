"""TensorBoard scalars of a run (``--tensorboard DIR`` of ``apga train``, ``compare``, ``launch``).

One folder per run under DIR (``<method>-seed<s>``, made unique if it exists), written
with TensorBoard's own event writer (``tensorboard.summary.Writer``: no torch needed, so
``apga train`` on a tabular MDP stays torch-free). ``tensorboard --logdir DIR`` shows them.

Tags, step = global iteration t:

- ``J``, ``grad_norm``: the objective and ||grad J|| at theta_t where the run evaluates
  them (tabular: exact; MuJoCo launches: ``J`` is the evaluation return, ``--eval-every``);
- ``return/train``: MuJoCo launches, mean undiscounted return of the training episodes
  the iteration used;
- ``gradients/evaluated``, ``communications``: cumulative counts;
- ``gradients/used``: gradients the iteration's rounds used (sum of the counts);
- ``round/seconds``: duration of the iteration's rounds (simulated or wall-clock);
- ``counts/agent<i>``: gradients agent i contributed in the iteration (first 64 agents).

Simulated runs (train, compare) write each point with ``wall_time`` = the time of the
writer's start + the simulated time, so TensorBoard's *Relative* horizontal axis reads
simulated seconds (the x-axis of the paper's figures); launches use real time.

TensorBoard is an optional dependency (the ``tensorboard`` extra): without it the flag is
refused with one line saying how to install it.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

INSTALL = "pip install 'apga[tensorboard]'"
#: Agents whose per-iteration counts are written (n scalars per iteration otherwise).
MAX_AGENTS = 64


def require(flag: str = "--tensorboard") -> None:
    """ValueError naming ``flag`` with the install line if tensorboard is missing."""
    try:
        import tensorboard.summary  # noqa: F401
    except ImportError:
        raise ValueError(f"{flag}: needs the tensorboard package; install it with: "
                         f"{INSTALL}") from None


def _unique(root: Path, name: str) -> Path:
    path = root / name
    k = 1
    while path.exists():
        k += 1
        path = root / f"{name}-{k}"
    return path


class ScalarWriter:
    """Scalars of one run, in ``root/<name>`` (see the module docstring)."""

    def __init__(self, root: str | Path, name: str) -> None:
        require()
        from tensorboard.summary import DirectoryOutput, Writer

        root = Path(root)
        try:
            root.mkdir(parents=True, exist_ok=True)
            self.path = _unique(root, name)
            self.path.mkdir()
        except OSError as exc:
            raise ValueError(f"tensorboard: cannot write in {str(root)!r} "
                             f"({exc.strerror or exc})") from None
        self._w = Writer(DirectoryOutput(str(self.path)))
        self.start = time.time()

    def scalar(self, tag: str, value: Any, step: int, wall_time: float | None = None) -> None:
        if value is None:
            return
        v = float(value)
        if math.isfinite(v):
            self._w.add_scalar(tag, v, int(step), wall_time=wall_time)

    def record(self, rec: Any, wall_time: float | None = None) -> None:
        """The fields of an :class:`algorithms.run.records.IterationRecord`."""
        t = rec.iteration
        self.scalar("J", rec.J, t, wall_time)
        self.scalar("grad_norm", rec.grad_norm, t, wall_time)
        self.scalar("gradients/evaluated", rec.gradients_evaluated, t, wall_time)
        self.scalar("communications", rec.communications, t, wall_time)

    def iteration(self, rec: Any, rounds: list[dict[str, Any]],
                  train_return: float | None = None) -> None:
        """A real run's iteration: the record, its rounds and its training return."""
        self.record(rec)
        t = rec.iteration
        self.scalar("return/train", train_return, t)
        used = sum(sum(r.get("counts", [])) for r in rounds)
        self.scalar("gradients/used", used, t)
        seconds = sum(r.get("duration") or 0.0 for r in rounds)
        self.scalar("round/seconds", seconds, t)
        if rounds:
            n = len(rounds[0].get("counts", []))
            for i in range(min(n, MAX_AGENTS)):
                self.scalar(f"counts/agent{i}", sum(r["counts"][i] for r in rounds), t)

    def flush(self) -> None:
        self._w.flush()

    def close(self) -> None:
        self._w.close()


def write_records(root: str | Path, name: str, records: list[Any]) -> Path:
    """A simulated run's records (``apga train`` / ``compare``) as scalars; the point of
    iteration t is stamped at start + its simulated time (module docstring)."""
    w = ScalarWriter(root, name)
    prev = None
    for rec in records:
        wall = w.start + float(rec.time)
        w.record(rec, wall)
        if prev is not None:
            w.scalar("round/seconds", rec.time - prev.time, rec.iteration, wall)
            w.scalar("gradients/used", rec.gradients_evaluated - prev.gradients_evaluated,
                     rec.iteration, wall)
        prev = rec
    w.close()
    return w.path
