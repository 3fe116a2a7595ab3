"""How loaded the machine is while a measurement runs: other processes' runnable threads,
the hypervisor's steal time, and whether the machine's speed held between two calibrations.

A prediction in seconds is checked against a real run only when the machine's speed is
the one the calibration measured: other processes' work on the same cores slows a run
by an amount nothing in apga can predict. :class:`ForeignLoad` samples, every
``interval`` seconds while a measurement runs, the threads in state R (running or
runnable) in ``/proc`` that do not belong to this process or its descendants (the
measurement's own processes); its :attr:`~ForeignLoad.load` is their mean count, in
cores: 1.0 means one core was taken by others all along. The 1-minute load average
(before and after) is kept beside it, but it counts the measurement's own processes
too, so it is reported, not judged.

:attr:`~ForeignLoad.steal` is the other kind of other work: the time the hypervisor gave
this machine's virtual cores to other machines (``/proc/stat``'s steal column), in cores,
over the block; :attr:`~ForeignLoad.total` adds it to the processes' load.

Neither sees everything: on a shared virtual machine the same 2-rank launch took 13.6,
16.2 and 18.7 ms per Malenia NIGT round within three minutes, with other load 0.0 and
steal 0.0 (docs/wallclock.md, "Why a check calibrates twice"). :func:`speed_moved`
measures that drift where it matters: the same prediction from a calibration before and
one after the runs it is held against. Above :data:`STEADY` the machine's speed moved
more than the interval's stated drift allowance (:data:`algorithms.wallclock.cost.DRIFT`;
the checks use the larger drift a prediction measured, where it did), and the runs
between the two calibrations say nothing about the prediction.

:func:`judged` applies the threshold :data:`LOADED` (half a core of other work on
average) and :data:`STEADY`: above either, a check says "not judged: machine loaded (load
L)" or "not judged: machine speed moved X% between calibrations" instead of passing or
failing. On systems without ``/proc`` the load is unknown (None) and measurements are
judged.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import NamedTuple

from algorithms.wallclock.cost import DRIFT

#: Other processes' runnable threads, averaged over a measurement, above which it is not
#: judged (in cores: half a core of this 2-core machine taken by others).
LOADED = 0.5
#: Relative change of a prediction between a calibration before and one after the runs,
#: above which the runs are not judged: the interval's stated drift allowance (the checks
#: pass the larger drift a prediction measured, where it did).
STEADY = DRIFT


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


def cpu_times(proc: Path = Path("/proc")) -> tuple[int, int, int] | None:
    """(steal, total, cores) from ``/proc/stat`` (jiffies summed over the cores; steal is
    the 8th number of the ``cpu`` line); None where it cannot be read."""
    try:
        lines = (proc / "stat").read_text().splitlines()
    except OSError:
        return None
    head = next((ln.split() for ln in lines if ln.startswith("cpu ")), None)
    cores = sum(1 for ln in lines if ln.startswith("cpu") and ln[3:4].isdigit())
    if head is None or len(head) < 9:
        return None
    try:
        values = [int(x) for x in head[1:9]]  # user nice system idle iowait irq softirq steal
    except ValueError:
        return None
    return values[7], sum(values), max(cores, 1)


def steal_cores(before: tuple[int, int, int] | None, after: tuple[int, int, int] | None
                ) -> float | None:
    """Cores taken by the hypervisor between two :func:`cpu_times` readings:
    (steal delta / total delta) x cores; None if either is unknown or no time passed."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1]) * after[2]


class ForeignLoad:
    """Context manager: samples :func:`foreign_running` every ``interval`` seconds.

    After the block: :attr:`load` (mean count, None without /proc), :attr:`steal` (cores
    the hypervisor took), :attr:`total` (both), :attr:`samples`, :attr:`loadavg_before`,
    :attr:`loadavg_after`.
    """

    def __init__(self, interval: float = 0.5, proc: Path = Path("/proc")) -> None:
        self.interval = float(interval)
        self.proc = proc
        self.samples: list[int] = []
        self.loadavg_before: float | None = None
        self.loadavg_after: float | None = None
        self.steal: float | None = None
        self._cpu: tuple[int, int, int] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ForeignLoad:
        self.loadavg_before = loadavg()
        self._cpu = cpu_times(self.proc)
        self._thread = threading.Thread(target=self._run, name="apga-load", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.loadavg_after = loadavg()
        self.steal = steal_cores(self._cpu, cpu_times(self.proc))

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

    @property
    def total(self) -> float | None:
        """Other processes' load plus the hypervisor's steal, in cores (None if neither is
        known)."""
        parts = [x for x in (self.load, self.steal) if x is not None]
        return float(sum(parts)) if parts else None

    def to_dict(self) -> dict[str, float | None]:
        return {"foreign_load": self.total, "processes": self.load, "steal": self.steal,
                "loadavg_before": self.loadavg_before, "loadavg_after": self.loadavg_after,
                "samples": len(self.samples)}


def speed_moved(before: float, after: float) -> float:
    """Relative change |after / before - 1| of one prediction (seconds) made from a
    calibration before and one after the runs it is held against."""
    if not (before > 0 and after > 0):
        raise ValueError("speed_moved: predictions must be > 0")
    return abs(after / before - 1.0)


class Judgement(NamedTuple):
    """Whether a measurement is judged; when not, why (one line) and which guard said so
    (``loaded`` or ``moved``; empty when judged)."""

    ok: bool
    why: str = ""
    guard: str = ""


def judged(load: float | None, threshold: float = LOADED, moved: float | None = None,
           steady: float = STEADY) -> Judgement:
    """A measurement is judged unless other processes (and the hypervisor) kept more than
    ``threshold`` cores busy on average during it, or the machine's speed ``moved``
    (:func:`speed_moved`) more than ``steady`` between the calibrations before and after
    it."""
    if load is not None and load > threshold:
        return Judgement(False, f"not judged: machine loaded (load {load:.2f} > "
                         f"{threshold:g})", "loaded")
    if moved is not None and moved > steady:
        return Judgement(False, f"not judged: machine speed moved {100 * moved:.1f}% between "
                         f"calibrations (> {100 * steady:.3g}%)", "moved")
    return Judgement(True)
