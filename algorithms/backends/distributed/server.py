"""Centralized mode: one server process holds theta; agents send every gradient as it finishes.

The server runs the method (Algorithm 1 for Rennala/Malenia/Synchronized NIGT, the AFedPG
module for AFedPG) with :class:`ServerClock` as its clock. Algorithm 2 literally: the
server broadcasts theta, then "waits for g_H(tau_{j,k}, theta) from an agent j" (one
point-to-point receive from any source per gradient), adds it, and after the M-th gradient
moves on; the next broadcast tells every agent to stop what it computes ("Stop all
calculations") and start on the new point. A gradient computed at an older point that
arrives later is discarded (``unused``). Malenia's loop condition (Algorithm 3) is
evaluated exactly after every arrival; a synchronized round waits for ``batch``
gradients from every agent. AFedPG (Section 4.1): every arrival is a server update, and
only the sending agent gets the new (extrapolated) point back. In the agent-momentum
variant (``afedpg_agent``, AFedPG as its paper defines it) the agent's direction
(1 - eta) d_j + eta g is formed from the momentum d_j the server sent it; the method
module computes it at the server from the d_j it sent (the same arithmetic on the same
vectors), so agents upload gradients in both variants.

The server's any-source receive is one receiving thread per agent feeding one queue
(arrival order), not gloo's ``recv(src=None)``: that call fails as a whole when one peer's
connection breaks, and surviving a dead agent is the point of this mode. Agents
(:func:`run_agent`) likewise keep a receive from the server posted at all times (a
thread), so a server send never waits for an agent busy computing, and the arrival of a
new message is the stop signal polled between environment steps. Emulated times:
receiving a point takes kappa_i, each gradient at least h_i (:mod:`.emulate`), each upload
kappa_i; every wait is interrupted by a newer message.

Faults: an agent whose process dies breaks its connection; the server's receiving thread
for it (or the next send to it) sees that at once, the server records ``agent_left`` with
the time and carries on with the others. Rennala NIGT and AFedPG finish with the
remaining agents; Malenia NIGT and Synchronized NIGT need every agent (Algorithm 3 waits
for M_i >= 1), so they stop with one clear error.

Paper: Algorithms 1-3, Assumption 2.5 (centralized: kappa per vector to/from the server),
Section 4.1 (AFedPG: one upload and one download per gradient).
"""

from __future__ import annotations

import collections
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from algorithms.aggregation.malenia import malenia_should_stop
from algorithms.aggregation.records import RoundRecord
from algorithms.backends.distributed.emulate import Emulation, gradient_rng, wait_until
from algorithms.oracle import Interrupted

UP, DOWN = 0, 1  # message tags: agent -> server, server -> agent
DONE, COMPUTE, ONE = 0, 1, 2  # operations of a down message
_HEAD_UP, _HEAD_DOWN = 3, 3


class AgentsLeftError(RuntimeError):
    """No agent is left to compute."""


@dataclass(frozen=True)
class GreedyArrival:
    """One AFedPG server update on real processes (cf. GreedyRecord): the gradient of
    ``agent`` computed ``staleness`` updates ago, received at ``arrival``."""

    agent: int
    previous: float
    arrival: float
    upload_time: float
    staleness: int
    n: int

    def to_dict(self) -> dict[str, Any]:
        counts = [0] * self.n
        counts[self.agent] = 1
        return {"kind": "greedy", "start": self.previous, "end": self.arrival,
                "t_exit": self.arrival, "counts": counts, "agent": self.agent,
                "staleness": self.staleness, "cancelled": 0, "unused": 0, "evaluated": 1,
                "simulated": 1, "n_communications": 2}


class ServerClock:
    """The server's real backend: broadcasts, any-source receives, agent departures."""

    def __init__(self, *, spec: Any, dim: int, ranks: dict[int, int], log: Any,
                 started: float, keep: Any = None) -> None:
        self.n = spec.n
        self.kappa = spec.kappa_times()
        self.dim = dim
        self.ranks = dict(ranks)  # agent -> process rank
        self.alive = set(ranks)
        self.log = log
        self.timeout = float(spec.timeout)
        self.iteration = 0
        self._started = started
        self._version = {a: -1 for a in ranks}  # greedy: the update each agent computes at
        self._update = 0
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        for a in sorted(ranks):
            threading.Thread(target=self._receive, args=(a,), name=f"apga-rx-{a}",
                             daemon=True).start()
        self.keep = keep  # callable(round_id, theta, g, counts) or None (save_gradients)

    @property
    def now(self) -> float:
        return time.monotonic() - self._started

    shared_now = now

    # -- messages ---------------------------------------------------------------------
    def _send(self, agent: int, op: int, r: int, extra: float, theta: np.ndarray | None) -> bool:
        import torch
        import torch.distributed as dist

        buf = np.zeros(_HEAD_DOWN + self.dim)
        buf[:_HEAD_DOWN] = (op, r, extra)
        if theta is not None:
            buf[_HEAD_DOWN:] = theta
        try:
            dist.send(torch.from_numpy(buf), self.ranks[agent], tag=DOWN)
            return True
        except RuntimeError as exc:
            self._left(agent, str(exc))
            return False

    def _left(self, agent: int, why: str, when: float | None = None) -> None:
        """Record that ``agent`` is gone (main thread only: the log has one writer)."""
        if agent in self.alive:
            self.alive.discard(agent)
            self.log.event(event="agent_left", agent=agent,
                           time=self.now if when is None else when,
                           iteration=self.iteration, reason=" ".join(why.split())[:200])
        if not self.alive:
            raise AgentsLeftError("every agent has left; the run cannot continue")

    def _receive(self, agent: int) -> None:
        """Receiving thread of one agent: its gradients, in order, into the inbox."""
        import torch
        import torch.distributed as dist

        while True:
            buf = torch.zeros(_HEAD_UP + self.dim, dtype=torch.float64)
            try:
                dist.recv(buf, src=self.ranks[agent], tag=UP)
            except RuntimeError as exc:  # the agent's process is gone (or the run ended)
                self._inbox.put((agent, None, str(exc), self.now))
                return
            arr = buf.numpy()
            self._inbox.put((agent, int(arr[1]), arr[_HEAD_UP:].copy(), self.now))

    def _recv(self) -> tuple[int, int, np.ndarray]:
        """The next gradient from any agent still there: (agent, round or version, g)."""
        while True:
            try:
                agent, r, g, when = self._inbox.get(timeout=self.timeout)
            except queue.Empty:
                raise AgentsLeftError(
                    f"timeout: no gradient arrived in {self.timeout:g} s") from None
            if r is None:
                self._left(agent, g, when)
                continue
            if agent in self.alive:
                return agent, r, g

    def broadcast(self, op: int, r: int, extra: float, theta: np.ndarray | None) -> int:
        """Send to every agent still there; returns how many received."""
        return sum(self._send(a, op, r, extra, theta) for a in sorted(self.alive))

    def finish(self) -> None:
        for a in sorted(self.alive):
            try:
                self._send(a, DONE, -1, 0.0, None)
            except AgentsLeftError:
                return

    # -- Algorithms 2 and 3, a synchronized round ----------------------------------------
    def aggregate(self, kind: str, theta: np.ndarray, M: int, ctx: Any) -> np.ndarray:
        r = self.iteration
        batch = int(ctx.hyper.get("batch", 1)) if kind == "synchronized" else 0
        start = self.now
        if kind != "rennala":
            self._require_all(kind)
        sent = self.broadcast(COMPUTE, r, batch, theta)
        counts = np.zeros(self.n, dtype=np.int64)
        sums = np.zeros((self.n, self.dim))
        unused = 0
        while not self._done(kind, counts, M, batch):
            agent, rr, g = self._recv()
            if rr != r:  # computed at an older point, finished after its round ended
                unused += 1
                continue
            counts[agent] += 1
            sums[agent] += g
            if kind != "rennala":
                self._require_all(kind)
        t_exit = self.now
        if kind == "rennala":
            g = sums.sum(axis=0) / M
        else:  # 1/n sum_i gbar_i / M_i (Malenia); the mean of agent means (synchronized)
            g = (sums / counts[:, None]).mean(axis=0)
        record = RoundRecord(
            start=start, end=t_exit, kind=kind, t_exit=t_exit, counts=counts, cancelled=0,
            unused=unused, uploads=int(counts.sum()), downloads=sent,
            broadcast_time=min(float(self.kappa.max()), t_exit - start), reduce_time=0.0,
            simulated=int(counts.sum()) + unused, evaluated=int(counts.sum()) + unused,
            iteration=r)
        ctx.rounds.append(record)
        if self.keep is not None:
            self.keep(r, np.asarray(theta, dtype=float), g, counts)
        self.iteration += 1
        return g

    def _done(self, kind: str, counts: np.ndarray, M: int, batch: int) -> bool:
        if kind == "rennala":
            return int(counts.sum()) >= M
        if kind == "malenia":
            return malenia_should_stop(counts, M)
        return bool((counts >= batch).all())

    def _require_all(self, kind: str) -> None:
        if len(self.alive) < self.n:
            gone = sorted(set(self.ranks) - self.alive)
            what = "Algorithm 3 waits for every agent (M_i >= 1)" if kind == "malenia" else \
                "a synchronized round waits for every agent"
            raise AgentsLeftError(f"agent {gone[0]} left and {what}; the run cannot continue")

    # -- AFedPG's greedy pattern -----------------------------------------------------------
    def greedy(self, oracle: Any, rng: Any) -> RealGreedy:
        return RealGreedy(self)


class RealGreedy:
    """AsyncGreedy's interface (start, step, send) on real processes, for AFedPG."""

    def __init__(self, clock: ServerClock) -> None:
        self.clock = clock
        self._previous = clock.now

    def start(self, theta0: np.ndarray) -> None:
        c = self.clock
        for a in sorted(c.alive):
            c._version[a] = 0
        c.broadcast(ONE, 0, 0.0, theta0)

    def step(self):
        c = self.clock
        agent, version, g = c._recv()
        staleness = c._update - version
        c._update += 1
        c.iteration += 1
        now = c.now
        rec = GreedyArrival(agent, self._previous, now, float(c.kappa[agent]), staleness, c.n)
        self._previous = now
        return agent, g, None, rec

    def send(self, agent: int, theta: np.ndarray) -> None:
        c = self.clock
        c._version[agent] = c._update
        c._send(agent, ONE, c._update, 0.0, theta)


# ----------------------------------------------------------------------------- agent side
def run_agent(spec: Any, run_dir: Path, rank: int, agent: int, oracle: Any = None) -> None:
    """An agent: compute at the latest point received until told otherwise (``oracle``:
    one already built, e.g. ``apga calibrate``'s timed one; default: the spec's)."""
    import torch
    import torch.distributed as dist

    from algorithms.backends.distributed.problem import build_oracle
    from algorithms.backends.distributed.signals import run_store

    if oracle is None:
        oracle, _ = build_oracle(spec)
    store = run_store(spec.run_id, 0, spec.timeout)
    store.set(f"agent{agent}", str(rank))
    server = int(store.get("server").decode())
    emu = Emulation(spec.h_times(), spec.kappa_times(), spec.timing, spec.timing_options,
                    spec.seed)
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    pending = threading.Event()
    d = oracle.dim

    def receive() -> None:
        while True:
            buf = torch.zeros(_HEAD_DOWN + d, dtype=torch.float64)
            try:
                dist.recv(buf, src=server, tag=DOWN)
            except RuntimeError:
                inbox.put(None)  # the server is gone
                pending.set()
                return
            msg = buf.numpy()
            inbox.put(msg)
            pending.set()
            if int(msg[0]) == DONE:
                return

    threading.Thread(target=receive, name="apga-agent-rx", daemon=True).start()
    sends: collections.deque = collections.deque()
    kappa = float(emu.kappa[agent])

    def take() -> np.ndarray | None:
        msg = inbox.get()
        if inbox.empty():
            pending.clear()
            if not inbox.empty():  # a message landed between the test and the clear
                pending.set()
        return msg

    msg = take()
    while msg is not None and int(msg[0]) != DONE:
        op, r, batch = int(msg[0]), int(msg[1]), int(msg[2])
        theta = msg[_HEAD_DOWN:]
        limit = 1 if op == ONE else (batch if batch > 0 else None)
        deadline = time.monotonic() + kappa  # receiving the point
        k = 0
        if wait_until(deadline, pending):
            while limit is None or k < limit:
                rng = gradient_rng(spec.seed, agent, r, k)
                try:
                    g = oracle.sample_gradients(theta, np.array([agent]), rng, pending.is_set)[0]
                except Interrupted:
                    break
                deadline = max(deadline + emu.duration(r, agent, k), time.monotonic())
                if not wait_until(deadline, pending):
                    break
                if not wait_until(time.monotonic() + kappa, pending):  # the upload
                    break
                out = np.empty(_HEAD_UP + d)
                out[:_HEAD_UP] = (agent, r, k)
                out[_HEAD_UP:] = g
                if len(sends) >= 4:
                    sends.popleft().wait()
                sends.append(dist.isend(torch.from_numpy(out), server, tag=UP))
                deadline = time.monotonic()
                k += 1
        msg = take()


def run_server(spec: Any, run_dir: Path, rank: int) -> None:
    """The server: the method's loop with :class:`ServerClock`, records, then DONE."""
    from algorithms.backends.distributed.loop import Driver, Keeper
    from algorithms.backends.distributed.problem import build_oracle
    from algorithms.backends.distributed.runlog import RunLog, dump_json
    from algorithms.backends.distributed.signals import run_store

    oracle, theta0 = build_oracle(spec)
    store = run_store(spec.run_id, 0, spec.timeout)
    store.set("server", str(rank))
    ranks = {a: int(store.get(f"agent{a}").decode()) for a in range(spec.n)}
    log = RunLog(run_dir, spec.method, spec.seed)
    keeper = Keeper() if spec.save_gradients else None
    clock = ServerClock(spec=spec, dim=oracle.dim, ranks=ranks, log=log,
                        started=time.monotonic(), keep=keeper)
    driver = Driver(spec, oracle, clock, log)
    try:
        driver.init(theta0)
        while driver.more():
            driver.step()
    finally:
        clock.finish()
    driver.close()
    if keeper is not None:
        keeper.save(run_dir / "gradients.npz")
    dump_json(run_dir / "summary.json", driver.summary(run_dir))
