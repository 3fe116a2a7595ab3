"""The global loop of a real run: Algorithm 1 (or AFedPG) on a real backend.

The loop is :class:`algorithms.run.loop.MethodLoop`, the same one that drives simulated
runs: the same method objects (``spec.build(values)`` from the registry) run ``init`` and
``step`` on a real backend (:class:`AllReduceClock` or :class:`ServerClock`, both
:class:`algorithms.backends.protocol.Backend`s), and every iteration's rounds are folded
into :class:`algorithms.run.records.IterationRecord`s the same way, with wall time in
place of simulated time. What this module adds is what a real run does with each
finished iteration: rank 0 (or the server) evaluates, appends the records and rounds,
reports progress and checkpoints, off the critical path.

Budget: ``--iterations K`` stops after K global iterations; ``--time T`` after the first
iteration that ends at or after T seconds. In AllReduce mode the time test reads rank 0's
clock as carried by the last all_reduce, so every rank takes the same decision.
"""

from __future__ import annotations

import math
import os
import queue
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from algorithms.backends.distributed.runlog import (
    RunLog,
    load_checkpoint,
    round_dict,
    save_checkpoint,
)
from algorithms.backends.distributed.spec import RunSpec
from algorithms.methods.registry import get
from algorithms.run.loop import MethodLoop, Step
from algorithms.run.records import exact_evaluator, make_record


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


def budget(spec: RunSpec) -> tuple[float, int | None]:
    """(max_time, max_iters) of :meth:`MethodLoop.more` for the spec's budget: K iterations
    (``--iterations``), or every iteration that starts before T seconds (``--time``)."""
    if spec.iterations is not None:
        return math.inf, spec.iterations
    return float(spec.time), None


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
        rec = make_record(item["iteration"], item["now"], item["totals"], item["state"].theta,
                          self.evaluate)
        self.log.append(rec, item["rounds"])
        if item["now"] - self._last_progress >= 0.2 or item["last"]:
            self._last_progress = item["now"]
            self.log.progress(iteration=rec.iteration, time=rec.time, J=rec.J,
                              budget_iterations=self.spec.iterations,
                              budget_time=self.spec.time)
        if self.checkpoint is not None:
            self.checkpoint({**item, "log_sizes": self.log.sizes()})


class Driver:
    """One method's loop (:class:`MethodLoop`) on a real backend, and (if ``log``) its
    records written by a :class:`_Writer` thread.

    ``checkpoint(item)`` (rank 0, optional) is called after each iteration's records are
    written, with the iteration, state, totals, the logs' sizes and ``extra()``.
    """

    def __init__(self, spec: RunSpec, oracle: Any, backend: Any, log: RunLog | None,
                 checkpoint: Any = None, extra: Any = None) -> None:
        self.spec = spec
        self.mspec = get(spec.method)
        self.values, self.sources = self.mspec.resolve(spec.hyper)
        # The oracle's Generator is unused by real backends: each gradient draws its own
        # (emulate.gradient_rng), so that a round can be recomputed from its record.
        self.loop = MethodLoop(self.mspec, self.values, oracle, backend,
                               np.random.default_rng(spec.seed))
        self.budget = budget(spec)
        self.log = log
        self.extra = extra or (lambda: {})
        evaluate = exact_evaluator(oracle) if log is not None else None
        self.writer = _Writer(log, evaluate, spec, checkpoint) if log is not None else None

    @property
    def it(self) -> int:
        return self.loop.iteration

    @property
    def state(self) -> Any:
        return self.loop.state

    def resume(self, state: Any, iteration: int, totals: Any) -> None:
        self.loop.resume(state, iteration, totals)

    def init(self, theta0: np.ndarray) -> None:
        self._write(self.loop.init(theta0))

    def step(self) -> None:
        self._write(self.loop.step())

    def more(self) -> bool:
        return self.loop.more(*self.budget)

    def close(self) -> None:
        """Wait for the records to be written (raises what the writer raised)."""
        if self.writer is not None:
            self.writer.close()

    def _write(self, step: Step) -> None:
        if self.writer is None:
            return
        # RoundRecords, and AFedPG's arrivals (Transfers.to_dict; None for the first broadcast)
        rounds = [d for d in (r.to_dict() for r in step.rounds) if d is not None]
        self.writer.put({
            "iteration": step.iteration, "now": step.now, "totals": step.totals,
            "state": step.state, "rounds": [round_dict(r, step.iteration) for r in rounds],
            "last": not self.more(), **self.extra(),
        })

    def summary(self, run_dir: Path, events: list | None = None) -> dict[str, Any]:
        """The JSON object of ``apga launch --json`` (also ``summary.json``)."""
        from algorithms.run.report import read_csv

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

    from algorithms.backends.distributed.allreduce import AllReduceClock
    from algorithms.backends.distributed.emulate import Emulation
    from algorithms.backends.distributed.problem import build_oracle
    from algorithms.backends.distributed.runlog import dump_json
    from algorithms.backends.distributed.signals import StopWatcher, run_store

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
    from algorithms.backends.distributed.devices import reduce_device

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
        driver.resume(blob["state"], blob["iteration"], blob["totals"])
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
    while driver.more():
        driver.step()
    watcher.close()
    driver.close()
    if writer:
        if keeper is not None:
            keeper.save(run_dir / "gradients.npz")
        dump_json(run_dir / "summary.json", driver.summary(run_dir))
    dist.barrier()
