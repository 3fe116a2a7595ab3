"""The seam between a method and the world it runs in (docs/architecture.md, idea 9).

A method (:mod:`algorithms.methods`) never plans time or talks to processes itself: it
asks its :class:`Backend` for an aggregated gradient (Algorithm 2, Algorithm 3, a
synchronized round) or for AFedPG's greedy scheduler, and reads the cluster's size and
communication times from it. Two implementations, which a method cannot tell apart:

- :class:`algorithms.backends.simulated.SimulatedBackend`: the simulated clock
  (:mod:`algorithms.sim.clock`) plans each round exactly, then the oracle evaluates
  only the gradients the round uses;
- the torch.distributed backends (:mod:`algorithms.backends.distributed`): real
  processes compute until a stop signal, in wall-clock seconds
  (``AllReduceClock`` on every rank in AllReduce mode, ``ServerClock`` on the server).

One outer loop (:func:`algorithms.run.loop.run_method` and
:class:`algorithms.run.loop.MethodLoop`) drives a method on either; a new engine is a
new implementation of this protocol.

Pure typing: importing this module imports neither torch nor the clock.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

#: The aggregation rounds a backend runs (``Backend.aggregate``'s ``kind``).
RoundKind = Literal["rennala", "malenia", "synchronized"]
ROUND_KINDS: tuple[str, ...] = ("rennala", "malenia", "synchronized")


class Arrival(Protocol):
    """What a scheduler reports with each gradient it hands over (AFedPG)."""

    #: seconds the gradient's upload took (kappa_i of its agent)
    upload_time: float


@runtime_checkable
class Scheduler(Protocol):
    """AFedPG's greedy asynchronous pattern (Section 4.1): every arriving gradient is
    applied at once, and only its sender gets the new point back."""

    def start(self, theta0: np.ndarray) -> None:
        """Broadcast theta_0: every agent starts computing at it (n downloads)."""

    def step(self) -> tuple[int, np.ndarray, np.ndarray | None, Arrival]:
        """Wait for the next gradient to arrive: ``(agent, g, theta it was computed at
        (None where the backend does not keep it), arrival record)``."""

    def send(self, agent: int, theta: np.ndarray) -> None:
        """Send the new point to ``agent`` (one download); it computes there next."""


@runtime_checkable
class Backend(Protocol):
    """What a method and the run loop may ask of the world a method runs in.

    Members, each read by the method code (M) or the run loop (L):

    - ``n`` (M): number of agents.
    - ``kappa`` (M): seconds per vector communication of each agent, shape (n,);
      AFedPG charges ``kappa[agent]`` per download.
    - ``now`` (L): seconds since the run started on this process's clock (simulated
      time on the simulated clock); the time of each :class:`IterationRecord`.
    - ``shared_now`` (L): the time every process of the run agrees on, for budget
      decisions (``--time``); equal to ``now`` where there is one process.
    - ``aggregate(kind, theta, M, ctx)`` (M): one aggregation round at ``theta``:
      ``rennala`` (Algorithm 2: the mean of the first M gradients to arrive),
      ``malenia`` (Algorithm 3: (1/n) sum_i gbar_i / M_i) or ``synchronized`` (every
      agent computes ``ctx.hyper["batch"]`` gradients; M unused). Appends the round's
      :class:`algorithms.aggregation.records.RoundRecord` to ``ctx.rounds`` and returns
      the aggregated gradient.
    - ``greedy(oracle, rng)`` (M): a new :class:`Scheduler` for AFedPG.
    """

    n: int
    kappa: np.ndarray

    @property
    def now(self) -> float:
        """Seconds since the run started, on this process's clock."""

    @property
    def shared_now(self) -> float:
        """The time every process of the run agrees on."""

    def aggregate(self, kind: str, theta: np.ndarray, M: int, ctx: Any) -> np.ndarray:
        """``ctx``: the method's :class:`algorithms.methods.base.Context`."""

    def greedy(self, oracle: Any, rng: np.random.Generator) -> Scheduler:
        """A new scheduler over ``oracle`` (``rng``: the trajectories' Generator)."""
