"""Run one method on the simulated clock and record every global iteration.

Records, not prints (DESIGN.md, idea 4): :func:`run_method` returns typed
:class:`IterationRecord`s that the CLI, the plots, the docs and the validation checks
all read. A run is a pure function of its inputs: the clock owns the timing Generator,
``rng`` drives the oracle, and a run that is checkpointed, interrupted and resumed
writes exactly the records of a run that never stopped.

Checkpoints (:mod:`algorithms.checkpoint`) hold the method state, the clock and the
Generator in one pickle, the records in an append-only file beside it, and the run's
identity (method, hyperparameters, theta_0, the clock's configuration and seed, the
oracle Generator's state at the start, plus what the caller adds: setting, seed). A
checkpoint resumes only the run it belongs to.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from algorithms import checkpoint as ck
from algorithms.aggregation._common import MAX_ROUND_GRADIENTS
from algorithms.methods.base import Context, MethodSpec
from theory import checks

Evaluate = Callable[[np.ndarray], tuple[float, float]]

CHECKPOINT_VERSION = ck.FORMAT
#: Most computations a run may simulate (estimated up front from max_time and the
#: clock's fastest rates): each costs at least a sampled trajectory, so 10^8 is hours.
MAX_RUN_COMPUTATIONS = 10**8
_BATCHES = ("M", "M_init", "batch")
_STEPS = ("alpha", "alpha_g", "eta")


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`run_method`; the message says where the last checkpoint is."""


@dataclass(frozen=True)
class IterationRecord:
    """State of a run after one global iteration (cumulative counters).

    iteration:            global iteration t (0 = after the initialisation, e.g. Alg. 1 l. 2-3)
    time:                 simulated wall-clock time (seconds of the clock)
    gradients_evaluated:  stochastic gradients the oracle computed
    gradients_simulated:  computations the clock started (incl. cancelled / unused)
    communications:       vector communications (broadcasts not counted separately)
    communication_time:   simulated time spent communicating
    J:                    objective at theta_t (exact for tabular; NaN if not evaluated)
    grad_norm:            ||grad J(theta_t)|| (exact for tabular; NaN if not available)
    """

    iteration: int
    time: float
    gradients_evaluated: int
    gradients_simulated: int
    communications: int
    communication_time: float
    J: float
    grad_norm: float


@dataclass
class RunResult:
    """Everything a run produced."""

    method: str
    hyper: dict[str, float]
    hyper_source: dict[str, str]
    records: list[IterationRecord]
    theta: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Totals:
    evaluated: int = 0
    simulated: int = 0
    communications: int = 0
    communication_time: float = 0.0

    def add(self, record: Any) -> None:
        self.evaluated += int(record.evaluated)
        self.simulated += int(record.simulated)
        self.communications += int(record.n_communications)
        self.communication_time += float(record.communication_time)


def exact_evaluator(oracle: Any) -> Evaluate | None:
    """(J, ||grad J||) from an oracle with exact quantities, else None.

    Uses ``oracle.J_and_grad_J`` when it has one (one linear solve for both; it runs
    after every iteration), else ``J`` and ``grad_J``.
    """
    both = getattr(oracle, "J_and_grad_J", None)
    if both is not None:

        def evaluate(theta: np.ndarray) -> tuple[float, float]:
            J, g = both(theta)
            return float(J), float(np.linalg.norm(g))

        return evaluate
    if hasattr(oracle, "J") and hasattr(oracle, "grad_J"):
        return lambda theta: (float(oracle.J(theta)), float(np.linalg.norm(oracle.grad_J(theta))))
    return None


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
    """Run ``spec``'s method until the simulated clock passes ``max_time`` or
    ``max_iters`` global iterations are done.

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
    _check_work(clock, max_time, max_iters)
    evaluate = evaluate if evaluate is not None else exact_evaluator(oracle)
    method = spec.build(values)
    ckpt = Path(checkpoint) if checkpoint is not None else None
    ident = ck.identity(spec.name, values, theta0, clock, rng, identity)

    if ckpt is not None and ck.exists(ckpt):
        saved = ck.load(ckpt, ident)
        state, clock, rng = saved["state"], saved["clock"], saved["rng"]
        records, totals, it = saved["records"], saved["totals"], saved["iteration"]
        writer = ck.Writer(ckpt, ident, len(records), saved["save_number"])
    else:
        totals = _Totals()
        ctx = Context(oracle=oracle, clock=clock, rng=rng, hyper=values)
        state = method.init(np.asarray(theta0, dtype=float), ctx)
        for r in ctx.rounds:
            totals.add(r)
        _check_theta(state, 0, values)
        records = [_record(0, clock, totals, state, evaluate)]
        it = 0
        writer = ck.Writer(ckpt, ident, 0) if ckpt is not None else None

    bar = _Progress(progress, max_time, max_iters, spec.title)
    try:
        while _more(clock, it, max_time, max_iters):
            ctx = Context(oracle=oracle, clock=clock, rng=rng, hyper=values)
            try:
                # theta overflowing is detected below and reported naming the step size.
                with np.errstate(over="ignore", invalid="ignore"):
                    state = method.step(state, ctx)
            except ValueError as exc:
                # An extrapolated point (NIGT's x_t) overflowed inside the step.
                if str(exc).startswith("theta must be finite"):
                    raise _theta_error(it + 1, values) from None
                raise
            it += 1
            for r in ctx.rounds:
                totals.add(r)
            _check_theta(state, it, values)
            records.append(_record(it, clock, totals, state, evaluate))
            bar.update(clock.now, it)
            if writer is not None and it % checkpoint_every == 0:
                writer.save(state, clock, rng, records, totals, it)
        if writer is not None:
            writer.save(state, clock, rng, records, totals, it)
    except KeyboardInterrupt:
        raise Interrupted(_where(writer, ckpt)) from None
    finally:
        bar.close()
        if writer is not None:
            writer.close()
    return RunResult(spec.name, values, source, records, np.asarray(state.theta), dict(meta or {}))


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
    if not hasattr(clock, "h_at"):
        return
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


def _more(clock: Any, it: int, max_time: float, max_iters: int | None) -> bool:
    return clock.now < max_time and (max_iters is None or it < max_iters)


def _record(it, clock, totals, state, evaluate) -> IterationRecord:
    # ``evaluate`` may return NaN to skip an iteration (e.g. evaluation on a time grid);
    # theta near the float limit (a huge step size) may give NaN too, not a warning.
    with np.errstate(over="ignore", invalid="ignore"):
        J, g = evaluate(np.asarray(state.theta)) if evaluate is not None else (
            math.nan, math.nan)
    return IterationRecord(
        it,
        float(clock.now),
        totals.evaluated,
        totals.simulated,
        totals.communications,
        totals.communication_time,
        J,
        g,
    )


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
