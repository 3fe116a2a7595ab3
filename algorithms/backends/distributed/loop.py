"""The global loop of a real run: Algorithm 1 (or AFedPG) on a real backend.

The loop is :class:`algorithms.run.loop.MethodLoop`, the same one that drives simulated
runs: the same method objects (``spec.build(values)`` from the registry) run ``init`` and
``step`` on a real backend (:class:`AllReduceClock` or :class:`ServerClock`, both
:class:`algorithms.backends.protocol.Backend`s), and every iteration's rounds are folded
into :class:`algorithms.run.records.IterationRecord`s the same way, with wall time in
place of simulated time. What this module adds is what a real run does with each
finished iteration: rank 0 (or the server) evaluates, appends the records and rounds,
reports progress, writes TensorBoard scalars and checkpoints, off the critical path.

Budget: ``--iterations K`` stops after K global iterations; ``--time T`` after the first
iteration that ends at or after T seconds. In AllReduce mode the time test reads rank 0's
clock as carried by the last all_reduce, so every rank takes the same decision.

Checkpoints (:class:`RunCheckpoint`) use :mod:`algorithms.run.checkpoint`'s format (two
slots written in turn, checksummed, with the run's identity: every spec field but the
run id and the fault-handling options): the method state, the iteration, the totals,
the backend's state (round counter, clock; the server's points) and the byte sizes of
the append-only logs it covers. They are written every ``spec.checkpoint_every``
iterations, at the end, and when the run is stopped by a signal (:meth:`Driver.stop`);
a restart (``--max-restarts``) or ``apga launch --resume`` continues from the newest one,
cutting the logs back to it, so every iteration appears exactly once.
"""

from __future__ import annotations

import math
import os
import queue
import resource
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from algorithms.backends.distributed.runlog import RunLog, dump_json, round_dict, round_stats
from algorithms.backends.distributed.spec import RunSpec
from algorithms.methods.registry import get
from algorithms.run import checkpoint as ck
from algorithms.run.loop import MethodLoop, Step
from algorithms.run.records import exact_evaluator, make_record

CHECKPOINT = "checkpoint"
#: Iterations the writer thread may fall behind before the loop waits for it.
MAX_QUEUED = 256
#: Seconds a signalled stop may spend writing the last checkpoint.
STOP_GRACE = 5.0


def rss_bytes() -> int:
    """Resident memory of this process now (Linux /proc; peak RSS elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


class Keeper:
    """Every aggregated gradient with the point and counts it came from (``save_gradients``).

    Rows are appended to ``gradients.bin`` as they come (float64: round, agent, version, k,
    counts (n), theta (d), g (d)); a checkpoint records the file's size, so a restart cuts
    off rows of iterations it redoes, and nothing is rewritten (a checkpoint costs the
    same at iteration 10 and 10^6). :meth:`save` turns the file into ``gradients.npz``.
    ``agent``, ``version``, ``k`` are set for AFedPG arrivals (-1 otherwise).
    """

    def __init__(self, run_dir: Path, n: int, d: int, blob: dict | None = None) -> None:
        self.path = Path(run_dir) / "gradients.bin"
        self.n, self.d = n, d
        self.width = 4 + n + 2 * d
        size = int(blob.get("gradients_bytes", 0)) if blob else 0
        self._fh = open(self.path, "r+b" if size and self.path.exists() else "wb")  # noqa: SIM115
        self._fh.truncate(size)
        self._fh.seek(size)

    def __call__(self, r: int, theta: np.ndarray, g: np.ndarray, counts: np.ndarray,
                 agent: int = -1, version: int = -1, k: int = -1) -> None:
        row = np.empty(self.width)
        row[:4] = (r, agent, version, k)
        row[4:4 + self.n] = counts
        row[4 + self.n:4 + self.n + self.d] = theta
        row[4 + self.n + self.d:] = g
        self._fh.write(row.tobytes())

    def size(self) -> int:
        self._fh.flush()
        return self._fh.tell()

    def save(self, path: Path) -> None:
        self._fh.close()
        rows = np.fromfile(self.path, dtype=np.float64).reshape(-1, self.width)
        if rows.shape[0]:
            n, d = self.n, self.d
            np.savez(path, round=rows[:, 0].astype(np.int64), agent=rows[:, 1].astype(np.int64),
                     version=rows[:, 2].astype(np.int64), k=rows[:, 3].astype(np.int64),
                     counts=rows[:, 4:4 + n].astype(np.int64), theta=rows[:, 4 + n:4 + n + d],
                     g=rows[:, 4 + n + d:])
        self.path.unlink()


def identity(spec: RunSpec) -> dict[str, Any]:
    """What a checkpoint of this run must match: every spec field that changes the run's
    records (not the run id, the timeouts, restarts or the checkpoint interval)."""
    data = spec.to_json()
    for key in ("run_id", "timeout", "restarts", "checkpoint_every", "rdzv_timeout",
                "eval_every", "eval_episodes", "tensorboard", "resume"):
        data.pop(key, None)
    hyper = data.pop("hyper")
    ident: dict[str, Any] = {"format": ck.FORMAT, "command": "launch"}
    ident.update({k: v for k, v in data.items()})
    ident.update({f"--{k.replace('_', '-')}": v for k, v in hyper.items()})
    return ident


class RunCheckpoint:
    """The run's checkpoint (rank 0 / the server), in :mod:`algorithms.run.checkpoint`'s
    two-slot format; the payload's ``clock`` entry holds the backend state and log sizes."""

    def __init__(self, run_dir: Path, spec: RunSpec) -> None:
        self.path = Path(run_dir) / CHECKPOINT
        self.ident = identity(spec)
        self.resume = spec.resume
        self._writer: ck.Writer | None = None
        self.saved_iteration: int | None = None
        self._lock = threading.Lock()

    def load(self) -> dict[str, Any] | None:
        """The newest checkpoint of this run, or None; ValueError for another run's or a
        corrupt one, or for none where ``--resume`` needs one."""
        if not ck.exists(self.path):
            if self.resume:
                raise ValueError(f"resume: no checkpoint in {self.path.parent} on the node "
                                 "holding rank 0 (resume on the node that ran rank 0 before)")
            return None
        saved = ck.load(self.path, self.ident)
        extra = saved["clock"]
        self._writer = ck.Writer(self.path, self.ident, 0, saved["save_number"], fresh=False)
        return {"state": saved["state"], "iteration": saved["iteration"],
                "totals": saved["totals"], **extra}

    def save(self, state: Any, iteration: int, totals: Any, extra: dict[str, Any]) -> None:
        with self._lock:
            if self._writer is None:
                self._writer = ck.Writer(self.path, self.ident, 0)
            self._writer.save(state, extra, None, [], totals, iteration)
            self.saved_iteration = iteration

    def close(self) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.close()


class _Writer:
    """Rank 0's bookkeeping off the critical path (a thread): evaluating J, appending the
    records, progress, TensorBoard scalars and checkpoints. The main thread only queues
    references (the method's state is immutable), so the other ranks never wait in an
    all_reduce for rank 0's disk writes; a queue bound keeps memory flat if the disk is
    slower than the run."""

    def __init__(self, driver: Driver) -> None:
        self.d = driver
        self._q: queue.Queue = queue.Queue(maxsize=MAX_QUEUED)
        self._error: BaseException | None = None
        self._last_progress = -1.0
        self._last_item: dict[str, Any] | None = None
        self._lock = threading.Lock()  # one checkpoint at a time (the stop path too)
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

    def drain(self, timeout: float) -> None:
        """Write what is queued, then a checkpoint of the newest item (signalled stop)."""
        self._q.put(None)
        self._thread.join(timeout)
        with self._lock:
            item = self._last_item
            if item is not None and self.d.checkpoint is not None and \
                    self.d.checkpoint.saved_iteration != item["iteration"]:
                self._checkpoint(item)

    def _run(self) -> None:
        while (item := self._q.get()) is not None:
            if self._error is not None:
                continue
            try:
                with self._lock:
                    self._write(item)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
                self._error = exc

    def _checkpoint(self, item: dict[str, Any]) -> None:
        d = self.d
        extra = {**item["extra"], "log_sizes": item["log_sizes"]}
        d.checkpoint.save(d.strip(item["state"]), item["iteration"], item["totals"], extra)

    def _write(self, item: dict[str, Any]) -> None:
        d = self.d
        spec = d.spec
        rec = make_record(item["iteration"], item["now"], item["totals"], item["state"].theta,
                          d.evaluate)
        rounds = item["rounds"]
        evaluation = None
        it = rec.iteration
        if d.eval_return is not None and (item["last"] or (spec.eval_every and
                                                          it % spec.eval_every == 0)):
            evaluation = d.eval_return(item["state"].theta, it)
            rec = rec.__class__(**{**rec.__dict__, "J": evaluation})
            d.log.event(event="evaluation", iteration=it, time=rec.time, average_return=evaluation,
                        episodes=spec.eval_episodes)
        d.log.append(rec, rounds)
        item["log_sizes"] = d.log.sizes()
        self._last_item = item
        train_return = _train_return(rounds)
        if train_return is not None:
            d.last_train_return = train_return
        if d.tb is not None:
            d.tb.iteration(rec, rounds, train_return)
        if item["now"] - self._last_progress >= 0.2 or item["last"]:
            self._last_progress = item["now"]
            d.log.progress(iteration=it, time=rec.time, J=rec.J, train_return=train_return,
                           budget_iterations=spec.iterations, budget_time=spec.time,
                           rss_bytes=rss_bytes(), store_keys=d.store_keys(),
                           checkpoint_iteration=None if d.checkpoint is None
                           else d.checkpoint.saved_iteration)
        if d.checkpoint is not None and (item["last"] or it % spec.checkpoint_every == 0):
            self._checkpoint(item)


def _train_return(rounds: list[dict[str, Any]]) -> float | None:
    """Mean undiscounted return of the training episodes of an iteration's rounds."""
    total = sum(r.get("return_sum", 0.0) or 0.0 for r in rounds)
    episodes = sum(r.get("episodes", 0) or 0 for r in rounds)
    return total / episodes if episodes else None


def budget(spec: RunSpec) -> tuple[float, int | None]:
    """(max_time, max_iters) of :meth:`MethodLoop.more` for the spec's budget: K iterations
    (``--iterations``), or every iteration that starts before T seconds (``--time``)."""
    if spec.iterations is not None:
        return math.inf, spec.iterations
    return float(spec.time), None


class Driver:
    """One method's loop (:class:`MethodLoop`) on a real backend, and (if ``log``) its
    records written by a :class:`_Writer` thread.

    ``checkpoint`` (rank 0 / the server): a :class:`RunCheckpoint`; ``extra()`` returns the
    backend's part of a checkpoint; ``strip(state)`` the state without live objects.
    """

    def __init__(self, spec: RunSpec, oracle: Any, backend: Any, log: RunLog | None,
                 checkpoint: RunCheckpoint | None = None, extra: Any = None,
                 strip: Any = None, store_keys: Any = None) -> None:
        self.spec = spec
        self.mspec = get(spec.method)
        self.values, self.sources = self.mspec.resolve(spec.hyper)
        # The oracle's Generator is unused by real backends: each gradient draws its own
        # (emulate.gradient_rng), so that a round can be recomputed from its record.
        self.loop = MethodLoop(self.mspec, self.values, oracle, backend,
                               np.random.default_rng(spec.seed))
        self.budget = budget(spec)
        self.log = log
        self.checkpoint = checkpoint
        self.extra = extra or (lambda: {})
        self.strip = strip or (lambda s: s)
        self.store_keys = store_keys or (lambda: None)
        self.stopping = threading.Event()
        self.last_train_return: float | None = None
        self.tb = None
        self.evaluate = exact_evaluator(oracle) if log is not None else None
        self.eval_return = None
        if log is not None and hasattr(oracle, "average_return"):
            self.eval_return = _evaluator(oracle, spec)
        if log is not None and spec.tensorboard:
            from algorithms.run.tensorboard import ScalarWriter

            self.tb = ScalarWriter(spec.tensorboard, f"{spec.method}-{spec.mode}-seed{spec.seed}")
        self.writer = _Writer(self) if log is not None else None

    @property
    def it(self) -> int:
        return self.loop.iteration

    @property
    def state(self) -> Any:
        return self.loop.state

    def resume(self, state: Any, iteration: int, totals: Any, blob: dict[str, Any],
               attempt: int | None = None) -> None:
        """Continue from a checkpoint: the loop's state, and the logs cut back to it."""
        self.loop.resume(state, iteration, totals)
        if self.log is not None:
            self.log.truncate(blob["log_sizes"])
            self.log.event(event="restart" if attempt else "resume", attempt=attempt,
                           resumed_at_iteration=self.it, time=float(blob["backend"]["now"]))

    def init(self, theta0: np.ndarray) -> None:
        self._write(self.loop.init(theta0))

    def step(self) -> None:
        self._write(self.loop.step())

    def more(self) -> bool:
        return self.loop.more(*self.budget)

    def stop(self) -> None:
        """A signal ended the run: write what is queued and a checkpoint of the newest
        completed iteration (called from the signal thread; bounded by STOP_GRACE)."""
        self.stopping.set()
        if self.writer is not None:
            self.writer.drain(STOP_GRACE)
        if self.checkpoint is not None:
            self.checkpoint.close()

    def close(self) -> None:
        """Wait for the records to be written (raises what the writer raised)."""
        if self.writer is not None:
            self.writer.close()
        if self.checkpoint is not None:
            self.checkpoint.close()
        if self.tb is not None:
            self.tb.close()

    def _write(self, step: Step) -> None:
        if self.writer is None:
            return
        # RoundRecords, and AFedPG's arrivals (Transfers.to_dict; None for the first broadcast)
        rounds = [d for d in (r.to_dict() for r in step.rounds) if d is not None]
        self.writer.put({
            "iteration": step.iteration, "now": step.now, "totals": step.totals,
            "state": step.state, "rounds": [round_dict(r, step.iteration) for r in rounds],
            "last": not self.more(), "extra": self.extra(),
        })

    def finish(self, run_dir: Path, oracle: Any, device: dict[str, Any] | None = None) -> None:
        """The end of a run on rank 0 / the server: records written, gradients, policy,
        summary.json."""
        self.close()
        keeper = getattr(self.loop.backend, "keep", None)
        if keeper is not None:
            keeper.save(run_dir / "gradients.npz")
        policy = None
        if hasattr(oracle, "spec") and hasattr(oracle, "env_id"):
            from algorithms.mujoco.saved import save_policy

            policy = save_policy(run_dir / "policy.pt", oracle, self.state.theta, self.spec)
        dump_json(run_dir / "summary.json", self.summary(run_dir, device, policy))

    def summary(self, run_dir: Path, device: dict[str, Any] | None = None,
                policy: str | None = None) -> dict[str, Any]:
        """The JSON object of ``apga launch --json`` (also ``summary.json``), of bounded size."""
        from algorithms.backends.distributed.runlog import MAX_EVENTS

        assert self.log is not None
        last = self.log.last_record()
        events = self.log.read_events()
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
            "round_stats": round_stats(self.log.rounds, spec.n, spec.seed),
            "final": {
                "J": last.J,
                "grad_norm": last.grad_norm,
                "train_return": self.last_train_return,
                "gradients_evaluated": last.gradients_evaluated,
                "gradients_simulated": last.gradients_simulated,
                "communications": last.communications,
            },
            "hyper": self.values,
            "hyper_source": self.sources,
            "device": device or {"device": "cpu", "backend": "gloo",
                                 "reason": "server mode: point-to-point messages over gloo"},
            "events": events[:MAX_EVENTS],
            "events_total": len(events),
            "records": self.log.csv.name,
            "rounds_file": self.log.rounds.name,
            "policy": policy,
            "spec": spec.to_json(),
        }


def _evaluator(oracle: Any, spec: RunSpec):
    """theta, iteration -> mean return of ``spec.eval_episodes`` episodes (seeded by the
    iteration, so an evaluation is reproducible). It runs on the writer thread with an
    oracle of its own: MuJoCo environments must not be stepped by two threads."""
    own: list[Any] = []

    def evaluate(theta: np.ndarray, iteration: int) -> float:
        if not own:
            from algorithms.backends.distributed.problem import build_oracle

            own.append(build_oracle(spec)[0])
        rng = np.random.default_rng([spec.seed, 0xE7A1, iteration])
        return own[0].average_return(theta, spec.eval_episodes, rng)

    return evaluate


def run_allreduce(spec: RunSpec, run_dir: Path, rank: int, store: Any,
                  device: dict[str, Any], lifecycle: Any = None) -> None:
    """One rank of an AllReduce-mode run (every rank an agent)."""
    import torch.distributed as dist

    from algorithms.backends.distributed.allreduce import AllReduceClock, Janitor
    from algorithms.backends.distributed.emulate import Emulation
    from algorithms.backends.distributed.problem import build_oracle
    from algorithms.backends.distributed.signals import StopWatcher, clone

    restart = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    oracle, theta0 = build_oracle(spec)
    watcher = StopWatcher(clone(store))
    emu = Emulation.of(spec)
    writer = rank == 0
    log = RunLog(run_dir, spec.method, spec.seed) if writer else None
    ckpt = RunCheckpoint(run_dir, spec) if writer else None
    blob = ckpt.load() if writer else None
    box = [None if blob is None else {k: blob[k] for k in ("backend", "iteration", "state",
                                                            "totals")}]
    dist.broadcast_object_list(box, src=0)
    shared = box[0]
    keeper = Keeper(run_dir, spec.n, oracle.dim, blob) if spec.save_gradients and writer \
        else None
    offset = float(shared["backend"]["now"]) if shared else 0.0
    janitor = Janitor(clone(store)) if writer else None
    clock = AllReduceClock(agent=rank, n=spec.n, oracle=oracle, store=store, watcher=watcher,
                           emulation=emu, seed=spec.seed, started=time.monotonic(),
                           offset=offset, keep=keeper, timeout=spec.timeout, janitor=janitor)
    clock.device = device["device"]

    def extra() -> dict[str, Any]:
        return {"backend": clock.state_dict(),
                "gradients_bytes": keeper.size() if keeper is not None else 0}

    driver = Driver(spec, oracle, clock, log, checkpoint=ckpt, extra=extra,
                    store_keys=(lambda: janitor.keys()) if janitor is not None else None)
    if lifecycle is not None and writer:
        lifecycle.on_stop(driver.stop)
    if shared:
        clock.load_state_dict(shared["backend"])
        driver.resume(shared["state"], shared["iteration"], shared["totals"],
                      blob if writer else shared, attempt=restart)
    else:
        driver.init(theta0)
    while driver.more():
        driver.step()
    watcher.close()
    if writer:
        driver.finish(run_dir, oracle, device)
    dist.barrier()
