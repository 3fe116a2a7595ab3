"""The one outer loop: a method's ``init`` and ``step`` on a backend, every iteration recorded.

:class:`MethodLoop` is the loop itself, for any :class:`algorithms.backends.protocol.Backend`:
it builds the method from the registry, runs ``init`` (e.g. Algorithm 1 lines 2-3) and
one ``step`` per global iteration while the budget allows, folds each iteration's rounds
into the :class:`~algorithms.run.records.Totals` and refuses a non-finite theta. What to
do with each finished iteration (evaluate J, append a record, checkpoint, log rounds) is
the caller's: :func:`run_method` does it for simulated runs, the torch.distributed
backend (:mod:`algorithms.backends.distributed.loop`) for real ones.

Records, not prints (docs/architecture.md, idea 4): :func:`run_method` returns typed
:class:`IterationRecord`s that the CLI, the plots, the docs and the validation checks
all read. A simulated run is a pure function of its inputs: the clock owns the timing
Generator, ``rng`` drives the oracle, and a run that is checkpointed, interrupted and
resumed writes exactly the records of a run that never stopped.

Checkpoints (:mod:`algorithms.run.checkpoint`) hold the method state, the clock and the
Generator in one pickle, the records in an append-only file beside it, and the run's
identity (method, hyperparameters, theta_0, the clock's configuration and seed, the
oracle Generator's state at the start, plus what the caller adds: setting, seed). A
checkpoint resumes only the run it belongs to.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from algorithms.aggregation._common import MAX_ROUND_GRADIENTS
from algorithms.backends.simulated import SimulatedBackend
from algorithms.methods.base import Context, MethodSpec
from algorithms.run import checkpoint as ck
from algorithms.run.records import (
    Evaluate,
    IterationRecord,
    RunResult,
    Totals,
    exact_evaluator,
    make_record,
)
from theory import checks

__all__ = ["Evaluate", "Interrupted", "IterationRecord", "MethodLoop", "RunResult", "Step",
           "Totals", "exact_evaluator", "run_method"]

CHECKPOINT_VERSION = ck.FORMAT
#: Most computations a run may simulate (estimated up front from max_time and the
#: clock's fastest rates): each costs at least a sampled trajectory, so 10^8 is hours.
MAX_RUN_COMPUTATIONS = 10**8
_BATCHES = ("M", "M_init", "batch")
_STEPS = ("alpha", "alpha_g", "eta")


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`run_method`; the message says where the last checkpoint is."""


@dataclass(frozen=True)
class Step:
    """One finished global iteration, as :class:`MethodLoop` hands it to its caller.

    iteration:  global iteration t (0 = after ``init``)
    state:      the method's state after it (``state.theta`` is the iterate)
    totals:     a copy of the cumulative costs after it
    rounds:     the records its rounds appended to ``ctx.rounds``, in order
    now:        the backend's clock after it (``backend.now``)
    """

    iteration: int
    state: Any
    totals: Totals
    rounds: list
    now: float


class MethodLoop:
    """A method on a backend: ``init`` once, then ``step`` while :meth:`more` says so.

    ``spec`` is the registry entry and ``values`` its resolved hyperparameters
    (``spec.resolve``). The loop owns the method's state, the iteration counter and the
    totals; :meth:`resume` puts back those of a checkpoint.
    """

    def __init__(self, spec: MethodSpec, values: Mapping[str, float], oracle: Any,
                 backend: Any, rng: np.random.Generator) -> None:
        self.spec = spec
        self.values = dict(values)
        self.method = spec.build(self.values)
        self.oracle = oracle
        self.backend = backend
        self.rng = rng
        self.state: Any = None
        self.iteration = 0
        self.totals = Totals()

    def resume(self, state: Any, iteration: int, totals: Totals) -> None:
        """Continue from a saved state (a checkpoint of the same run)."""
        self.state, self.iteration, self.totals = state, int(iteration), totals

    def init(self, theta0: np.ndarray) -> Step:
        """The method's work before the loop (Algorithm 1 lines 2-3): iteration 0."""
        ctx = self._ctx()
        self.state = self.method.init(np.asarray(theta0, dtype=float), ctx)
        return self._finish(ctx)

    def step(self) -> Step:
        """One global iteration."""
        ctx = self._ctx()
        try:
            # theta overflowing is detected in _finish and reported naming the step size.
            with np.errstate(over="ignore", invalid="ignore"):
                self.state = self.method.step(self.state, ctx)
        except ValueError as exc:
            # An extrapolated point (NIGT's x_t) overflowed inside the step.
            if str(exc).startswith("theta must be finite"):
                raise _theta_error(self.iteration + 1, self.values) from None
            raise
        self.iteration += 1
        return self._finish(ctx)

    def more(self, max_time: float, max_iters: int | None) -> bool:
        """Whether the budget allows another iteration: the time every process agrees on
        (``backend.shared_now``) is below ``max_time`` and fewer than ``max_iters``
        iterations are done."""
        return self.backend.shared_now < max_time and (
            max_iters is None or self.iteration < max_iters)

    def _ctx(self) -> Context:
        return Context(oracle=self.oracle, backend=self.backend, rng=self.rng, hyper=self.values)

    def _finish(self, ctx: Context) -> Step:
        for r in ctx.rounds:
            self.totals.add(r)
        _check_theta(self.state, self.iteration, self.values)
        return Step(self.iteration, self.state, copy.copy(self.totals), list(ctx.rounds),
                    float(self.backend.now))


def run_method(
    spec: MethodSpec,
    oracle: Any,
    clock: Any,
    rng: np.random.Generator,
    theta0: np.ndarray,
    *,
    hyper: Mapping[str, float] | None = None,
    hyper_source: Mapping[str, str] | None = None,
    max_time: float = math.inf,
    max_iters: int | None = None,
    evaluate: Evaluate | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 50,
    progress: bool = False,
    meta: Mapping[str, Any] | None = None,
    identity: Mapping[str, Any] | None = None,
) -> RunResult:
    """Run ``spec``'s method on the simulated clock (a SimClock, or a SimulatedBackend
    around one) until the clock passes ``max_time`` or ``max_iters`` global iterations
    are done.

    With ``checkpoint`` set, the run state is written there every ``checkpoint_every``
    iterations and at the end; if the file already exists, the run resumes from it.
    The checkpoint records the run's identity (method, hyperparameters, theta_0, the
    clock's configuration, the Generator's starting state and ``identity``, e.g. the
    setting and seed); resuming with any of them different raises a ValueError naming
    what differs. ``evaluate(theta) -> (J, ||grad J||)`` runs after every iteration (it
    may return NaN to skip one) and defaults to the oracle's exact quantities when it
    has them. Work beyond :data:`MAX_RUN_COMPUTATIONS` simulated computations, or
    rounds of more than :data:`MAX_ROUND_GRADIENTS` gradients, is refused up front.
    """
    max_time, max_iters = _check_budget(max_time, max_iters)
    checkpoint_every = checks.count("checkpoint_every", checkpoint_every)
    values, source = spec.resolve(hyper, hyper_source)
    for name in _BATCHES:
        if name in values:
            checks.count(name, values[name], maximum=MAX_ROUND_GRADIENTS,
                         why="gradients of one round are sampled in one batch in memory")
    backend = clock if isinstance(clock, SimulatedBackend) else SimulatedBackend(clock)
    _check_work(backend.clock, max_time, max_iters)
    evaluate = evaluate if evaluate is not None else exact_evaluator(oracle)
    ckpt = Path(checkpoint) if checkpoint is not None else None
    ident = ck.identity(spec.name, values, theta0, backend.clock, rng, identity)

    if ckpt is not None and ck.exists(ckpt):
        saved = ck.load(ckpt, ident)
        backend, rng = SimulatedBackend(saved["clock"]), saved["rng"]
        loop = MethodLoop(spec, values, oracle, backend, rng)
        loop.resume(saved["state"], saved["iteration"], saved["totals"])
        records = saved["records"]
        writer = ck.Writer(ckpt, ident, len(records), saved["save_number"])
    else:
        loop = MethodLoop(spec, values, oracle, backend, rng)
        step = loop.init(theta0)
        records = [make_record(0, step.now, step.totals, step.state.theta, evaluate)]
        writer = ck.Writer(ckpt, ident, 0) if ckpt is not None else None

    def save() -> None:
        writer.save(loop.state, loop.backend.clock, loop.rng, records, loop.totals,
                    loop.iteration)

    bar = _Progress(progress, max_time, max_iters, spec.title)
    try:
        while loop.more(max_time, max_iters):
            step = loop.step()
            records.append(make_record(step.iteration, step.now, step.totals,
                                       step.state.theta, evaluate))
            bar.update(step.now, step.iteration)
            if writer is not None and step.iteration % checkpoint_every == 0:
                save()
        if writer is not None:
            save()
    except KeyboardInterrupt:
        raise Interrupted(_where(writer, ckpt)) from None
    finally:
        bar.close()
        if writer is not None:
            writer.close()
    return RunResult(spec.name, values, source, records, np.asarray(loop.state.theta),
                     dict(meta or {}))


def _check_budget(max_time: Any, max_iters: Any) -> tuple[float, int | None]:
    """max_time > 0 (inf only with max_iters) and max_iters an integer >= 0 or None."""
    if max_iters is not None:
        max_iters = checks.count("max_iters", max_iters, minimum=0)
    if isinstance(max_time, bool):
        raise ValueError(f"max_time must be a number > 0, got {max_time!r}")
    try:
        t = float(max_time)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"max_time must be a number > 0, got {max_time!r}") from None
    if not t > 0:
        raise ValueError(f"max_time must be > 0, got {max_time!r}")
    if max_iters is None and not math.isfinite(t):
        raise ValueError("max_time: give a finite simulated-time budget or max_iters")
    return t, max_iters


def _check_work(clock: Any, max_time: float, max_iters: int | None) -> None:
    """Refuse a budget that would simulate more than MAX_RUN_COMPUTATIONS computations.

    By time t the agents finish about t sum_i 1/h_i computations (fixed h_i; the mean
    rate with random timing), and every method needs at least one per iteration, so
    min(max_time sum_i 1/h_i, max_iters) estimates the work of a run from below; a run
    is refused only when even that is too much.
    """
    h = np.asarray(clock.h_at(), dtype=float)
    rate = float(np.sum(1.0 / h[np.isfinite(h)])) if np.isfinite(h).any() else 0.0
    # At least one computation per iteration: max_iters bounds the work from below too.
    work = min(max_time * rate, math.inf if max_iters is None else float(max_iters))
    if work > MAX_RUN_COMPUTATIONS:
        fastest = float(h[np.isfinite(h)].min())
        raise ValueError(
            f"max_time, h: {max_time:g} simulated seconds with h down to {fastest:.3g} hold "
            f"about {work:.3g} computations, more than the {MAX_RUN_COMPUTATIONS:.0e} a run "
            "may simulate; shorten the time, use larger h, or give a smaller max_iters")


def _check_theta(state: Any, it: int, values: Mapping[str, float]) -> None:
    """theta must stay finite: a step size like 1e308 overflows it within a few steps."""
    if not np.isfinite(np.asarray(state.theta)).all():
        raise _theta_error(it, values)


def _theta_error(it: int, values: Mapping[str, float]) -> ValueError:
    steps = {k: v for k, v in values.items() if k in _STEPS}
    name = max(steps, key=steps.get) if steps else "hyper"
    shown = f" = {steps[name]:g}" if steps else ""
    return ValueError(
        f"{name}: the parameters theta became non-finite at iteration {it} "
        f"({name}{shown} is too large a step); use a smaller {name}")


def _where(writer: Any, ckpt: Path | None) -> str:
    if ckpt is None:
        return "no checkpoint was written (checkpointing is off)"
    if writer is None or writer.saved_iteration is None:
        return (f"no checkpoint was written yet ({ckpt} is written every "
                "checkpoint_every iterations); the run must start again")
    return (f"checkpoint {ckpt} holds iteration {writer.saved_iteration}; "
            "run the same command again with --resume to continue from it")


class _Progress:
    """A rich progress bar over simulated time (or iterations), only on a terminal."""

    def __init__(self, enabled: bool, max_time: float, max_iters: int | None, title: str) -> None:
        self._bar = None
        if not enabled:
            return
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._by_time = math.isfinite(max_time)
        total = max_time if self._by_time else float(max_iters or 0)
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            transient=True,
        )
        self._task = self._bar.add_task(title, total=total, info="")
        self._bar.start()

    def update(self, now: float, it: int) -> None:
        if self._bar is not None:
            done = now if self._by_time else it
            self._bar.update(self._task, completed=done, info=f"t={now:.4g} iter={it}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
