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

Ranks are fixed by the launch (a static rendezvous): the server is rank 0, agent j is rank
j + 1 (:func:`agent_rank`), so no process waits for another to say who it is.

**Nothing the server does waits for one agent.** Sends go through one sender thread per
agent with a one-message mailbox (:class:`_Sender`): the main loop posts the newest
message and moves on; a frozen agent holds up only its own sender, and when it wakes it
gets the newest point, never a backlog. Receives are one thread per agent feeding one
queue in arrival order (not gloo's ``recv(src=None)``, which fails as a whole when one
peer's connection breaks). Every gloo wait is given an explicit, very long timeout
(:data:`NO_TIMEOUT`): a gloo wait that times out signals the timeout to *every*
connection of the process, which turned one slow agent into the death of the group. The
run's ``--timeout`` is applied by the server itself, per agent: an agent silent for longer
is recorded as ``agent_slow`` (and ``agent_back`` when it sends again), not dead; Rennala
and AFedPG go on with the others; Malenia and Synchronized NIGT, which wait for every
agent, stop with one line naming it; if no agent at all sends for ``--timeout`` the run
stops with one line.

Agents (:func:`run_agent`) likewise keep a receive from the server posted at all times (a
thread), so a server send never waits for an agent busy computing, and the arrival of a
new message is the stop signal polled between environment steps. Emulated times:
receiving a point takes kappa_i, each gradient at least h_i (:mod:`.emulate`), each upload
kappa_i; every wait is interrupted by a newer message.

Faults: an agent whose process dies breaks its connection; its receiving thread (or its
sender) sees that at once, the server records ``agent_left`` with the time and carries on
with the others. Rennala NIGT and AFedPG finish with the remaining agents; Malenia NIGT
and Synchronized NIGT need every agent (Algorithm 3 waits for M_i >= 1), so they stop
with one clear error.

Paper: Algorithms 1-3, Assumption 2.5 (centralized: kappa per vector to/from the server),
Section 4.1 (AFedPG: one upload and one download per gradient).
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from algorithms.aggregation.malenia import malenia_should_stop
from algorithms.backends.distributed.emulate import (
    Emulation,
    StopEvent,
    gradient_rng,
    wait_until,
)
from algorithms.backends.distributed.runlog import RealRound
from algorithms.oracle import Interrupted

UP, DOWN = 0, 1  # message tags: agent -> server, server -> agent
DONE, COMPUTE, ONE = 0, 1, 2  # operations of a down message
#: An upload's header: agent, round (or version), k, its trajectory's steps (0: not an
#: environment's trajectory); a download's: operation, round, batch (or vectors).
HEAD_UP, HEAD_DOWN = 4, 3
#: What every gloo wait of server mode is given: gloo turns a timed-out wait into an error
#: on every connection of the process, so no wait may time out; ``--timeout`` is applied
#: per agent by the server (see the module docstring).
NO_TIMEOUT = timedelta(days=365)
SERVER_RANK = 0


def agent_rank(agent: int) -> int:
    """Process rank of agent ``agent`` in server mode (the server is rank 0)."""
    return agent + 1


class AgentsLeftError(RuntimeError):
    """No agent is left to compute, or one the method waits for is gone or silent."""


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
    steps: int = 0  # the gradient's trajectory length (0: not an environment's)

    def to_dict(self) -> dict[str, Any]:
        counts = [0] * self.n
        counts[self.agent] = 1
        return {"kind": "greedy", "start": self.previous, "end": self.arrival,
                "t_exit": self.arrival, "counts": counts, "agent": self.agent,
                "staleness": self.staleness, "cancelled": 0, "unused": 0, "evaluated": 1,
                "simulated": 1, "n_communications": 2,
                **({"steps": self.steps} if self.steps else {})}


class _Sender:
    """The server's sends to one agent: a thread and a one-message mailbox.

    :meth:`post` never blocks: it replaces whatever message the agent has not been sent
    yet (only the newest point matters to an agent), so a frozen agent costs one message
    in flight and one waiting, and the server's loop never waits for it. A broken
    connection is reported once through ``report(agent, reason)``.
    """

    def __init__(self, agent: int, report: Any) -> None:
        self.agent = agent
        self._report = report
        self._cv = threading.Condition()
        self._slot: np.ndarray | None = None
        self._closed = False
        self.thread = threading.Thread(target=self._run, name=f"apga-tx-{agent}", daemon=True)
        self.thread.start()

    def post(self, buf: np.ndarray) -> None:
        with self._cv:
            self._slot = buf
            self._cv.notify()

    def _run(self) -> None:
        import torch
        import torch.distributed as dist

        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._slot is not None)
                buf, self._slot = self._slot, None
            try:
                dist.isend(torch.from_numpy(buf), agent_rank(self.agent), tag=DOWN).wait(
                    NO_TIMEOUT)
            except RuntimeError as exc:  # the agent's process is gone
                self._report(self.agent, str(exc))
                return
            if int(buf[0]) == DONE:
                return


class ServerClock:
    """The server's real backend: broadcasts, any-source receives, slow and departed agents."""

    def __init__(self, *, spec: Any, dim: int, log: Any, started: float,
                 offset: float = 0.0, keep: Any = None) -> None:
        self.n = spec.n
        self.kappa = spec.kappa_times()
        self.dim = dim
        self.alive = set(range(spec.n))
        self.slow: set[int] = set()
        self.log = log
        self.timeout = float(spec.timeout)
        self.iteration = 0
        self._started = started
        self._offset = offset
        self._version = dict.fromkeys(range(spec.n), -1)  # greedy: the update each computes at
        self._update = 0
        self.points: dict[int, np.ndarray] = {}  # greedy: the point each agent computes at
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._heard = dict.fromkeys(range(spec.n), self.now)
        self._senders = {a: _Sender(a, self._sender_failed) for a in range(spec.n)}
        for a in range(spec.n):
            threading.Thread(target=self._receive, args=(a,), name=f"apga-rx-{a}",
                             daemon=True).start()
        self.keep = keep  # callable(round_id, theta, g, counts, extra) or None

    @property
    def now(self) -> float:
        return self._offset + time.monotonic() - self._started

    @property
    def shared_now(self) -> float:
        return self.now

    # -- messages ---------------------------------------------------------------------
    def post(self, agent: int, op: int, r: int, extra: float, theta: np.ndarray | None) -> bool:
        """Queue a message to ``agent`` (never blocks); False if it has left."""
        if agent not in self.alive:
            return False
        buf = np.zeros(HEAD_DOWN + self.dim)
        buf[:HEAD_DOWN] = (op, r, extra)
        if theta is not None:
            buf[HEAD_DOWN:] = theta
        self._senders[agent].post(buf)
        return True

    def _sender_failed(self, agent: int, why: str) -> None:
        self._inbox.put((agent, None, why, self.now))  # recorded by the main thread

    def _left(self, agent: int, why: str, when: float | None = None) -> None:
        """Record that ``agent`` is gone (main thread only: the log has one writer)."""
        if agent in self.alive:
            self.alive.discard(agent)
            self.slow.discard(agent)
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
            buf = torch.zeros(HEAD_UP + self.dim, dtype=torch.float64)
            try:
                dist.irecv(buf, src=agent_rank(agent), tag=UP).wait(NO_TIMEOUT)
            except RuntimeError as exc:  # the agent's process is gone (or the run ended)
                self._inbox.put((agent, None, str(exc), self.now))
                return
            arr = buf.numpy()
            self._inbox.put((agent, (int(arr[1]), int(arr[2]), int(arr[3])),
                             arr[HEAD_UP:].copy(), self.now))

    def _check_slow(self) -> None:
        """Mark agents silent for more than ``--timeout`` as slow (an event, not a death)."""
        now = self.now
        for a in sorted(self.alive - self.slow):
            if now - self._heard[a] > self.timeout:
                self.slow.add(a)
                self.log.event(event="agent_slow", agent=a, time=now, iteration=self.iteration,
                               silent_seconds=now - self._heard[a])
        if self.alive and self.slow >= self.alive:
            raise AgentsLeftError(f"timeout: no agent sent a gradient in {self.timeout:g} s "
                                  "(--timeout)")

    def _recv(self, required: bool = False) -> tuple[int, int, int, np.ndarray, int]:
        """The next gradient from any agent still there: (agent, round or version, k, g,
        its trajectory's steps).

        ``required``: the method waits for every agent (Malenia, synchronized), so one that
        is gone or slow ends the run.
        """
        while True:
            self._check_slow()
            if required:
                self._require_all()
            try:
                agent, head, g, when = self._inbox.get(timeout=min(1.0, self.timeout))
            except queue.Empty:
                continue
            if head is None:
                self._left(agent, g, when)
                continue
            if agent not in self.alive:
                continue
            self._heard[agent] = when
            if agent in self.slow:
                self.slow.discard(agent)
                self.log.event(event="agent_back", agent=agent, time=when,
                               iteration=self.iteration)
            return agent, head[0], head[1], g, head[2]

    def broadcast(self, op: int, r: int, extra: float, theta: np.ndarray | None) -> int:
        """Send to every agent still there (queued, never waits); returns how many."""
        return sum(self.post(a, op, r, extra, theta) for a in sorted(self.alive))

    def finish(self, grace: float = 2.0) -> None:
        """Tell every agent to stop; wait up to ``grace`` seconds for the messages to go
        (an agent that is frozen does not get it: ``apga launch`` ends it)."""
        self.broadcast(DONE, -1, 0.0, None)
        deadline = time.monotonic() + grace
        for a, s in self._senders.items():
            if a in self.alive:
                s.thread.join(max(0.0, deadline - time.monotonic()))

    # -- checkpoints -------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"iteration": self.iteration, "now": self.now, "update": self._update,
                "points": {a: p.copy() for a, p in self.points.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.iteration = int(state["iteration"])
        self._update = int(state["update"])
        self.points = {int(a): np.asarray(p) for a, p in state["points"].items()}

    # -- Algorithms 2 and 3, a synchronized round ----------------------------------------
    def aggregate(self, kind: str, theta: np.ndarray, M: int, ctx: Any) -> np.ndarray:
        r = self.iteration
        batch = int(ctx.hyper.get("batch", 1)) if kind == "synchronized" else 0
        required = kind != "rennala"
        start = self.now
        if required:
            self._require_all()
        sent = self.broadcast(COMPUTE, r, batch, theta)
        counts = np.zeros(self.n, dtype=np.int64)
        sums = np.zeros((self.n, self.dim))
        unused = steps = 0
        last = -1
        while not self._done(kind, counts, M, batch):
            agent, rr, _k, g, length = self._recv(required)
            steps += length
            if rr != r:  # computed at an older point, finished after its round ended
                unused += 1
                continue
            counts[agent] += 1
            sums[agent] += g
            last = agent
        t_exit = self.now
        if kind == "rennala":
            g = sums.sum(axis=0) / M
        else:  # 1/n sum_i gbar_i / M_i (Malenia); the mean of agent means (synchronized)
            g = (sums / counts[:, None]).mean(axis=0)
        record = RealRound(
            start=start, end=t_exit, kind=kind, t_exit=t_exit, counts=counts, cancelled=0,
            unused=unused, uploads=int(counts.sum()), downloads=sent,
            broadcast_time=min(float(self.kappa.max()), t_exit - start), reduce_time=0.0,
            simulated=int(counts.sum()) + unused, evaluated=int(counts.sum()) + unused,
            iteration=r, extra={"last_agent": last, **({"steps": steps} if steps else {})})
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

    def _require_all(self) -> None:
        what = "the method waits for every agent (Algorithm 3: M_i >= 1; a synchronized " \
            "round: every agent's batch)"
        if len(self.alive) < self.n:
            gone = sorted(set(range(self.n)) - self.alive)
            raise AgentsLeftError(f"agent {gone[0]} left and {what}; the run cannot continue")
        if self.slow:
            a = min(self.slow)
            raise AgentsLeftError(f"timeout: agent {a} sent nothing for more than "
                                  f"{self.timeout:g} s (--timeout) and {what}")

    # -- AFedPG's greedy pattern -----------------------------------------------------------
    def greedy(self, oracle: Any, rng: Any) -> RealGreedy:
        return RealGreedy(self)


class RealGreedy:
    """AsyncGreedy's interface (start, step, send) on real processes, for AFedPG.

    ``theta`` returned by :meth:`step` is the point the arriving gradient was computed at
    (the one the server sent that agent), so a test can recompute it.
    """

    def __init__(self, clock: ServerClock) -> None:
        self.clock = clock
        self._previous = clock.now

    def start(self, theta0: np.ndarray) -> None:
        c = self.clock
        for a in sorted(c.alive):
            c._version[a] = 0
            c.points[a] = np.array(theta0, dtype=float)
        c.broadcast(ONE, 0, 0.0, theta0)

    def resume(self) -> None:
        """After a checkpoint: send every agent the point it was computing at."""
        c = self.clock
        for a in sorted(c.alive):
            c._version[a] = c._update
            c.post(a, ONE, c._update, 0.0, c.points[a])

    def step(self):
        c = self.clock
        agent, version, k, g, steps = c._recv()
        staleness = c._update - version
        point = c.points.get(agent)
        if c.keep is not None:
            counts = np.zeros(c.n, dtype=np.int64)
            counts[agent] = 1
            c.keep(c._update, point, g, counts, agent=agent, version=version, k=k)
        c._update += 1
        c.iteration += 1
        now = c.now
        rec = GreedyArrival(agent, self._previous, now, float(c.kappa[agent]), staleness, c.n,
                            steps)
        self._previous = now
        return agent, g, point, rec

    def send(self, agent: int, theta: np.ndarray, vectors: int = 1) -> None:
        """Send the point; the agent emulates ``vectors`` downloads (kappa_i each): the
        agent variant's momentum d stays here (the method forms the agent's direction on
        the server), so one vector travels but two are charged, as in its paper."""
        c = self.clock
        c._version[agent] = c._update
        c.points[agent] = np.array(theta, dtype=float)
        c.post(agent, ONE, c._update, float(vectors), theta)


def checkpoint_state(state: Any) -> Any:
    """The method state without live objects (AFedPG's scheduler), for a checkpoint."""
    return replace(state, scheduler=None) if hasattr(state, "scheduler") else state


# ----------------------------------------------------------------------------- agent side
class Mailbox:
    """An agent's messages from the server: the receiving thread puts each one and sets
    :attr:`event` (which wakes the agent's timed waits); the agent takes the newest.

    The event alone cannot say whether something new is waiting: the receiver puts a
    message, the agent takes it at once, clears the event, and only then does the
    receiver set it. An agent that trusted the event gave up the round it had just been
    sent, without computing, and waited for a message that never came: a server-mode
    calibration hung with the server waiting for that round's gradients. :meth:`news`
    asks the queue, and clears an event that was set for a message already taken.
    """

    def __init__(self) -> None:
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self.event = StopEvent()

    def put(self, msg: np.ndarray | None) -> None:
        self._q.put(msg)
        self.event.set()

    def take(self) -> np.ndarray | None:
        """The newest message, waiting for one (older ones queued behind it are
        superseded; DONE and None, the server gone, are never skipped)."""
        msg = self._q.get()
        while msg is not None and int(msg[0]) != DONE:
            try:
                msg = self._q.get_nowait()
            except queue.Empty:
                break
        self.event.reset()
        if not self._q.empty():  # a message landed between the test and the reset
            self.event.set()
        return msg

    def news(self) -> bool:
        """Whether a message is waiting (then the event is set); an event set for a
        message already taken is cleared."""
        if self._q.empty():
            self.event.reset()
            if self._q.empty():
                return False
        self.event.set()  # (one may have landed during the reset: its own set comes later)
        return True


def run_agent(spec: Any, run_dir: Path, rank: int, agent: int, oracle: Any = None) -> None:
    """An agent: compute at the latest point received until told otherwise (``oracle``:
    one already built, e.g. ``apga calibrate``'s timed one; default: the spec's)."""
    import torch
    import torch.distributed as dist

    from algorithms.backends.distributed.problem import build_oracle, sample_gradient

    if oracle is None:
        oracle, _ = build_oracle(spec)
    emu = Emulation.of(spec)
    box = Mailbox()
    pending = box.event
    d = oracle.dim

    def receive() -> None:
        while True:
            buf = torch.zeros(HEAD_DOWN + d, dtype=torch.float64)
            try:
                dist.irecv(buf, src=SERVER_RANK, tag=DOWN).wait(NO_TIMEOUT)
            except RuntimeError:
                box.put(None)  # the server is gone
                return
            msg = buf.numpy()
            box.put(msg)
            if int(msg[0]) == DONE:
                return

    threading.Thread(target=receive, name="apga-agent-rx", daemon=True).start()
    sends: list = []
    kappa = float(emu.kappa[agent])

    def waited(deadline: float) -> bool:
        """Sleep until ``deadline``; False if a newer message came first (a wake-up with
        nothing new, :meth:`Mailbox.news`, sleeps on)."""
        while not wait_until(deadline, pending):
            if box.news():
                return False
        return True

    msg = box.take()
    while msg is not None and int(msg[0]) != DONE:
        op, r, batch = int(msg[0]), int(msg[1]), int(msg[2])
        theta = msg[HEAD_DOWN:]
        limit = 1 if op == ONE else (batch if batch > 0 else None)
        vectors = max(batch, 1) if op == ONE else 1  # AFedPG: vectors the download carries
        deadline = time.monotonic() + vectors * kappa  # receiving the point
        k = 0
        if waited(deadline):
            while limit is None or k < limit:
                rng = gradient_rng(spec.seed, agent, r, k)
                try:
                    g, _, length = sample_gradient(oracle, theta, agent, rng, box.news)
                except Interrupted:
                    break
                deadline = max(deadline + emu.duration(r, agent, k), time.monotonic())
                if not waited(deadline):
                    break
                if not waited(time.monotonic() + kappa):  # the upload
                    break
                out = np.empty(HEAD_UP + d)
                out[:HEAD_UP] = (agent, r, k, length or 0)
                out[HEAD_UP:] = g
                while len(sends) >= 4:
                    sends.pop(0).wait(NO_TIMEOUT)
                sends.append(dist.isend(torch.from_numpy(out), SERVER_RANK, tag=UP))
                deadline = time.monotonic()
                k += 1
        msg = box.take()


def run_server(spec: Any, run_dir: Path, rank: int, lifecycle: Any = None) -> None:
    """The server: the method's loop with :class:`ServerClock`, records, then DONE."""
    from algorithms.backends.distributed.loop import Driver, Keeper, RunCheckpoint
    from algorithms.backends.distributed.problem import build_oracle
    from algorithms.backends.distributed.runlog import RunLog

    oracle, theta0 = build_oracle(spec)
    log = RunLog(run_dir, spec.method, spec.seed)
    ckpt = RunCheckpoint(run_dir, spec)
    blob = ckpt.load()
    keeper = Keeper(run_dir, spec.n, oracle.dim, blob) if spec.save_gradients else None
    offset = float(blob["backend"]["now"]) if blob else 0.0
    clock = ServerClock(spec=spec, dim=oracle.dim, log=log, started=time.monotonic(),
                        offset=offset, keep=keeper)

    def extra() -> dict[str, Any]:
        return {"backend": clock.state_dict(),
                "gradients_bytes": keeper.size() if keeper is not None else 0}

    driver = Driver(spec, oracle, clock, log, checkpoint=ckpt, extra=extra,
                    strip=checkpoint_state)
    if lifecycle is not None:
        lifecycle.on_stop(driver.stop)
    try:
        if blob:
            clock.load_state_dict(blob["backend"])
            state = blob["state"]
            if hasattr(state, "scheduler"):
                sched = clock.greedy(oracle, None)
                state = replace(state, scheduler=sched)
                sched.resume()
            else:
                pass
            driver.resume(state, blob["iteration"], blob["totals"], blob)
        else:
            driver.init(theta0)
        while driver.more():
            driver.step()
    finally:
        clock.finish()
    driver.finish(run_dir, oracle)
