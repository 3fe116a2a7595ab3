"""The global loop of a real run: Algorithm 1 (or AFedPG) with a real backend as its clock.

The same method objects as on the simulated clock (``spec.build(values)`` from the
registry) run ``init`` and ``step``; the records are :class:`algorithms.run.IterationRecord`
folded from the rounds exactly as :func:`algorithms.run.run_method` folds them, with wall
time in place of simulated time.

Budget: ``--iterations K`` stops after K global iterations; ``--time T`` after the first
iteration that ends at or after T seconds. In AllReduce mode the time test reads rank 0's
clock as carried by the last all_reduce, so every rank takes the same decision.
"""

from __future__ import annotations

import copy
import os
import queue
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from algorithms.distributed.runlog import RunLog, load_checkpoint, round_dict, save_checkpoint
from algorithms.distributed.spec import RunSpec
from algorithms.methods.base import Context
from algorithms.methods.registry import get
from algorithms.run import _record, _Totals


class Keeper:
    """Every aggregated gradient with the point and counts it came from (``save_gradients``)."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []

    def __call__(self, r: int, theta: np.ndarray, g: np.ndarray, counts: np.ndarray) -> None:
        self.rows.append((r, theta.copy(), g.copy(), np.asarray(counts).copy()))

    def save(self, path: Path) -> None:
        if not self.rows:
            return
        np.savez(
            path,
            round=np.array([r[0] for r in self.rows]),
            theta=np.stack([r[1] for r in self.rows]),
            g=np.stack([r[2] for r in self.rows]),
            counts=np.stack([r[3] for r in self.rows]),
        )


def _more(spec: RunSpec, it: int, now: float) -> bool:
    if spec.iterations is not None:
        return it < spec.iterations
    return now < spec.time


class _Writer:
    """Rank 0's bookkeeping off the critical path (a thread): evaluating J, appending the
    records, progress and checkpoints. The main thread only queues copies, so the other
    ranks never wait in an all_reduce for rank 0's disk writes."""

    def __init__(self, log: RunLog, evaluate: Any, spec: RunSpec, checkpoint: Any) -> None:
        self.log, self.evaluate, self.spec, self.checkpoint = log, evaluate, spec, checkpoint
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._last_progress = -1.0
        self._thread = threading.Thread(target=self._run, name="apga-writer", daemon=True)
        self._thread.start()

    def put(self, item: dict[str, Any]) -> None:
        if self._error is not None:
            raise self._error
        self._q.put(item)

    def close(self) -> None:
        self._q.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        while (item := self._q.get()) is not None:
            if self._error is not None:
                continue
            try:
                self._write(item)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
                self._error = exc

    def _write(self, item: dict[str, Any]) -> None:
        clock = SimpleNamespace(now=item["now"])
        rec = _record(item["iteration"], clock, item["totals"], item["state"], self.evaluate)
        self.log.append(rec, item["rounds"])
        if item["now"] - self._last_progress >= 0.2 or item["last"]:
            self._last_progress = item["now"]
            self.log.progress(iteration=rec.iteration, time=rec.time, J=rec.J,
                              budget_iterations=self.spec.iterations,
                              budget_time=self.spec.time)
        if self.checkpoint is not None:
            self.checkpoint({**item, "log_sizes": self.log.sizes()})


class Driver:
    """Runs one method's init and steps on a real clock and writes (if ``log``) the records.

    ``checkpoint(item)`` (rank 0, optional) is called after each iteration's records are
    written, with the iteration, state, totals, the logs' sizes and ``extra()``.
    """

    def __init__(self, spec: RunSpec, oracle: Any, clock: Any, log: RunLog | None,
                 checkpoint: Any = None, extra: Any = None) -> None:
        self.spec = spec
        self.mspec = get(spec.method)
        self.values, self.sources = self.mspec.resolve(spec.hyper)
        self.method = self.mspec.build(self.values)
        self.oracle = oracle
        self.clock = clock
        self.log = log
        self.extra = extra or (lambda: {})
        from algorithms.run import exact_evaluator

        evaluate = exact_evaluator(oracle) if log is not None else None
        self.writer = _Writer(log, evaluate, spec, checkpoint) if log is not None else None
        self.totals = _Totals()
        self.it = 0
        self.state: Any = None
        self.rng = np.random.default_rng(spec.seed)  # unused by real backends (see emulate)

    def _ctx(self) -> Context:
        return Context(oracle=self.oracle, clock=self.clock, rng=self.rng, hyper=self.values)

    def _fold(self, ctx: Context) -> None:
        for r in ctx.rounds:
            self.totals.add(r)
        if self.writer is not None:
            rounds = [r for r in ctx.rounds if hasattr(r, "to_dict")]
            drain = getattr(self.clock, "drain_rounds", None)  # AFedPG's updates (server)
            rounds += drain() if drain else []
            self.writer.put({
                "iteration": self.it, "now": self.clock.now, "totals": copy.copy(self.totals),
                "state": self.state, "rounds": [round_dict(r, self.it) for r in rounds],
                "last": not self.more(self.clock.shared_now), **self.extra(),
            })

    def close(self) -> None:
        """Wait for the records to be written (raises what the writer raised)."""
        if self.writer is not None:
            self.writer.close()

    def init(self, theta0: np.ndarray) -> None:
        ctx = self._ctx()
        self.state = self.method.init(np.asarray(theta0, dtype=float), ctx)
        self._fold(ctx)

    def step(self) -> None:
        ctx = self._ctx()
        self.state = self.method.step(self.state, ctx)
        self.it += 1
        self._fold(ctx)

    def more(self, now: float) -> bool:
        return _more(self.spec, self.it, now)

    def summary(self, run_dir: Path, events: list | None = None) -> dict[str, Any]:
        """The JSON object of ``apga launch --json`` (also ``summary.json``)."""
        from algorithms.report import read_csv

        assert self.log is not None
        records = read_csv(self.log.csv)
        rounds = self.log.read_rounds()
        last = records[-1]
        spec = self.spec
        return {
            "command": "launch",
            "method": spec.method,
            "title": self.mspec.title,
            "n": spec.n,
            "mode": spec.mode,
            "env": spec.env,
            "emulated": spec.emulated,
            "iterations": last.iteration,
            "wall_seconds": last.time,
            "rounds": [
                {"duration": r["duration"], "counts": r["counts"], **{
                    k: r[k] for k in ("kind", "start", "end", "t_exit", "cancelled", "unused",
                                      "evaluated", "simulated", "n_communications",
                                      "global_iteration") if k in r}}
                for r in rounds
            ],
            "final": {
                "J": last.J,
                "grad_norm": last.grad_norm,
                "gradients_evaluated": last.gradients_evaluated,
                "gradients_simulated": last.gradients_simulated,
                "communications": last.communications,
            },
            "hyper": self.values,
            "hyper_source": self.sources,
            "events": events if events is not None else self.log.read_events(),
            "records": self.log.csv.name,
            "spec": spec.to_json(),
        }


def run_allreduce(spec: RunSpec, run_dir: Path, rank: int) -> None:
    """One rank of an AllReduce-mode run (every rank an agent)."""
    import torch.distributed as dist

    from algorithms.distributed.allreduce import AllReduceClock
    from algorithms.distributed.emulate import Emulation
    from algorithms.distributed.runlog import dump_json
    from algorithms.distributed.signals import StopWatcher, run_store
    from algorithms.distributed.worker import build_oracle

    restart = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    oracle, theta0 = build_oracle(spec)
    store = run_store(spec.run_id, restart, spec.timeout)
    watcher = StopWatcher(run_store(spec.run_id, restart, spec.timeout))
    emu = Emulation(spec.h_times(), spec.kappa_times(), spec.timing, spec.timing_options,
                    spec.seed)
    writer = rank == 0
    log = RunLog(run_dir, spec.method, spec.seed) if writer else None
    spec_json = spec.to_json()
    blob = load_checkpoint(run_dir, spec.run_id, spec_json) if writer else None
    box = [blob]
    dist.broadcast_object_list(box, src=0)
    blob = box[0]
    epoch = blob["epoch"] if blob else time.time()
    from algorithms.distributed.worker import reduce_device

    device = reduce_device()
    keeper = Keeper() if spec.save_gradients and writer else None
    clock = AllReduceClock(agent=rank, n=spec.n, oracle=oracle, store=store, watcher=watcher,
                           emulation=emu, seed=spec.seed, started=time.monotonic(),
                           offset=time.time() - epoch, keep=keeper)
    clock.device = device

    def checkpoint(item: dict[str, Any]) -> None:  # rank 0; only a restart resumes a launch
        save_checkpoint(run_dir, {
            "run_id": spec.run_id, "spec": spec_json, "iteration": item["iteration"],
            "round": item["round"], "state": item["state"], "totals": item["totals"],
            "log_sizes": item["log_sizes"], "epoch": epoch, "now": item["shared_now"],
            "kept": item["kept"],
        })

    def extra() -> dict[str, Any]:
        return {"round": clock.iteration, "shared_now": clock.shared_now,
                "kept": list(keeper.rows) if keeper is not None else []}

    driver = Driver(spec, oracle, clock, log,
                    checkpoint=checkpoint if writer and spec.restarts > 0 else None, extra=extra)
    if blob:
        driver.state, driver.it, driver.totals = blob["state"], blob["iteration"], blob["totals"]
        clock.iteration = blob["round"]
        clock.shared_now = blob["now"]
        if keeper is not None:
            keeper.rows = blob.get("kept", [])
        if writer:
            log.truncate(blob["log_sizes"])
            log.event(event="restart", attempt=restart, resumed_at_iteration=driver.it,
                      time=clock.now)
    else:
        driver.init(theta0)
    while driver.more(clock.shared_now):
        driver.step()
    watcher.close()
    driver.close()
    if writer:
        if keeper is not None:
            keeper.save(run_dir / "gradients.npz")
        dump_json(run_dir / "summary.json", driver.summary(run_dir))
    dist.barrier()
