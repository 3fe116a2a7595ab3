"""AFedPG's greedy asynchronous pattern: every arriving gradient is applied at once.

Timeline (``docs/clock.md``): :meth:`AsyncGreedy.start` broadcasts theta; agent i holds it
at max(now, join_i) + kappa_i and computes one gradient (duration d_{i,k}); it uploads
the gradient (kappa_i), which reaches the server at f_i + kappa_i. :meth:`AsyncGreedy.step`
advances the clock to the next arrival (ties: lower agent index first) and evaluates
that gradient - once, now, at the (possibly stale) parameters the agent held. The agent
then idles until :meth:`AsyncGreedy.send` returns new parameters to it (kappa_i), after
which it starts its next computation. One upload and one download per gradient.

Durations: agent i's k-th computation (k counted from :meth:`start`) uses the
key drawn at :meth:`start` and h_{t,i} of the clock iteration t current when it starts;
``step`` increments ``clock.iteration`` (one server update = one iteration).

Paper: Section 1.1 and Section 4.1 (AFedPG: each agent sends every gradient; kappa per
gradient), Section H (AFedPG baseline).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any

import numpy as np

from algorithms.aggregation import _common as cm
from algorithms.sim.clock import AgentFailedError, SimClock
from theory import checks


@dataclass(frozen=True)
class GreedyRecord:
    """One gradient of the greedy pattern.

    agent, k:    which agent and its k-th computation since ``start`` (1-based).
    received:    when the agent received the parameters it computed at.
    finished:    when its computation finished.
    arrival:     when the gradient reached the server (finished + kappa_i); clock.now.
    previous:    clock.now before this step (the server's previous event).
    upload_time: kappa_i of the upload.
    staleness:   server updates (sends) since this agent received its parameters.
    iteration:   clock iteration of this step.
    """

    agent: int
    k: int
    received: float
    finished: float
    arrival: float
    previous: float
    upload_time: float
    staleness: int
    iteration: int

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


class AsyncGreedy:
    """Greedy asynchronous scheduler (AFedPG pattern) over an oracle and the clock.

    Usage::

        sched = AsyncGreedy(oracle, clock, rng)
        sched.start(theta)
        agent, g, theta_used, rec = sched.step()
        sched.send(agent, theta_new)

    Counters: ``uploads`` and ``downloads`` (vector transfers), ``evaluated`` (oracle
    gradients), :meth:`in_flight` (computations running now).
    """

    def __init__(self, oracle, clock: SimClock, rng: np.random.Generator) -> None:
        self.oracle = oracle
        self.clock = cm.check_clock(clock)
        self.rng = cm.check_rng(rng)
        n = clock.n
        self._heap: list[tuple[float, int]] = []
        self._theta = np.zeros((n, oracle.dim))
        self._received = np.full(n, np.nan)
        self._finished = np.full(n, np.nan)
        self._k = np.zeros(n, dtype=np.int64)
        self._version = np.zeros(n, dtype=np.int64)
        self._busy = np.zeros(n, dtype=bool)
        self._key: int | None = None
        self.updates = 0
        self.uploads = 0
        self.downloads = 0
        self.evaluated = 0

    def start(self, theta) -> None:
        """Broadcast theta to every agent at clock.now (n downloads); all start computing."""
        theta = cm.check_theta(theta, self.oracle)
        clock = self.clock
        self._key = clock.new_key()
        self._heap.clear()
        self._k[:] = 0
        h = clock.h_at()
        received = clock.broadcast_end(clock.now)  # inf for agents failed by then
        agents = np.arange(clock.n)
        finish = received + clock.durations(self._key, h, agents, self._k)
        self._theta[:] = theta
        self._received[:] = received
        self._version[:] = self.updates
        self.downloads += clock.n
        self._k[:] = 1
        self._busy[:] = np.isfinite(finish) & (finish < clock.fail_at)
        self._finished[:] = np.where(self._busy, finish, np.nan)
        arrival = finish + clock.kappa
        self._heap = [(float(arrival[i]), int(i)) for i in np.flatnonzero(self._busy)]
        heapq.heapify(self._heap)

    def send(self, agent: int, theta_new, vectors: int = 1) -> None:
        """Return new parameters to ``agent``; it starts computing once they arrive.

        ``vectors``: how many d-dimensional vectors the download carries, each charged
        kappa_i (AFedPG as its paper defines it sends the point x and the momentum d: 2).
        """
        if self._key is None:
            raise ValueError("send: call start(theta) first")
        agent = checks.count("agent", agent, minimum=0)
        if agent >= self.clock.n:
            raise ValueError(f"agent must be < n = {self.clock.n}, got {agent}")
        if self._busy[agent]:
            raise ValueError(f"agent {agent} is still computing; send only after its step")
        vectors = checks.count("vectors", vectors)
        self.updates += 1
        self._launch(agent, cm.check_theta(theta_new, self.oracle), vectors)

    def step(self) -> tuple[int, np.ndarray, np.ndarray, GreedyRecord]:
        """Advance to the next arrival; returns (agent, g, theta_used, record)."""
        if not self._heap:
            raise AgentFailedError("AsyncGreedy.step: no computation in flight (every agent "
                                   "failed, or start/send were not called)")
        arrival, i = heapq.heappop(self._heap)
        previous = self.clock.now
        self.clock.now = arrival
        self._busy[i] = False
        theta_used = self._theta[i].copy()
        g = np.asarray(self.oracle.sample_gradients(theta_used, np.array([i]), self.rng))[0]
        self.uploads += 1
        self.evaluated += 1
        rec = GreedyRecord(agent=i, k=int(self._k[i]), received=float(self._received[i]),
                           finished=float(self._finished[i]), arrival=arrival,
                           previous=previous, upload_time=float(self.clock.kappa[i]),
                           staleness=int(self.updates - self._version[i]),
                           iteration=self.clock.iteration)
        self.clock.iteration += 1
        return i, g, theta_used, rec

    def in_flight(self) -> int:
        """Computations running now (they would be cancelled if the run stopped)."""
        return int(self._busy.sum())

    def _launch(self, i: int, theta: np.ndarray, vectors: int = 1) -> None:
        clock = self.clock
        received = max(clock.now, float(clock.join_at[i])) + vectors * float(clock.kappa[i])
        self.downloads += vectors
        self._theta[i] = theta
        self._received[i] = received
        self._version[i] = self.updates
        h = clock.h_at()
        d = float(clock.durations(self._key, h, np.array([i]), np.array([self._k[i]]))[0])
        finish = received + d
        self._k[i] += 1
        if not np.isfinite(finish) or finish >= clock.fail_at[i]:
            return  # the agent fails before finishing: this gradient never arrives
        self._finished[i] = finish
        self._busy[i] = True
        heapq.heappush(self._heap, (finish + float(clock.kappa[i]), i))
