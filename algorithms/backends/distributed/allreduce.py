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
import time
from typing import Any

import numpy as np

from algorithms.aggregation.records import RoundRecord
from algorithms.backends.distributed.emulate import Emulation, gradient_rng, wait_until
from algorithms.backends.distributed.signals import Clerk, MaleniaExit, StopWatcher
from algorithms.oracle import Interrupted


class AllReduceClock:
    """The real backend of one rank in AllReduce mode.

    Attributes read by the method code and the run loop: ``n``, ``kappa`` (emulated
    kappa_i), ``iteration`` (rounds done), ``now`` (this rank's run time in seconds) and
    ``shared_now`` (rank 0's run time at the last all_reduce: every rank sees the same
    value, so budget tests agree across ranks).
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
    ) -> None:
        self.agent = agent
        self.n = n
        self.oracle = oracle
        self.store = store
        self.watcher = watcher
        self.emu = emulation
        self.kappa = emulation.kappa
        self.seed = seed
        self._started = started
        self._offset = offset
        self.iteration = 0
        self.shared_now = offset
        self.keep = keep  # callable(round_id, theta, g, counts) or None (save_gradients)
        self.device = "cpu"  # "cuda:k" when every rank has a GPU (the all_reduce then uses NCCL)
        self.clerk = Clerk()  # the only user of ``store`` while a round collects

    @property
    def now(self) -> float:
        return self._offset + time.monotonic() - self._started

    # -- the seam used by algorithms.methods.patterns ------------------------------------
    def aggregate(self, kind: str, theta: np.ndarray, M: int, ctx: Any) -> np.ndarray:
        """Algorithm 2 (``rennala``), 3 (``malenia``) or a synchronized round, for real.

        Appends the round's :class:`RoundRecord` (times in seconds of this run) to
        ``ctx.rounds`` and returns the aggregated gradient (identical on every rank).
        """
        r = self.iteration
        theta = np.asarray(theta, dtype=float)
        start = self.now
        if kind == "synchronized":
            vec, stats = self._batch(theta, r, int(ctx.hyper.get("batch", 1)))
        else:
            vec, stats = self._collect(kind, theta, r, int(M))
        t_exit = self.now
        total, counts, agg = self._reduce(vec, stats)
        end = self.now
        if kind == "rennala":
            if int(counts.sum()) != M:
                raise RuntimeError(f"round {r}: {int(counts.sum())} gradients counted, M = {M}")
            g = total / M
        else:
            g = total / self.n
        record = RoundRecord(
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
        )
        ctx.rounds.append(record)
        if self.keep is not None:
            self.keep(r, theta, g, counts)
        self.iteration += 1
        return g

    # -- one round ------------------------------------------------------------------------
    def _gradient(self, theta, r, k, stop) -> np.ndarray:
        rng = gradient_rng(self.seed, self.agent, r, k)
        should_stop = None if stop is None else stop.is_set
        out = self.oracle.sample_gradients(theta, np.array([self.agent]), rng, should_stop)
        return np.asarray(out[0], dtype=float)

    def _collect(self, kind: str, theta: np.ndarray, r: int, M: int):
        """Compute until the round's stop signal; returns (local vector, statistics).

        Each finished gradient is registered by the clerk (its own thread); the gradients
        wait in ``pending`` until their answers (used or not) come back, in order.
        """
        i = self.agent
        prefix = f"r{r}/"
        stop = self.watcher.arm(prefix + "stop")
        local = np.zeros(theta.size)
        count = computed = cancelled = unused = 0
        exit_rule = MaleniaExit(self.n, M) if kind == "malenia" else None
        pending: list[np.ndarray] = []

        def fold(answers) -> None:
            nonlocal count, unused
            for used, _last in answers:
                g = pending.pop(0)
                if used:
                    local[:] += g
                    count += 1
                else:  # finished after the round's last gradient: discarded
                    unused += 1

        def register() -> tuple[bool, bool]:
            used, last = self._arrive(kind, prefix, M, exit_rule)
            if last:
                self.store.set(prefix + "stop", str(i))
            if last or not used:
                stop.set()
            return used, last

        deadline = time.monotonic() + float(self.kappa[i])  # receiving theta (broadcast)
        k = 0
        if wait_until(deadline, stop):
            while not stop.is_set():
                try:
                    g = self._gradient(theta, r, k, stop)
                except Interrupted:
                    cancelled += 1
                    break
                deadline = max(deadline + self.emu.duration(r, i, k), time.monotonic())
                if not wait_until(deadline, stop):
                    cancelled += 1
                    break
                computed += 1
                k += 1
                pending.append(g)
                self.clerk.submit(register)
                fold(self.clerk.take())
        fold(self.clerk.take(wait_for=len(pending)))
        if kind == "malenia" and count:
            local /= count
        return local, {"counts": count, "computed": computed, "cancelled": cancelled,
                       "unused": unused}

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
        for k in range(batch):
            local += self._gradient(theta, r, k, None)
            deadline = max(deadline + self.emu.duration(r, i, k), time.monotonic())
            wait_until(deadline, None)
        return local / batch, {"counts": batch, "computed": batch, "cancelled": 0, "unused": 0}

    def _reduce(self, vec: np.ndarray, stats: dict[str, int]):
        """Emulated upload, then the round's single all_reduce (Algorithm 2/3 line 10)."""
        import torch
        import torch.distributed as dist

        i, n, d = self.agent, self.n, vec.size
        if stats["counts"] > 0:
            wait_until(time.monotonic() + float(self.kappa[i]), None)
        names = ("counts", "computed", "cancelled", "unused")
        buf = np.zeros(d + len(names) * n + 1)
        buf[:d] = vec
        for j, name in enumerate(names):
            buf[d + j * n + i] = stats[name]
        if i == 0:
            buf[-1] = self.now
        t = torch.from_numpy(buf)
        if self.device != "cpu":
            t = t.to(self.device)
        dist.all_reduce(t)
        out = t.cpu().numpy()
        agg = {name: np.rint(out[d + j * n : d + (j + 1) * n]).astype(np.int64)
               for j, name in enumerate(names)}
        self.shared_now = float(out[-1])
        if not math.isfinite(self.shared_now):
            raise RuntimeError("all_reduce returned a non-finite clock")
        return out[:d].copy(), agg["counts"], agg
