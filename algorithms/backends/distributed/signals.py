"""The stop signal of a round, on the c10d store every rank already shares.

Algorithm 2 counts the gradients of a round ("while i <= M") and then stops all agents
(line 9). On real processes the count is one atomic counter of the store: a finished
gradient takes a ticket with ``store.add(key, 1)``; tickets 1..M are used, the holder of
ticket M sets the round's stop key, and every rank learns it through a watcher thread that
blocks in ``store.wait([stop key])`` on its own store connection and sets a
:class:`threading.Event`. Computations poll that event between environment steps and every
emulated wait sleeps on it, so a stopped agent abandons its work at once.

Algorithm 3's loop condition depends on *which* agents returned, in order. Each arrival
takes a sequence number from a counter and publishes its agent under that number; any
rank can then replay the arrivals 1..s in order and evaluate the exit test exactly
(:func:`algorithms.aggregation.malenia.malenia_should_stop`). Arrival s is used iff the
test failed after arrivals 1..s-1; the arrival that makes it pass sets the stop key.

Paper: Algorithm 2 lines 4-9, Algorithm 3 lines 4-9.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from datetime import timedelta

import numpy as np

from algorithms.aggregation.malenia import malenia_should_stop


def run_store(run_id: str, restart: int, timeout: float = 300.0):
    """A client of the rendezvous' c10d store, with keys scoped to this run and attempt.

    Uses MASTER_ADDR / MASTER_PORT, which torch's elastic agent sets for every worker.
    """
    import torch.distributed as dist

    base = dist.TCPStore(
        os.environ["MASTER_ADDR"],
        int(os.environ["MASTER_PORT"]),
        is_master=False,
        timeout=timedelta(seconds=timeout),
    )
    return dist.PrefixStore(f"apga/{run_id}/{restart}/", base)


def clone(store):
    """A new connection to the same store (a blocking ``wait`` on one connection must not
    hold up another thread's requests)."""
    return store.clone()


class StopWatcher:
    """A thread that turns the store's stop keys into events, one round after another.

    Rounds end in order and every round's stop key is set, so one thread waiting on one
    key at a time suffices; if a newer round is armed while it waits, the older round is
    over for this rank (its key may already be deleted) and the thread moves on. It owns
    its own store connection (a blocking ``wait`` must not hold up the main thread's
    ``add``).
    """

    def __init__(self, store) -> None:
        self._store = store
        self._todo: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="apga-stop-watcher", daemon=True)
        self._thread.start()

    def arm(self, key: str) -> threading.Event:
        """An event that is set once ``key`` exists in the store."""
        from algorithms.backends.distributed.emulate import StopEvent

        event = StopEvent()
        self._todo.put((key, event))
        return event

    def close(self) -> None:
        self._closed = True
        self._todo.put((None, None))

    def _run(self) -> None:
        while True:
            key, event = self._todo.get()
            if key is None:
                return
            while not event.is_set() and not self._closed:
                try:
                    self._store.wait([key], timedelta(seconds=1))
                    event.set()
                except Exception as exc:  # noqa: BLE001 - a timeout: look again
                    if not self._todo.empty():  # a newer round is armed: this one is over
                        break
                    if "timeout" not in str(exc).lower():  # the store is gone: don't spin
                        time.sleep(0.1)


class Clerk:
    """Registers an agent's finished gradients with the store on a thread of its own.

    A store request is a round trip to the store's server thread; on a machine whose cores
    are busy computing, that thread waits for a core, and an agent that waited for the
    reply before its next trajectory lost a millisecond or more per gradient (2 ranks
    reached 1.5x one rank's throughput on 2 cores). The agent now hands each registration
    to the clerk and goes on computing; the clerk sets the stop key and the stop event
    itself when a registration ends the round, and the agent collects the answers, in
    order, when it folds its gradients.
    """

    def __init__(self) -> None:
        self._todo: queue.SimpleQueue = queue.SimpleQueue()
        self._cv = threading.Condition()
        self._results: list = []
        self._thread = threading.Thread(target=self._run, name="apga-clerk", daemon=True)
        self._thread.start()

    def submit(self, register) -> None:
        """Queue ``register()`` (returns (used, last)); answers come back in order."""
        self._todo.put(register)

    def take(self, wait_for: int = 0, timeout: float = 300.0) -> list:
        """The answers so far (at least ``wait_for`` of them), removed from the clerk."""
        with self._cv:
            if not self._cv.wait_for(lambda: len(self._results) >= wait_for, timeout):
                raise RuntimeError(f"timeout: the store did not answer in {timeout:g} s")
            out, self._results = self._results, []
        for res in out:
            if isinstance(res, BaseException):
                raise res
        return out

    def close(self) -> None:
        self._todo.put(None)

    def _run(self) -> None:
        while (register := self._todo.get()) is not None:
            try:
                res = register()
            except BaseException as exc:  # noqa: BLE001 - handed to the agent's thread
                res = exc
            with self._cv:
                self._results.append(res)
                self._cv.notify_all()


class MaleniaExit:
    """Replays a round's arrivals in sequence order and finds where Algorithm 3 exits."""

    def __init__(self, n: int, M: int) -> None:
        self.counts = np.zeros(n, dtype=np.int64)
        self.M = int(M)
        self.seen = 0
        self.exit_at: int | None = None

    def advance(self, store, prefix: str, upto: int) -> None:
        """Read arrivals ``seen + 1 .. upto`` (waiting for any not yet published)."""
        if upto <= self.seen or self.exit_at is not None:
            return
        keys = [f"{prefix}a{s}" for s in range(self.seen + 1, upto + 1)]
        agents = [int(v) for v in store.multi_get(keys)]
        for s, agent in enumerate(agents, start=self.seen + 1):
            self.counts[agent] += 1
            self.seen = s
            if malenia_should_stop(self.counts, self.M):
                self.exit_at = s
                return
