"""Emulated heterogeneity on real processes: at least h_i seconds per gradient, kappa_i per
communication, as the paper's experiments emulate a cluster (Section H).

Durations are the simulated clock's: agent i's k-th computation of a round takes
``algorithms.sim.timing.durations(timing, options, h_i, key, i, k)`` with the round's key drawn
from the same Generator a :func:`algorithms.sim.clock.seeded_clock` of the run seed would use,
one key per aggregation round. With fixed timing that is h_i; with random timing the real
run meets exactly the durations the simulated clock plans, so the two can be compared
round by round.

A computation that takes longer on the machine than its emulated duration is not slowed
further: the k-th gradient finishes at ``max(deadline_{k-1} + d_k, end of the real
computation)``, so a rank takes *at least* h_i per gradient and emulated rounds do not
drift by the per-gradient overheads.

Every wait is interruptible by the round's stop signal (a :class:`threading.Event`):
"Stop all calculations" (Algorithm 2/3 line 9) cancels an emulated computation at once.

Trajectory randomness: gradient k of agent i in round r uses the Generator
:func:`gradient_rng` ``(seed, i, r, k)``, a pure function of those four numbers. So the
samples a round used can be recomputed from the record (tests check the aggregated
gradient this way), and restoring the round counter restores every rank's Generator.
"""

from __future__ import annotations

import math
import threading
import time
from typing import TYPE_CHECKING

import numpy as np

from algorithms.sim import timing as tm

if TYPE_CHECKING:
    from algorithms.backends.distributed.spec import RunSpec

#: Salt that keeps the gradient streams apart from the clock's streams of the same seed.
_GRADIENT_STREAM = 0x47524144  # "GRAD"


def gradient_rng(seed: int, agent: int, round_id: int, k: int) -> np.random.Generator:
    """The Generator of agent ``agent``'s k-th gradient (k = 0, 1, ...) in round ``round_id``."""
    return np.random.default_rng([_GRADIENT_STREAM, int(seed), int(agent), int(round_id), int(k)])


def clock_seed(seed: int) -> int:
    """The timing seed :func:`algorithms.sim.clock.seeded_clock` derives from run seed ``seed``."""
    clock_seq, _ = np.random.SeedSequence(seed).spawn(2)
    return int(clock_seq.generate_state(1)[0])


class Emulation:
    """Per-agent emulated times of one run.

    h:      seconds per gradient of each agent (None: no emulation, real speed)
    kappa:  seconds per vector communication of each agent (zeros: none)
    timing, options: duration model (fixed, exponential, lognormal, uniform)
    seed:   run seed; round keys come from ``default_rng(clock_seed(seed))`` as on the clock
    """

    def __init__(
        self,
        h: np.ndarray | None,
        kappa: np.ndarray,
        timing: str = "fixed",
        options: dict[str, float] | None = None,
        seed: int = 0,
    ) -> None:
        self.h = None if h is None else np.asarray(h, dtype=float)
        self.kappa = np.asarray(kappa, dtype=float)
        self.timing = timing
        self.options = tm.check_options(timing, options or {})
        self.seed = int(seed)
        self._rng = np.random.default_rng(clock_seed(seed))
        self._keys: list[int] = []

    @classmethod
    def of(cls, spec: RunSpec) -> Emulation:
        """The emulation of a run: its cluster (:meth:`RunSpec.cluster`; real speed when
        none) and its seed."""
        cluster = spec.cluster()
        if cluster is None:
            return cls(None, spec.kappa_times(), spec.timing, dict(spec.timing_options),
                       spec.seed)
        return cls(cluster.h, cluster.kappa, cluster.timing, dict(cluster.options), spec.seed)

    def key(self, round_id: int) -> int:
        """Key of round ``round_id`` (0 = the M_init round): the clock's ``new_key`` sequence."""
        while len(self._keys) <= round_id:
            self._keys.append(int(self._rng.integers(0, 2**63 - 1)))
        return self._keys[round_id]

    def duration(self, round_id: int, agent: int, k: int) -> float:
        """Emulated duration of agent's k-th computation (k = 0, 1, ...) in the round; 0 if
        not emulated."""
        if self.h is None:
            return 0.0
        d = tm.durations(
            self.timing,
            self.options,
            self.h[agent : agent + 1],
            self.key(round_id),
            np.array([agent]),
            np.array([k]),
        )
        return float(d[0])


class StopEvent(threading.Event):
    """A round's stop signal that remembers when it was first set (``time.monotonic()``),
    so that a computation whose emulated end came before the stop counts as finished even
    if its thread woke up after it (a loaded machine wakes threads late)."""

    def __init__(self) -> None:
        super().__init__()
        self.at = float("inf")

    def set(self) -> None:
        if not self.is_set():
            self.at = time.monotonic()
        super().set()

    def reset(self) -> None:
        """Clear it for reuse (forget when it was set first, then clear: a ``set`` racing
        with this either finds it still set, and the caller sets it again after checking
        for what it missed, or records its time)."""
        self.at = float("inf")
        self.clear()


def wait_until(deadline: float, stop: threading.Event | None) -> bool:
    """Sleep until ``time.monotonic() >= deadline``; return False if ``stop`` was set first
    (before ``deadline``: a :class:`StopEvent` knows when it was set)."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            if stop is None or not stop.is_set():
                return True
            return deadline < getattr(stop, "at", -math.inf)
        if stop is None:
            time.sleep(left)
        elif stop.wait(left):
            return deadline < getattr(stop, "at", -math.inf)
