"""Decentralized mode: every rank is an agent, holds theta, and aggregates with one all_reduce.

:class:`AllReduceClock` stands where the simulated clock stands in
:class:`algorithms.methods.base.Context`: Algorithm 1 (:class:`algorithms.methods.nigt.NIGT`)
runs unchanged on every rank and calls :meth:`AllReduceClock.aggregate` for lines 2 and 6.
All ranks hold the same theta because they apply the same update to the same all-reduced
vector.

One round on rank i (agent i), times in seconds of this rank's clock:

1. *Broadcast.* The point is already here; emulate receiving it (wait kappa_i,
   interruptible: an agent that would receive it after the round ended takes no part).
2. *Collection* (Rennala, Algorithm 2 lines 3-8): compute g_H(tau, theta) at theta, one
   trajectory after another; each finished gradient takes a ticket from the store's
   counter. Tickets 1..M are added to the local sum; ticket M sets the stop key; a
   gradient with a ticket > M finished after the M-th and is discarded (``unused``).
   Malenia (Algorithm 3): each finished gradient takes a sequence number; it is used iff
   the exact exit test failed after the arrivals before it; the arrival that makes it pass
   sets the stop key (:class:`algorithms.backends.distributed.signals.MaleniaExit`).
3. *Stop all calculations* (line 9): the stop event interrupts the trajectory in flight
   (between environment steps) or the emulated wait.
4. *Return* (line 10): ranks that contributed emulate one upload (kappa_i), then ONE
   ``all_reduce`` of [local vector | per-agent counts | per-agent statistics | rank 0's
   clock]. Rennala's vector is the local sum (the mean divides by M = sum of counts);
   Malenia's is gbar_i / M_i (the return divides by n); Synchronized NIGT's is the
   agent's batch mean (divided by n).

Paper: Algorithms 1-3; the note under Algorithm 3 (local aggregation, a single AllReduce);
Assumption 2.5 (kappa per communication); Section H (Synchronized NIGT).
"""

from __future__ import annotations

import math
import queue
import threading
import time
from typing import Any

import numpy as np

from algorithms.backends.distributed.emulate import Emulation, gradient_rng, wait_until
from algorithms.backends.distributed.problem import sample_gradient
from algorithms.backends.distributed.runlog import RealRound
from algorithms.backends.distributed.signals import Clerk, MaleniaExit, StopWatcher
from algorithms.oracle import Interrupted

#: Per-agent statistics carried by the round's all_reduce, after the vector.
STATS = ("counts", "computed", "cancelled", "unused", "registered", "exit_time",
         "stop_time", "setter", "return_sum", "episodes", "steps")
#: Registrations an agent may have with the clerk, unanswered: it computes on while the
#: store answers, but never runs further ahead than this (cheap gradients would otherwise
#: pile up registrations that all come back unused).
MAX_AHEAD = 2
#: Rounds a round's store keys are kept after its all_reduce before the janitor deletes
#: them (every rank's stop watcher has long seen them by then).
KEEP_ROUNDS = 2


class RoundTimeoutError(RuntimeError):
    """A round waited longer than ``--timeout`` for an agent (Algorithm 3, a hung rank)."""


class Janitor:
    """Rank 0 deletes the store keys of finished rounds on a thread of its own, so the
    store (held in rank 0's process) stays the same size over any number of rounds."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._todo: queue.SimpleQueue = queue.SimpleQueue()
        self._keys: int | None = None
        self._thread = threading.Thread(target=self._run, name="apga-janitor", daemon=True)
        self._thread.start()

    def forget(self, r: int, arrivals: int) -> None:
        """Delete round ``r``'s keys (its counter, stop key and ``arrivals`` arrival keys)."""
        self._todo.put((r, arrivals))

    def keys(self) -> int | None:
        """Keys in the store at the last count (None before the first)."""
        return self._keys

    def _run(self) -> None:
        while (job := self._todo.get()) is not None:
            r, arrivals = job
            prefix = f"r{r}/"
            try:
                for key in ("n", "s", "stop", *(f"a{s}" for s in range(1, arrivals + 1))):
                    self.store.delete_key(prefix + key)
                self._keys = int(self.store.num_keys())
            except Exception:  # noqa: BLE001 - the store is gone: the run is ending
                return

    def close(self) -> None:
        self._todo.put(None)


class AllReduceClock:
    """The real backend of one rank in AllReduce mode.

    Attributes read by the method code and the run loop: ``n``, ``kappa`` (emulated
    kappa_i), ``iteration`` (rounds done), ``now`` (this rank's run time in seconds) and
    ``shared_now`` (rank 0's run time at the last all_reduce: every rank sees the same
    value, so budget tests agree across ranks).

    Each round's record also says, per agent, when it left the collection (``exit_times``,
    seconds on the shared clock) and when and by whom the stop key was set
    (``stop_time``, ``last_agent``): the stop's latency is measured, not assumed.
    """

    def __init__(
        self,
        *,
        agent: int,
        n: int,
        oracle: Any,
        store: Any,
        watcher: StopWatcher,
        emulation: Emulation,
        seed: int,
        started: float,
        offset: float = 0.0,
        keep: Any = None,
        timeout: float = 300.0,
        janitor: Janitor | None = None,
    ) -> None:
        self.agent = agent
        self.n = n
        self.oracle = oracle
        self.store = store
        self.watcher = watcher
        self.emu = emulation
        self.kappa = emulation.kappa
        self.seed = seed
        self.timeout = float(timeout)
        self._started = started
        self._offset = offset
        self.iteration = 0
        self.shared_now = offset
        self.keep = keep  # callable(round_id, theta, g, counts) or None (save_gradients)
        self.device = "cpu"  # "cuda:k" when every rank has its own GPU (then NCCL)
        self.clerk = Clerk()  # the only user of ``store`` while a round collects
        self.janitor = janitor
        self._forget: list[tuple[int, int]] = []

    @property
    def now(self) -> float:
        return self._offset + time.monotonic() - self._started

    def state_dict(self) -> dict[str, Any]:
        return {"iteration": self.iteration, "now": self.shared_now}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.iteration = int(state["iteration"])
        self.shared_now = float(state["now"])

    # -- the seam used by algorithms.methods.patterns ------------------------------------
    def aggregate(self, kind: str, theta: np.ndarray, M: int, ctx: Any) -> np.ndarray:
        """Algorithm 2 (``rennala``), 3 (``malenia``) or a synchronized round, for real.

        Appends the round's record (times in seconds of this run) to ``ctx.rounds`` and
        returns the aggregated gradient (identical on every rank).
        """
        r = self.iteration
        theta = np.asarray(theta, dtype=float)
        start = self.now
        if kind == "synchronized":
            vec, stats = self._batch(theta, r, int(ctx.hyper.get("batch", 1)))
        else:
            vec, stats = self._collect(kind, theta, r, int(M), start)
        t_exit = self.now
        total, agg = self._reduce(vec, stats, r)
        end = self.now
        counts = agg["counts"].astype(np.int64)
        if kind == "rennala":
            if int(counts.sum()) != M:
                raise RuntimeError(f"round {r}: {int(counts.sum())} gradients counted, M = {M}")
            g = total / M
        else:
            g = total / self.n
        setters = np.flatnonzero(agg["setter"] > 0)
        episodes = int(agg["episodes"].sum())
        extra = {"exit_times": agg["exit_time"].tolist(),
                 "stop_time": float(agg["stop_time"].sum()) if setters.size else None,
                 "last_agent": int(setters[0]) if setters.size else None}
        if episodes:
            extra["return_sum"] = float(agg["return_sum"].sum())
            extra["episodes"] = episodes
        if int(agg["steps"].sum()):  # trajectories of an environment: their lengths
            extra["steps"] = int(agg["steps"].sum())
        record = RealRound(
            start=start,
            end=end,
            kind=kind,
            t_exit=t_exit,
            counts=counts,
            cancelled=int(agg["cancelled"].sum()),
            unused=int(agg["unused"].sum()),
            uploads=int((counts > 0).sum()),
            downloads=self.n,
            broadcast_time=min(float(self.kappa.max()), t_exit - start),
            reduce_time=end - t_exit,
            simulated=int(agg["computed"].sum() + agg["cancelled"].sum()),
            evaluated=int(agg["computed"].sum()),
            iteration=r,
            extra=extra,
        )
        ctx.rounds.append(record)
        if self.keep is not None:
            self.keep(r, theta, g, counts)
        if self.janitor is not None and kind != "synchronized":
            self._forget.append((r, int(agg["registered"].sum())))
            while self._forget and self._forget[0][0] <= r - KEEP_ROUNDS:
                self.janitor.forget(*self._forget.pop(0))
        self.iteration += 1
        return g

    # -- one round ------------------------------------------------------------------------
    def wall(self) -> float:
        """Seconds on the clock every rank of this machine shares (for exit times)."""
        return time.time()

    def _gradient(self, theta, r, k, stop) -> tuple[np.ndarray, float | None, int | None]:
        rng = gradient_rng(self.seed, self.agent, r, k)
        should_stop = None if stop is None else stop.is_set
        return sample_gradient(self.oracle, theta, self.agent, rng, should_stop)

    def _collect(self, kind: str, theta: np.ndarray, r: int, M: int, start: float):
        """Compute until the round's stop signal; returns (local vector, statistics).

        Each finished gradient is registered by the clerk (its own thread), at most
        :data:`MAX_AHEAD` of them unanswered; the gradients wait in ``pending`` until their
        answers (used or not) come back, in order. Once the round's stop is set, the clerk
        registers nothing more (those gradients finished after the round's last one).
        Malenia rounds have a deadline: an agent with no gradient after ``--timeout``
        seconds ends the run with one line naming it (Algorithm 3 waits for every agent).
        """
        i = self.agent
        prefix = f"r{r}/"
        stop = self.watcher.arm(prefix + "stop")
        local = np.zeros(theta.size)
        count = computed = cancelled = unused = registered = steps = 0
        stop_time = 0.0
        setter = 0
        returns: list[float] = []
        exit_rule = MaleniaExit(self.n, M) if kind == "malenia" else None
        pending: list[tuple[np.ndarray, float | None]] = []
        timed_out = threading.Event()
        timer = None
        if kind == "malenia":
            def expire() -> None:
                timed_out.set()
                stop.set()

            timer = threading.Timer(self.timeout, expire)
            timer.daemon = True
            timer.start()

        def fold(answers) -> None:
            nonlocal count, unused
            for used, _last in answers:
                g, ret = pending.pop(0)
                if used:
                    local[:] += g
                    count += 1
                    if ret is not None:
                        returns.append(ret)
                else:  # finished after the round's last gradient: discarded
                    unused += 1

        def register() -> tuple[bool, bool]:
            nonlocal registered, stop_time, setter
            if stop.is_set():  # the round is over: nothing more to count
                return False, False
            registered += 1
            used, last = self._arrive(kind, prefix, M, exit_rule)
            if last:
                stop_time = self.wall()
                setter = 1
                self.store.set(prefix + "stop", str(i))
            if last or not used:
                stop.set()
            return used, last

        deadline = time.monotonic() + float(self.kappa[i])  # receiving theta (broadcast)
        k = 0
        if wait_until(deadline, stop):
            while not stop.is_set():
                try:
                    g, ret, length = self._gradient(theta, r, k, stop)
                except Interrupted:
                    cancelled += 1
                    break
                deadline = max(deadline + self.emu.duration(r, i, k), time.monotonic())
                if not wait_until(deadline, stop):
                    cancelled += 1
                    break
                computed += 1
                steps += length or 0
                k += 1
                pending.append((g, ret))
                self.clerk.submit(register)
                fold(self.clerk.take(wait_for=max(0, len(pending) - MAX_AHEAD)))
        exit_time = self.wall()
        if timer is not None:
            timer.cancel()
        # a fresh connection: the clerk may be blocked on its own (replaying an arrival
        # that a hung rank numbered but never published)
        if timed_out.is_set() and not (probe := self.store.clone()).check([prefix + "stop"]):
            silent = [int(a) for a in np.flatnonzero(self._arrivals(probe, prefix) == 0)]
            who = f"agent(s) {', '.join(map(str, silent))}" if silent else "an agent"
            raise RoundTimeoutError(
                f"timeout: round {r}: {who} sent no gradient in {self.timeout:g} s "
                "(--timeout); Algorithm 3 waits for every agent (a hung or very slow rank)")
        fold(self.clerk.take(wait_for=len(pending)))
        if kind == "malenia" and count:
            local /= count
        return local, {"counts": count, "computed": computed, "cancelled": cancelled,
                       "unused": unused, "registered": registered, "exit_time": exit_time,
                       "stop_time": stop_time, "setter": setter,
                       "return_sum": float(sum(returns)), "episodes": len(returns),
                       "steps": steps}

    def _arrivals(self, store: Any, prefix: str) -> np.ndarray:
        """Per-agent arrivals of a Malenia round published so far (never waits)."""
        counts = np.zeros(self.n, dtype=np.int64)
        seen = int(store.add(prefix + "s", 0))
        for s in range(1, seen + 1):
            key = f"{prefix}a{s}"
            if store.check([key]):
                counts[int(store.get(key))] += 1
        return counts

    def _arrive(self, kind: str, prefix: str, M: int, exit_rule: MaleniaExit | None):
        """Register one finished gradient: (is it used, is it the last one of the round)."""
        if kind == "rennala":
            ticket = int(self.store.add(prefix + "n", 1))
            return ticket <= M, ticket == M
        seq = int(self.store.add(prefix + "s", 1))
        self.store.set(f"{prefix}a{seq}", str(self.agent))
        exit_rule.advance(self.store, prefix, seq - 1)
        if exit_rule.exit_at is not None:  # the loop ended before this arrival
            return False, False
        exit_rule.advance(self.store, prefix, seq)
        return True, exit_rule.exit_at == seq

    def _batch(self, theta: np.ndarray, r: int, batch: int):
        """A synchronized round: ``batch`` gradients, nothing cancelled."""
        i = self.agent
        deadline = time.monotonic() + float(self.kappa[i])
        wait_until(deadline, None)
        local = np.zeros(theta.size)
        returns = []
        steps = 0
        for k in range(batch):
            g, ret, length = self._gradient(theta, r, k, None)
            steps += length or 0
            local += g
            if ret is not None:
                returns.append(ret)
            deadline = max(deadline + self.emu.duration(r, i, k), time.monotonic())
            wait_until(deadline, None)
        return local / batch, {"counts": batch, "computed": batch, "cancelled": 0, "unused": 0,
                               "registered": 0, "exit_time": self.wall(), "stop_time": 0.0,
                               "setter": 0, "return_sum": float(sum(returns)),
                               "episodes": len(returns), "steps": steps}

    def _reduce(self, vec: np.ndarray, stats: dict[str, float], r: int):
        """Emulated upload, then the round's single all_reduce (Algorithm 2/3 line 10)."""
        import torch
        import torch.distributed as dist

        i, n, d = self.agent, self.n, vec.size
        if stats["counts"] > 0:
            wait_until(time.monotonic() + float(self.kappa[i]), None)
        buf = np.zeros(d + len(STATS) * n + 1)
        buf[:d] = vec
        for j, name in enumerate(STATS):
            buf[d + j * n + i] = stats[name]
        if i == 0:
            buf[-1] = self.now
        t = torch.from_numpy(buf)
        if self.device != "cpu":
            t = t.to(self.device)
        try:
            dist.all_reduce(t)
        except RuntimeError as exc:
            raise RoundTimeoutError(
                f"timeout: round {r}: the all_reduce did not complete within "
                f"{self.timeout:g} s (--timeout): a rank is hung, very slow or gone "
                f"({' '.join(str(exc).split())[:160]})") from None
        out = t.cpu().numpy()
        agg = {name: out[d + j * n : d + (j + 1) * n] for j, name in enumerate(STATS)}
        for name in ("counts", "computed", "cancelled", "unused", "registered", "setter",
                     "episodes", "steps"):
            agg[name] = np.rint(agg[name]).astype(np.int64)
        self.shared_now = float(out[-1])
        if not math.isfinite(self.shared_now):
            raise RuntimeError("all_reduce returned a non-finite clock")
        return out[:d].copy(), agg
