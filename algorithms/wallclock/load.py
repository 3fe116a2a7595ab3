"""How loaded the machine is while a measurement runs: other processes' runnable threads.

A prediction in seconds is checked against a real run only when the machine's speed is
the one the calibration measured: other processes' work on the same cores slows a run
by an amount nothing in apga can predict. :class:`ForeignLoad` samples, every
``interval`` seconds while a measurement runs, the threads in state R (running or
runnable) in ``/proc`` that do not belong to this process or its descendants (the
measurement's own processes); its :attr:`~ForeignLoad.load` is their mean count, in
cores: 1.0 means one core was taken by others all along. The 1-minute load average
(before and after) is kept beside it, but it counts the measurement's own processes
too, so it is reported, not judged.

:func:`judged` applies the threshold :data:`LOADED` (half a core of other work on
average): above it, a check says "not judged: machine loaded (load L)" instead of
passing or failing. On systems without ``/proc`` the load is unknown (None) and
measurements are judged.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

#: Other processes' runnable threads, averaged over a measurement, above which it is not
#: judged (in cores: half a core of this 2-core machine taken by others).
LOADED = 0.5


def loadavg() -> float | None:
    """The 1-minute load average (None where the OS does not give it)."""
    try:
        return float(os.getloadavg()[0])
    except (OSError, AttributeError):
        return None


def _processes(proc: Path) -> dict[int, int]:
    """pid -> parent pid of every process in ``proc``."""
    out = {}
    for d in proc.iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        rest = stat[stat.rfind(")") + 2:].split()
        out[int(d.name)] = int(rest[1])
    return out


def _descendants(root: int, parents: dict[int, int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    mine, todo = {root}, [root]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in mine:
                mine.add(c)
                todo.append(c)
    return mine


def foreign_running(proc: Path = Path("/proc"), root: int | None = None) -> int | None:
    """Threads in state R now that belong to neither ``root`` (default: this process) nor
    its descendants; None without ``/proc``."""
    if not proc.is_dir():
        return None
    root = os.getpid() if root is None else root
    parents = _processes(proc)
    mine = _descendants(root, parents)
    count = 0
    for pid in parents:
        if pid in mine:
            continue
        try:
            tasks = list((proc / str(pid) / "task").iterdir())
        except OSError:
            continue
        for t in tasks:
            try:
                stat = (t / "stat").read_text()
            except OSError:
                continue
            if stat[stat.rfind(")") + 2:stat.rfind(")") + 3] == "R":
                count += 1
    return count


class ForeignLoad:
    """Context manager: samples :func:`foreign_running` every ``interval`` seconds.

    After the block: :attr:`load` (mean count, None without /proc), :attr:`samples`,
    :attr:`loadavg_before`, :attr:`loadavg_after`.
    """

    def __init__(self, interval: float = 0.5, proc: Path = Path("/proc")) -> None:
        self.interval = float(interval)
        self.proc = proc
        self.samples: list[int] = []
        self.loadavg_before: float | None = None
        self.loadavg_after: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ForeignLoad:
        self.loadavg_before = loadavg()
        self._thread = threading.Thread(target=self._run, name="apga-load", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.loadavg_after = loadavg()

    def _run(self) -> None:
        while True:
            n = foreign_running(self.proc)
            if n is not None:
                self.samples.append(n)
            if self._stop.wait(self.interval):
                return

    @property
    def load(self) -> float | None:
        return float(sum(self.samples) / len(self.samples)) if self.samples else None

    def to_dict(self) -> dict[str, float | None]:
        return {"foreign_load": self.load, "loadavg_before": self.loadavg_before,
                "loadavg_after": self.loadavg_after, "samples": len(self.samples)}


def judged(load: float | None, threshold: float = LOADED) -> tuple[bool, str]:
    """(judge it?, why not): a measurement is judged unless other processes kept more
    than ``threshold`` cores busy on average during it."""
    if load is not None and load > threshold:
        return False, f"not judged: machine loaded (load {load:.2f} > {threshold:g})"
    return True, ""
