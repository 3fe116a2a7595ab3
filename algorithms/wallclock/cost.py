"""The cost model: a method's round composed from the primitives ``apga calibrate`` measured.

A cost file (:func:`theory.cluster_file.read_cost`, written by ``apga calibrate`` beside
the cluster file) holds per-agent samples of the seconds a gradient costs inside real
rounds of each aggregation pattern, with their trajectory lengths, and the communication
primitives. :class:`CostModel` reads it; :func:`round_cost` composes one round of a
method from the primitives its aggregation pattern and mode use (the pattern and the
modes come from the method registry, :class:`algorithms.methods.base.MethodSpec`):

AllReduce mode (every agent holds theta; Algorithm 2/3 line 10: one all_reduce)

- ``synchronized`` (Synchronized NIGT): computation (every agent its ``batch`` gradients,
  the slowest decides) + one all_reduce;
- ``rennala`` / ``malenia`` (Rennala / Malenia NIGT): computation until the pattern's exit
  on the simulated clock + the ticket of the exiting gradient + the stop signal + one
  all_reduce.

Server mode (a server holds theta; every gradient is a message)

- ``rennala`` / ``malenia`` / ``synchronized``: the server's sends of theta (agent i holds
  it after the sends to agents 0..i) + computation, each gradient arriving one message
  later; the round ends at the pattern's exit;
- ``greedy`` (AFedPG): agent i cycles receive + compute + send; the long-run time between
  server updates on the clock's greedy scheduler.

Computation is the simulated clock (:mod:`algorithms.sim.clock`) with the ``empirical``
timing model: agent i's measured samples of that pattern, resampled (seeded), scaled to
the h_i of the iteration's trajectory length (below). The all_reduce is interpolated in
the number of floats and of agents from the measured table; the ticket and the stop
signal are their measured medians. Each pattern then has a **residual**: what its real
calibration rounds took on average beyond the composed round at the calibration's batch (the
registration backlog of Algorithm 3's arrivals, the in-flight gradient a stop waits for,
...), a measured per-round constant added to every round of that pattern, and the
**gap**: the mean time between two rounds of a real run (the method's update and the
run's bookkeeping).

Gradient cost that moves during training: a trajectory costs (time per environment step)
x (its length). Per agent, t = c0 + c1 L is fitted to the measured (seconds, length)
pairs (:func:`algorithms.wallclock.calibration.step_fit`), so at mean length L agent i's
gradient costs h_i(L) = c0_i + c1_i L. A run's prediction (:func:`predict_run`) is an
interval and a point: low = lengths as measured at theta_0, high = every trajectory at the
full horizon H, point = the pilot's trend (mean length per iteration: the pilot's
per-iteration means, smoothed by a centred moving mean, at the distance t x alpha each
iteration travelled, since NIGT's and AFedPG's steps have norm alpha, so another step size
moves along the same path at another speed; linear between, and the last value beyond the
pilot's distance, which the prediction states as the share of the run it covered; pooled
pilots: the mean of their curves) for the pilot's own method and for one that averages
as many gradients per step (Rennala and Malenia NIGT at the pilot's M),
else the measured lengths (another method's steps move theta elsewhere: Synchronized
NIGT's two-gradient steps wander where Rennala NIGT's twenty-gradient steps climb). Both
ends are widened by the machine's drift between a calibration and a run and by the spread
of the composed total. The drift is the larger of a stated allowance (:data:`DRIFT`) and
what the calibration measured: its rounds of the pattern, cut into :data:`BLOCKS`
consecutive blocks, have block means with relative spread c (the machine's speed from
block to block; or the spread of the means of its calibration windows, where larger); if
the run's blocks vary as those did, independently, the run's mean differs from the
calibration's by c sqrt(1/BLOCKS + b/D) (b: a block's seconds, D: the run's), and the
allowance is twice that (:meth:`CostModel.spread`,
:func:`drift_allowance`). A speed that drifts over minutes is not in it: checks calibrate
again after their runs (:mod:`algorithms.wallclock.load`).

Paper: Assumption 2.5 (h_i = dot h_i H, kappa), Algorithms 1-3 (round structure, line 10:
one AllReduce), Lemmas C.1/C.2 (round = broadcast + collection + one communication),
Theorem 4.3 (h_{t,i} that vary with t), Section 4.1 and H (AFedPG: every gradient sent).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from theory import checks

#: Relative drift of a machine's speed between a calibration and a run, added to both ends
#: of the interval: a stated allowance for a quiet machine, not a measurement (a loaded
#: one drifts more: docs/wallclock.md, "Predicted against measured: real speed").
DRIFT = 0.05
#: Consecutive blocks a pattern's calibration rounds are cut into to measure how the
#: machine's speed varies (:meth:`CostModel.spread`); fewer than 2 x BLOCKS rounds: not
#: measured.
BLOCKS = 5
#: Simulated rounds per evaluation of a round's mean (random, empirical durations).
ROUNDS = 200
#: Mean trajectory lengths at which the round is evaluated when lengths move (the round
#: is interpolated linearly between them).
LENGTH_GRID = 7
#: Patterns whose round ends when a count is reached (a ticket and a stop signal).
COUNTED = ("rennala", "malenia")
PATTERNS = ("rennala", "malenia", "synchronized", "greedy")


def _check_pilot_hyper(j: int, pilot: dict[str, Any]) -> None:
    """A pilot's method is a registered one and its ``hyper`` resolves (ValueError naming
    ``pilots[j]``): the trend reads its step size and batch from them."""
    from algorithms.methods.registry import get

    hyper = pilot.get("hyper")
    if hyper is not None and not isinstance(hyper, dict):
        raise ValueError(f"pilots[{j}].hyper: expected an object of hyperparameters")
    try:
        get(pilot["method"]).resolve(hyper or {})
    except ValueError as exc:
        raise ValueError(f"pilots[{j}]: {exc}") from None


def _arr(where: str, x, allow_empty: bool = False, zero: bool = False) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: expected numbers") from None
    if a.ndim != 1:
        raise ValueError(f"{where}: expected a list of numbers")
    if a.size == 0:
        if allow_empty:
            return a
        raise ValueError(f"{where}: empty")
    if not np.all(np.isfinite(a)) or np.any(a < 0) or (not zero and np.any(a == 0)):
        raise ValueError(f"{where}: every value must be finite and {'>= 0' if zero else '> 0'}")
    return a


def _per_agent(where: str, x, n: int, allow_empty: bool = False, zero: bool = False):
    if not isinstance(x, list) or len(x) != n:
        raise ValueError(f"{where}: expected one list per agent ({n})")
    return [_arr(f"{where}[{i}]", v, allow_empty, zero) for i, v in enumerate(x)]


@dataclass(frozen=True)
class PatternCost:
    """One pattern's in-round measurements: per-agent seconds per gradient and lengths,
    the real rounds (durations, exits, reduces, gaps) and the method and hyperparameters
    they ran with."""

    method: str
    hyper: dict[str, float]
    seconds: list[np.ndarray]
    lengths: list[np.ndarray]
    rounds: np.ndarray
    exits: np.ndarray
    gaps: np.ndarray
    passes: tuple[int, ...] = ()  # rounds after the first from each calibration window


@dataclass(frozen=True)
class CostModel:
    """The measured primitives of one cluster (see the module docstring)."""

    n: int
    mode: str
    dim: int
    horizon: int
    env: str
    pure: list[np.ndarray]
    pure_lengths: list[np.ndarray]
    fixed_seconds: np.ndarray
    step_seconds: np.ndarray
    patterns: dict[str, PatternCost]
    all_reduce: np.ndarray  # rows (agents, floats, seconds)
    ticket: dict[str, np.ndarray]  # pattern -> per agent: seconds of one registration
    stop: float
    send: np.ndarray  # per agent: one message's real seconds (half a round trip)
    kappa: np.ndarray  # emulated seconds per communication (zeros at real speed)
    pilots: tuple[dict[str, Any], ...] = ()
    buffer_per_agent: int = 4  # a round's all_reduce: d + this x n + 1 float64
    source: str | None = None
    measured: dict[str, Any] = field(default_factory=dict)
    cache: dict = field(default_factory=dict, compare=False, repr=False)

    # -- reading ---------------------------------------------------------------------
    @classmethod
    def from_file(cls, cluster_path: str | Path, name: str = "cluster") -> CostModel:
        """The cost model beside a cluster file (``my.csv`` -> ``my.cost.json``)."""
        from theory.cluster_file import cost_path, read_cost

        if not cost_path(cluster_path).exists():
            raise ValueError(f"{name}: {str(cluster_path)!r} has no cost file "
                             f"{str(cost_path(cluster_path))!r} beside it (apga calibrate "
                             "writes both)")
        data = read_cost(cost_path(cluster_path), name)
        try:
            return cls.from_dict(data)
        except ValueError as exc:
            raise ValueError(f"{name}: {str(cost_path(cluster_path))!r}: {exc}") from None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CostModel:
        """Check and read a cost file's content (one-line ValueErrors naming the key)."""
        n = checks.count("n", d.get("n"))
        mode = d.get("mode")
        checks.choice("mode", mode, ("allreduce", "server"))
        g = d.get("gradient")
        if not isinstance(g, dict):
            raise ValueError("gradient: missing")
        pure = _per_agent("gradient.pure_seconds", g.get("pure_seconds"), n)
        pure_L = _per_agent("gradient.pure_lengths", g.get("pure_lengths"), n)
        c0 = _arr("gradient.fixed_seconds", g.get("fixed_seconds"), zero=True)
        c1 = _arr("gradient.step_seconds", g.get("step_seconds"))
        if c0.size != n or c1.size != n:
            raise ValueError(f"gradient.step_seconds: expected {n} values")
        patterns = {}
        for p, e in (d.get("patterns") or {}).items():
            if p not in PATTERNS:
                raise ValueError(f"patterns: unknown pattern {p!r}")
            where = f"patterns.{p}"
            secs = _per_agent(f"{where}.seconds", e.get("seconds"), n, allow_empty=True)
            lens = _per_agent(f"{where}.lengths", e.get("lengths"), n, allow_empty=True)
            rounds = _arr(f"{where}.rounds", e.get("rounds", []), allow_empty=True)
            passes = e.get("passes") or []
            if (not isinstance(passes, list)
                    or not all(isinstance(k, int) and k >= 0 for k in passes)
                    or (passes and sum(passes) != max(rounds.size - 1, 0))):
                raise ValueError(f"{where}.passes: counts of rounds that sum to the rounds "
                                 "after the first")
            patterns[p] = PatternCost(
                str(e.get("method")), dict(e.get("hyper") or {}), secs, lens, rounds,
                _arr(f"{where}.exits", e.get("exits", []), allow_empty=True, zero=True),
                _arr(f"{where}.gaps", e.get("gaps", []), allow_empty=True, zero=True),
                tuple(passes))
        rows = []
        for j, p in enumerate(d.get("all_reduce") or []):
            try:
                rows.append((int(p["agents"]), int(p["floats"]), float(p["seconds"])))
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"all_reduce[{j}]: needs agents, floats, seconds") from None
        table = np.array(rows, dtype=float).reshape(-1, 3)
        if table.size and (not np.all(np.isfinite(table)) or np.any(table[:, 2] < 0)):
            raise ValueError("all_reduce: seconds must be finite and >= 0")
        ticket = {}
        for p, e in (d.get("ticket") or {}).items():
            if p not in COUNTED or not isinstance(e, dict):
                raise ValueError(f"ticket: unknown pattern {p!r}")
            t = _per_agent(f"ticket.{p}.seconds", e.get("seconds"), n, allow_empty=True)
            ticket[p] = np.array([float(np.median(x)) if x.size else 0.0 for x in t])
        stop = 0.0
        if d.get("stop"):
            lat = _per_agent("stop.seconds", d["stop"].get("seconds"), n, allow_empty=True,
                             zero=True)
            others = [x for x in lat if x.size]
            if others:
                k = min(x.size for x in others)
                stop = float(np.median(np.max([x[:k] for x in others], axis=0)))
        msg = d.get("messages") or {}
        trips = _per_agent("messages.round_trip", msg.get("round_trip", [[]] * n), n,
                           allow_empty=True)
        emulated = d.get("emulated") or {}
        kappa = np.zeros(n) if emulated.get("kappa") is None else _arr(
            "emulated.kappa", emulated["kappa"], zero=True)
        if kappa.size != n:
            raise ValueError(f"emulated.kappa: expected {n} values")
        known = [float(np.median(t)) for t in trips if t.size]
        fallback = float(np.median(known)) if known else 0.0
        send = np.array([max((float(np.median(t)) if t.size else fallback) - 2 * kappa[i],
                             0.0) / 2 for i, t in enumerate(trips)])
        pilots = d.get("pilots") or []
        if not isinstance(pilots, list):
            raise ValueError("pilots: expected a list")
        for j, pilot in enumerate(pilots):
            if not isinstance(pilot, dict) or not isinstance(pilot.get("method"), str):
                raise ValueError(f"pilots[{j}]: needs method and lengths")
            L = _arr(f"pilots[{j}].lengths", pilot.get("lengths"))
            its = pilot.get("length_iterations")
            if its is not None:
                it = _arr(f"pilots[{j}].length_iterations", its, zero=True)
                if it.size != L.size or np.any(np.diff(it) <= 0) or np.any(it != np.floor(it)):
                    raise ValueError(f"pilots[{j}].length_iterations: one increasing "
                                     "integer iteration per entry of lengths")
            _check_pilot_hyper(j, pilot)
        return cls(n, mode, int(d.get("dim", 1)), int(d.get("horizon", 1)),
                   str(d.get("env", "")), pure, pure_L, c0, c1, patterns, table, ticket,
                   stop, send, kappa, tuple(pilots),
                   checks.count("round_buffer_per_agent", d.get("round_buffer_per_agent", 4)),
                   d.get("source"), dict(d.get("measured") or {}))

    # -- primitives ------------------------------------------------------------------
    def all_reduce_seconds(self, floats: int, agents: int) -> float:
        """Seconds of one all_reduce of ``floats`` float64 among ``agents`` agents.

        Linear in the number of floats between the measured sizes (beyond them, the last
        two points' slope; at least the smallest measurement), then linear in the number
        of agents between the measured groups (1 agent: nothing to reduce beyond the
        emulated upload; more agents than measured: the largest group's time scaled by
        (m - 1)/(m_max - 1), a ring's number of steps).
        """
        if agents <= 1 or not self.all_reduce.size:
            return float(self.kappa.max()) if agents <= 1 else 0.0
        groups = np.unique(self.all_reduce[:, 0])

        def at(m: float) -> float:
            rows = self.all_reduce[self.all_reduce[:, 0] == m]
            rows = rows[np.argsort(rows[:, 1])]
            x, y = rows[:, 1], rows[:, 2]
            if x.size == 1:
                return float(y[0])
            if floats >= x[-1]:
                slope = (y[-1] - y[-2]) / (x[-1] - x[-2])
                return float(y[-1] + max(slope, 0.0) * (floats - x[-1]))
            return float(max(np.interp(floats, x, y), y.min()))

        if agents in groups:
            return at(agents)
        if agents > groups.max():
            return at(groups.max()) * (agents - 1) / max(groups.max() - 1, 1)
        lo = groups[groups < agents].max() if (groups < agents).any() else 1.0
        hi = groups[groups > agents].min()
        y_lo = at(lo) if lo > 1 else float(self.kappa.max())
        return float(y_lo + (at(hi) - y_lo) * (agents - lo) / (hi - lo))

    def round_all_reduce(self, agents: int) -> float:
        """The all_reduce of a round's buffer among ``agents`` agents: d + k m + 1 float64
        (the vector, k statistics per agent, rank 0's clock)."""
        return self.all_reduce_seconds(self.dim + self.buffer_per_agent * agents + 1, agents)

    def samples(self, pattern: str) -> tuple[list[np.ndarray], list[np.ndarray], str]:
        """(per-agent seconds per gradient, lengths, source) for a pattern: its own rounds
        if measured for every agent, else the rounds of the synchronized pattern (no
        tickets), else the gradients measured alone."""
        for p in (pattern, "synchronized"):
            pc = self.patterns.get(p)
            if pc is not None and all(s.size for s in pc.seconds):
                return pc.seconds, pc.lengths, f"{p} rounds"
        return self.pure, self.pure_lengths, "gradients alone"

    def h_scale(self, lengths: list[np.ndarray], L: float | None = None,
                factor: float | None = None) -> np.ndarray:
        """Per agent h_i at other lengths over h_i as measured (mean length Lbar_i):
        (c0 + c1 L) / (c0 + c1 Lbar_i) when every trajectory has L steps, or
        (c0 + c1 f Lbar_i) / (c0 + c1 Lbar_i) when the lengths grow by the factor f."""
        if L is None and factor is None:
            return np.ones(self.n)
        Lbar = np.array([float(x.mean()) if x.size else float(self.horizon)
                         for x in lengths])
        new = np.full(self.n, float(L)) if L is not None else Lbar * float(factor)
        return (self.fixed_seconds + self.step_seconds * new) / (
            self.fixed_seconds + self.step_seconds * Lbar)

    def measured_length(self, pattern: str) -> float:
        """Mean trajectory length of the pattern's measured gradients (all agents)."""
        _, lengths, _ = self.samples(pattern)
        every = np.concatenate([x for x in lengths if x.size] or [np.array([self.horizon])])
        return float(every.mean())

    def spread(self, pattern: str) -> tuple[float, float] | None:
        """(c, b) for the pattern's calibration rounds (the first left out) cut into
        :data:`BLOCKS` consecutive blocks: c = standard deviation (ddof 1) of the block
        means over their mean, b = seconds per block; None with fewer than 2 x BLOCKS
        rounds. Where the rounds came from several windows (``passes``, each with at
        least 2 rounds), c is the larger of that and the same spread of the windows'
        means (the drift over the calibration, between windows minutes or seconds
        apart)."""
        pc = self.patterns.get(pattern)
        if pc is None or pc.rounds.size - 1 < 2 * BLOCKS:
            return None
        x = pc.rounds[1:]
        blocks = np.array_split(x, BLOCKS)
        means = np.array([float(b.mean()) for b in blocks])
        c = float(means.std(ddof=1) / means.mean())
        if len(pc.passes) >= 2 and min(pc.passes) >= 2:
            windows = np.split(x, np.cumsum(pc.passes)[:-1])
            w = np.array([float(v.mean()) for v in windows])
            c = max(c, float(w.std(ddof=1) / w.mean()))
        return c, float(x.sum() / BLOCKS)

    def gap(self, pattern: str) -> float:
        """Mean seconds between two rounds of the pattern's real run (0 if unmeasured; the
        mean, not the median: a run's total is a sum, hiccups included)."""
        pc = self.patterns.get(pattern)
        return float(np.mean(pc.gaps)) if pc is not None and pc.gaps.size else 0.0

    def primitives(self) -> dict[str, Any]:
        """A JSON summary of the primitives (medians, seconds)."""
        n = self.n
        return {
            "mode": self.mode, "n": n, "dim": self.dim, "horizon": self.horizon,
            "gradient_alone": [float(np.mean(x)) for x in self.pure],
            "gradient_in_rounds": {p: [float(np.mean(x)) if x.size else None
                                       for x in pc.seconds]
                                   for p, pc in self.patterns.items()},
            "seconds_per_step": self.step_seconds.tolist(),
            "fixed_seconds": self.fixed_seconds.tolist(),
            "all_reduce_round_buffer": self.round_all_reduce(n),
            "ticket": {p: t.tolist() for p, t in self.ticket.items()}, "stop": self.stop,
            "message": self.send.tolist(),
            "gaps": {p: self.gap(p) for p in self.patterns},
        }


class RoundCost(NamedTuple):
    """One round of a method, composed (seconds): ``mean`` = computation + communication
    terms + residual; ``terms`` names each term; ``std``: of the simulated rounds."""

    method: str
    pattern: str
    mode: str
    mean: float
    std: float
    gap: float
    terms: dict[str, float]
    gradients: int
    source: str


def method_pattern(method: str) -> tuple[str, tuple[str, ...]]:
    """(aggregation pattern, modes) of a registry method."""
    from algorithms.methods.registry import get

    spec = get(method)
    return spec.pattern, spec.modes


def _clock(h: np.ndarray, kappa: np.ndarray, samples: list[np.ndarray], seed: int):
    from algorithms.sim.clock import make_clock

    return make_clock(h, kappa, timing="empirical", samples=samples, seed=seed)


def _collect(clock, pattern: str, M: int, batch: int, tau: np.ndarray | None = None) -> float:
    """Seconds from a round's start to its exit on the clock (computation part).

    Counted patterns with registration times ``tau`` (AllReduce mode): agent i's clerk
    registers its gradients one after another, the k-th done at
    r_k = max(f_k, r_{k-1}) + tau_i (f_k its finish on the clock); the exit rule (M
    registrations; Algorithm 3's test) runs in registration order.
    """
    from algorithms.aggregation import plan_malenia, plan_rennala
    from algorithms.aggregation.synchronized import synchronous_timeline

    start = clock.now
    if pattern in COUNTED and tau is not None:
        return _collect_registered(clock, pattern, M, tau)
    if pattern == "rennala":
        rec = plan_rennala(clock, M)
        return rec.t_exit - start
    if pattern == "malenia":
        rec = plan_malenia(clock, M)
        return rec.t_exit - start
    _s, finish, _b = synchronous_timeline(clock, batch, "synchronized")
    t_exit = float(finish.max())
    clock.now = t_exit
    clock.iteration += 1
    return t_exit - start


def _registered(a: np.ndarray, t: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """Registration times of finishes ``t`` of agents ``a`` (sorted by agent, then time):
    r_k = max(f_k, r_{k-1}) + tau per agent, i.e. r_k = (k+1) tau + max_{j<=k}(f_j - j tau)
    within each agent's run of finishes."""
    r = np.empty_like(t)
    for i in np.unique(a):
        idx = np.flatnonzero(a == i)
        f = t[idx]
        j = np.arange(f.size)
        r[idx] = (j + 1) * tau[i] + np.maximum.accumulate(f - j * tau[i])
    return r


def _collect_registered(clock, pattern: str, M: int, tau: np.ndarray) -> float:
    from algorithms.aggregation import _common as cm
    from algorithms.aggregation.malenia import malenia_should_stop

    start, h, key, s = cm.open_round(clock)
    n = clock.n
    T = float(np.max(s)) + (M + n) * float(np.max(h)) + M * float(np.max(tau)) + 1e-9
    for _ in range(60):
        a, _k, t = clock.arrivals(key, h, s, T)
        r = _registered(a, t, tau)
        order = np.argsort(r, kind="stable")
        ra, rr = a[order], r[order]
        exit_at = None
        if pattern == "rennala":
            if rr.size >= M:
                exit_at = float(rr[M - 1])
        else:
            counts = np.zeros(n, dtype=np.int64)
            for j in range(rr.size):
                counts[ra[j]] += 1
                if counts.min() > 0 and malenia_should_stop(counts, M):
                    exit_at = float(rr[j])
                    break
        # every registration before the exit must be final: finishes after T register later
        if exit_at is not None and exit_at <= T:
            clock.now = exit_at
            clock.iteration += 1
            return exit_at - start
        T = start + 2.0 * (T - start)
    raise RuntimeError("the registration queue did not reach the round's exit")


def _composed(model: CostModel, pattern: str, mode: str, M: int, batch: int, L: float | None,
              seed: int, rounds: int, agents: np.ndarray, factor: float | None = None
              ) -> tuple[float, float, dict]:
    """(mean, std, terms) of the composed round without the residual, for ``agents``."""
    samples, lengths, _ = model.samples(pattern)
    scale = model.h_scale(lengths, L, factor)
    h = np.array([float(samples[i].mean()) * scale[i] for i in agents])
    smp = [samples[i] for i in agents]
    m = agents.size
    if pattern == "greedy":
        return _greedy(model, h, smp, agents, seed, rounds)
    if mode == "allreduce":
        recv = model.kappa[agents]
        clock = _clock(h, recv, smp, seed)
        tau = model.ticket.get(pattern)
        tau = None if tau is None else tau[agents]
        d = np.array([_collect(clock, pattern, M, batch, tau) for _ in range(rounds)])
        terms = {"computation": float(d.mean()), "all_reduce": model.round_all_reduce(m)}
        if pattern in COUNTED:
            terms["stop"] = model.stop if m > 1 else 0.0
        extra = sum(v for k, v in terms.items() if k != "computation")
        return float(d.mean()) + extra, float(d.std()), terms
    # server: agent i holds theta after the sends to agents before it (sorted order),
    # then waits its emulated receive; each gradient arrives one message later
    send = model.send[agents]
    offset = np.cumsum(send) + model.kappa[agents] + send
    clock = _clock(h, offset, smp, seed)
    d = np.array([_collect(clock, pattern, M, batch) for _ in range(rounds)])
    terms = {"computation": float(d.mean() - offset.mean()),
             "messages": float(offset.mean())}
    return float(d.mean()), float(d.std()), terms


def _greedy(model: CostModel, h, smp, agents, seed: int, rounds: int):
    """AFedPG: the mean gap between server updates on the greedy scheduler, agent i's cycle
    receive (message + emulated receive) + compute (its samples; they include the
    emulated upload) + send (message)."""
    from algorithms.aggregation import AsyncGreedy
    from algorithms.wallclock import _PlanOnlyOracle

    m = agents.size
    comm = (2 * model.send[agents] + model.kappa[agents]) / 2  # the clock charges it twice
    clock = _clock(h, comm, smp, seed)
    sched = AsyncGreedy(_PlanOnlyOracle(), clock, np.random.default_rng(0))
    sched.start(np.zeros(0))
    updates = m * (max(rounds, 20) + 1)
    t = np.empty(updates)
    for u in range(updates):
        agent, _g, _theta, rec = sched.step()
        t[u] = rec.arrival
        sched.send(agent, np.zeros(0))
    gaps = np.diff(t[m - 1:])
    mean = float(gaps.mean())
    return mean, float(gaps.std()), {"computation and messages": mean}


def residual(model: CostModel, pattern: str, mode: str, seed: int = 0,
             rounds: int = ROUNDS) -> float:
    """What the pattern's real calibration rounds took beyond the composed round at their
    own batch (mean measured round, the first left out, - mean composed round; 0 when not
    measured). Means: a run's total is a sum of rounds, its slow ones included."""
    pc = model.patterns.get(pattern)
    if pc is None or not pc.rounds.size or mode != model.mode:
        return 0.0
    key = ("residual", pattern, mode, seed, rounds)
    if key in model.cache:
        return model.cache[key]
    M = int(pc.hyper.get("M", 1))
    batch = int(pc.hyper.get("batch", 1))
    measured = pc.rounds[1:] if pc.rounds.size > 1 else pc.rounds
    composed, _, _ = _composed(model, pattern, mode, M, batch, None, seed, rounds,
                               np.arange(model.n))
    model.cache[key] = float(np.mean(measured)) - composed
    return model.cache[key]


def _calibration_batch(pc: PatternCost, pattern: str) -> tuple[str, int]:
    """(name, value) of the batch the pattern's calibration rounds aggregated: ``b`` per
    agent (Synchronized NIGT) or ``M`` (Rennala, Malenia NIGT)."""
    if pattern == "synchronized":
        return "b", int(pc.hyper.get("batch", 1) or 1)
    return "M", int(pc.hyper.get("M", 1) or 1)


def residual_ratio(model: CostModel, pattern: str, M: int, batch: int) -> float:
    """Gradients per round of a round at (M, batch) over those of the pattern's calibration
    rounds: M / M_cal (Rennala, Malenia NIGT), batch / batch_cal (Synchronized NIGT), 1
    (AFedPG, or the pattern not measured)."""
    pc = model.patterns.get(pattern)
    if pc is None or pattern == "greedy":
        return 1.0
    _, cal = _calibration_batch(pc, pattern)
    return float(batch if pattern == "synchronized" else M) / cal


def round_cost(model: CostModel, method: str, *, M: int = 1, batch: int = 1,
               mode: str | None = None, length: float | None = None,
               factor: float | None = None, seed: int = 0, rounds: int = ROUNDS,
               agents=None, residual_per: str = "round") -> RoundCost:
    """One round of ``method`` composed from the model's primitives (module docstring).

    ``mode``: allreduce or server (default: the model's when the method runs there, else
    the method's own); ``length``: every trajectory that long, or ``factor``: every
    agent's trajectories that much longer than measured (neither: as measured);
    ``agents``: indices of the agents used (default all); ``residual_per``: ``round`` (the
    residual as measured, once per round) or ``gradient`` (scaled by
    :func:`residual_ratio`: the calibration's residual was spread over its gradients).
    """
    pattern, modes = method_pattern(method)
    real = [m for m in modes if m != "simulated"]
    if not real:
        raise ValueError(f"method: {method} does not run on real processes")
    if mode is None:
        mode = model.mode if model.mode in real else real[0]
    elif mode not in real:
        raise ValueError(f"mode: {method} runs in {' or '.join(real)} mode, not {mode}")
    idx = np.arange(model.n) if agents is None else np.asarray(agents, dtype=np.int64)
    mean, std, terms = _composed(model, pattern, mode, checks.count("M", M),
                                 checks.count("batch", batch), length, seed, rounds, idx,
                                 factor)
    res = residual(model, pattern, mode, seed, rounds)
    if residual_per == "gradient":
        res *= residual_ratio(model, pattern, M, batch)
    elif residual_per != "round":
        raise ValueError(f"residual_per: round or gradient, not {residual_per!r}")
    terms["residual"] = res
    from algorithms.methods.registry import get

    gradients = get(method).gradients_per_round(M, idx.size, batch)
    _, _, source = model.samples(pattern)
    return RoundCost(method, pattern, mode, max(mean + res, 0.0), std, model.gap(pattern),
                     terms, gradients, source)


# ----------------------------------------------------------------------------- runs
class RunPrediction(NamedTuple):
    """Predicted seconds of a run: the point and the interval, and how they were formed."""

    method: str
    mode: str
    iterations: int
    round_seconds: float
    round_seconds_std: float
    gap_seconds: float
    init_seconds: float
    total_seconds: float
    total_seconds_low: float
    total_seconds_high: float
    point_source: str
    terms: dict[str, float]
    lengths: dict[str, float]
    gradients: int
    source: str

    drift: float = DRIFT
    drift_source: str = "stated allowance"
    residual_source: str = "not measured"
    residual_other_batch: bool = False  # the run's M (b) differs from the calibration's

    def to_json(self) -> dict[str, Any]:
        out = self._asdict()
        out.pop("method")
        return out


def drift_allowance(spread: tuple[float, float] | None, seconds: float) -> tuple[float, str]:
    """(relative allowance, how it was formed) for a run of ``seconds``: max(DRIFT,
    2 c sqrt(1/BLOCKS + b/D)) with (c, b) = :meth:`CostModel.spread` and D = max(seconds,
    b) (module docstring); DRIFT when the spread was not measured."""
    if spread is None:
        return DRIFT, "stated allowance"
    c, b = spread
    measured = 2.0 * c * math.sqrt(1.0 / BLOCKS + b / max(float(seconds), b, 1e-12))
    if measured <= DRIFT:
        return DRIFT, (f"stated allowance (the calibration's block means varied by "
                       f"{100 * c:.1f}%: {100 * measured:.1f}% measured)")
    return measured, (f"measured: the calibration's block means varied by {100 * c:.1f}%")


#: Iterations summed one by one while the pilot's trend still moves (beyond: the sum of
#: the saturated part is exact, the moving part a trapezoid on this many points).
EXPLICIT_ITERATIONS = 200_000


#: A pilot's curve is smoothed by a centred moving mean of half-width (iterations //
#: SMOOTHING): a window of about a fifth of the pilot (shrinking to the point itself at the
#: first iteration, one-sided at the last).
SMOOTHING = 10


class Trend(NamedTuple):
    """Mean trajectory length of iteration t: the pilot's smoothed curve ``y`` at the
    distance t alpha (``x``: the pilot's iterations x its own step size; linear between
    them), and its last value beyond the pilot's distance ``x[-1]``."""

    x: np.ndarray
    y: np.ndarray
    alpha: float
    #: the distance every pooled pilot covered (the shortest reach; None: ``x[-1]``)
    covered: float | None = None

    @property
    def reach(self) -> float:
        """The distance the pilot travelled (t alpha beyond it: flat)."""
        return float(self.x[-1])

    def at(self, t) -> np.ndarray:
        d = np.asarray(t, dtype=float) * self.alpha
        return np.interp(d, self.x, self.y)

    def moving_until(self, K: int) -> int:
        """The last iteration <= K at which the length still moves (then it is flat)."""
        if self.reach <= 0 or self.alpha <= 0 or np.all(self.y == self.y[0]):
            return 0
        return int(math.ceil(min(self.reach / self.alpha, K)))

    def span(self, K: int) -> tuple[float, float]:
        """(least, largest) mean length over iterations 0..K."""
        d = float(K) * self.alpha
        inside = self.y[self.x <= d]
        vals = np.concatenate([inside, self.at([0, K])])
        return float(vals.min()), float(vals.max())

    def share(self, K: int) -> float:
        """The share of a K-iteration run's distance every pilot covered (1: all of it)."""
        d = float(K) * self.alpha
        known = self.reach if self.covered is None else self.covered
        return 1.0 if d <= known else known / d


def smoothed(y: np.ndarray) -> np.ndarray:
    """The centred moving mean of ``y`` with half-width h = len(y) // SMOOTHING: at i the
    mean of y[i - w .. i + w] with w = min(i, h), so the window narrows towards the first
    point, which stays itself (theta_0's lengths, measured on M_init trajectories), and is
    cut at the end (the last value, which the run keeps beyond the pilot, is the mean of
    the last h + 1)."""
    y = np.asarray(y, dtype=float)
    h = y.size // SMOOTHING
    if h == 0:
        return y.copy()
    c = np.concatenate([[0.0], np.cumsum(y)])
    i = np.arange(y.size)
    lo = i - np.minimum(i, h)
    hi = np.minimum(y.size, i + np.minimum(i, h) + 1)
    return (c[hi] - c[lo]) / (hi - lo)


def pilot_lengths(pilot: dict[str, Any] | None, model: CostModel, alpha: float
                  ) -> Trend | None:
    """A pilot's trend (None without one): its per-iteration mean lengths, smoothed
    (:func:`smoothed`), at the distances its iterations travelled (i x alpha_pilot), and
    its last smoothed value beyond (the length where the policy was last seen: extrapolating
    a line beyond the pilot ran away on noisy pilots). A run at step size alpha covers the
    same distance in i alpha_pilot / alpha iterations; lengths stay within [1, H]."""
    if not pilot or not pilot.get("lengths"):
        return None
    from algorithms.methods.registry import get

    y = np.asarray(pilot["lengths"], dtype=float)
    # the step size the pilot ran at: its own, else its method's default (calibrate keeps
    # only the flags it was given); a method without one moves at the run's
    values, _ = get(str(pilot.get("method"))).resolve(pilot.get("hyper") or {})
    a_p = float(values.get("alpha") or alpha)
    its = pilot.get("length_iterations")
    t = np.arange(y.size) if its is None else np.asarray(its, dtype=float)
    H = float(model.horizon)
    return Trend(t * a_p, np.clip(smoothed(y), 1.0, H), float(alpha))


def _sum_over(cost, K: int, moving: int) -> float:
    """sum_{t=1..K} cost(t), where cost is constant from iteration ``moving`` on: exact up
    to EXPLICIT_ITERATIONS moving iterations, a trapezoid beyond."""
    if K <= 0:
        return 0.0
    m = min(moving, K)
    if m <= EXPLICIT_ITERATIONS:
        head = float(cost(np.arange(1, m + 1)).sum()) if m >= 1 else 0.0
    else:
        t = np.linspace(1, m, EXPLICIT_ITERATIONS)
        c = cost(t)
        head = float(np.sum((c[1:] + c[:-1]) / 2 * np.diff(t))) + float(c[0])
    return head + (K - m) * float(cost(np.array([max(m, 1)]))[0])


def _total(model: CostModel, method: str, K: int, M: int, M_init: int, batch: int,
           trend: Trend | None, L_const: float | None, mode, seed, rounds,
           agents, residual_per: str = "round") -> tuple[float, RoundCost, float, float]:
    """(total, a representative round, init seconds, std) with every trajectory L_const
    long (None: as measured) or, per iteration t = 0..K, the trend's mean length."""
    pattern, _ = method_pattern(method)
    kw = {"batch": batch, "mode": mode, "rounds": rounds, "agents": agents,
          "residual_per": residual_per}
    if trend is None:
        r = round_cost(model, method, M=M, length=L_const, seed=seed, **kw)
        if pattern == "greedy":
            return K * r.mean, r, 0.0, math.sqrt(K) * r.std
        first = (round_cost(model, method, M=M_init, length=L_const, seed=seed + 1, **kw)
                 if pattern in COUNTED else r)
        init = first.mean + first.gap
        return init + K * (r.mean + r.gap), r, init, math.sqrt(K + 1) * r.std
    L0 = model.measured_length(pattern)
    least, most = trend.span(K)
    grid = np.unique(np.linspace(least / L0, most / L0, LENGTH_GRID))
    costs = [round_cost(model, method, M=M, factor=float(f), seed=seed, **kw) for f in grid]
    means = np.array([c.mean + (0.0 if pattern == "greedy" else c.gap) for c in costs])

    def cost(t):
        f = trend.at(t) / L0
        return np.interp(f, grid, means) if grid.size > 1 else np.full(np.shape(f), means[0])

    total = _sum_over(cost, K, trend.moving_until(K))
    r = costs[int(np.argmin(np.abs(grid - trend.at([min(1, K)])[0] / L0)))]
    if pattern == "greedy":
        return total, r, 0.0, math.sqrt(K) * r.std
    init = float(cost(np.array([0]))[0])
    if pattern in COUNTED:
        first = round_cost(model, method, M=M_init, factor=float(trend.at([0])[0] / L0),
                           seed=seed + 1, **kw)
        init = first.mean + first.gap
    return init + total, r, init, math.sqrt(K + 1) * r.std


def pilots_for(model: CostModel, method: str, M: int, batch: int = 1
               ) -> list[dict[str, Any]]:
    """The pilots whose trend applies to ``method``: those of methods that take steps of as
    many gradients: the same method at the same M (Synchronized NIGT: the same b), and
    Rennala and Malenia NIGT at the same M for each other. One pilot is one path of
    learning; pooling the paths of equal steps halves the chance that one that collapsed
    or raced decides the point."""
    from algorithms.methods.registry import get

    pattern, _ = method_pattern(method)
    out = []
    for p in model.pilots:
        name = str(p.get("method"))
        p_pattern, _ = method_pattern(name)
        values, _ = get(name).resolve(p.get("hyper") or {})
        if pattern in COUNTED:
            ok = p_pattern in COUNTED and int(values.get("M", -1)) == int(M)
        elif pattern == "synchronized":
            ok = name == method and int(values.get("batch", 1)) == int(batch)
        else:
            ok = name == method
        if ok:
            out.append(p)
    return out


def pooled_trend(pilots: list[dict[str, Any]], model: CostModel, alpha: float
                 ) -> Trend | None:
    """The mean of the pilots' trends: at every distance any of them has a point, the mean
    of their curves there (each flat beyond its own reach), linear between (exact: a mean
    of piecewise linear curves is linear between the union of their points)."""
    trends = [t for t in (pilot_lengths(p, model, alpha) for p in pilots) if t is not None]
    if not trends:
        return None
    x = np.unique(np.concatenate([t.x for t in trends]))
    y = np.mean([np.interp(x, t.x, t.y) for t in trends], axis=0)
    return Trend(x, y, float(alpha), min(t.reach for t in trends))


def predict_run(model: CostModel, method: str, iterations: int, *, M: int = 1,
                M_init: int = 1, batch: int = 1, alpha: float | None = None,
                mode: str | None = None, seed: int = 0, rounds: int = ROUNDS,
                agents=None) -> RunPrediction:
    """Seconds of a run of ``iterations`` iterations of ``method`` (module docstring):
    the point, and the interval [low, high] with its drift margin.

    Rennala / Malenia NIGT: the M_init round, then K rounds of M, each followed by the
    measured gap (Algorithm 1 lines 2, 6); Synchronized NIGT: K + 1 rounds; AFedPG: K
    server updates.
    """
    K = checks.count("iterations", iterations)
    pattern, _ = method_pattern(method)
    L0 = model.measured_length(pattern)
    H = float(model.horizon)
    kw = {"mode": mode, "seed": seed, "rounds": rounds, "agents": agents}
    low, r_low, init, std = _total(model, method, K, M, M_init, batch, None, None, **kw)
    if H > L0 * (1 + 1e-9):
        high, _, _, std_h = _total(model, method, K, M, M_init, batch, None, H, **kw)
    else:
        high, std_h = low, std
    pilots = pilots_for(model, method, M, batch)
    trend = None if alpha is None or not pilots else pooled_trend(pilots, model, alpha)
    first_L, last_L = (L0, L0) if trend is None else (float(x) for x in trend.at([0, K]))
    least, most = (L0, L0) if trend is None else trend.span(K)
    share = 1.0 if trend is None else trend.share(K)
    mean_L = L0 if trend is None else _sum_over(trend.at, K, trend.moving_until(K)) / K
    if trend is not None:
        point, r_pt, init, _ = _total(model, method, K, M, M_init, batch, trend, None, **kw)
        names = ", ".join(str(p.get("method")) for p in pilots)
        if most - least <= 1e-9 * max(most, 1.0):
            how = f"pilot ({names}): mean length {first_L:.4g} steps, flat"
        else:
            how = (f"pilot trend ({names}): mean length {first_L:.4g} -> {last_L:.4g} steps "
                   f"over the run (between {least:.4g} and {most:.4g})")
            if share < 1.0:
                how += (f"; the pilot covered {100 * share:.2g}% of the run's distance "
                        "(iterations x alpha), its last length held after")
    else:
        point, r_pt = low, r_low
        if H <= L0 * (1 + 1e-9):
            how = "every trajectory has H steps (lengths cannot move)"
        elif model.pilots and not pilots:
            ran = ", ".join(str(p.get("method")) for p in model.pilots)
            how = (f"lengths as measured (the pilot ran {ran}; lengths move with a method's "
                   "own steps)")
        else:
            how = "lengths as measured (no pilot)"
    # the residual at another batch than the calibration's: per round (the point) or spread
    # over the calibration's gradients (the other end of the interval)
    res_how, other_batch = _residual_source(model, pattern, r_pt.mode, M, M_init, batch,
                                            seed, rounds)
    if other_batch:
        kw_g = {**kw, "residual_per": "gradient"}
        low_g = _total(model, method, K, M, M_init, batch, None, None, **kw_g)[0]
        high_g = (_total(model, method, K, M, M_init, batch, None, H, **kw_g)[0]
                  if H > L0 * (1 + 1e-9) else low_g)
        low, high = min(low, low_g), max(high, high_g)
    drift, drift_how = drift_allowance(
        model.spread(pattern) if r_pt.mode == model.mode else None, point)
    lo_end = min(low, point) - drift * min(low, point) - 2 * std
    hi_end = max(high, point) + drift * max(high, point) + 2 * std_h
    return RunPrediction(
        method, r_pt.mode, K, r_pt.mean, r_pt.std, r_pt.gap, init, point, max(lo_end, 0.0),
        hi_end, how, r_pt.terms,
        {"measured": L0, "horizon": H, "point_first": first_L, "point_last": last_L,
         "point_least": least, "point_most": most, "point_mean": mean_L,
         "pilot_share": share},
        r_pt.gradients, r_pt.source, drift, drift_how, res_how, other_batch)


def total_at_length(model: CostModel, method: str, iterations: int, length: float, *,
                    M: int = 1, M_init: int = 1, batch: int = 1, mode: str | None = None,
                    seed: int = 0, rounds: int = ROUNDS, agents=None) -> float:
    """Seconds of the run :func:`predict_run` predicts, at the mean trajectory length
    ``length`` in iterations 1..K (every agent's measured lengths scaled to that mean, as
    the point's trend scales them; the M_init round at the lengths measured at theta_0)
    instead of a trend; no drift, no interval. Held against a run at the mean length it
    measured, its error is the cost model's (the machine's speed, the primitives); the
    rest of a point's error is the lengths'."""
    K = checks.count("iterations", iterations)
    L = checks.positive("length", length)
    pattern, _ = method_pattern(method)
    # iteration 0 (the M_init round) at theta_0's lengths as measured, then L
    step = Trend(np.array([0.0, 1.0]), np.array([model.measured_length(pattern), L]), 1.0)
    return _total(model, method, K, M, M_init, batch, step, None, mode, seed, rounds,
                  agents)[0]


def _residual_source(model: CostModel, pattern: str, mode: str, M: int, M_init: int,
                     batch: int, seed: int, rounds: int) -> tuple[str, bool]:
    """(how the residual enters a run's prediction, whether the run's batch differs from
    the calibration's): ``not measured``, ``per round, measured at the run's ...``, or
    ``measured at ...; the run's ...`` (then :func:`predict_run` spans per round .. per
    gradient in its interval)."""
    res = residual(model, pattern, mode, seed, rounds)
    pc = model.patterns.get(pattern)
    if pc is None or not pc.rounds.size or mode != model.mode or pattern == "greedy":
        return ("not measured" if res == 0.0 else "per round"), False
    name, cal = _calibration_batch(pc, pattern)
    run = [int(batch)] if pattern == "synchronized" else [int(M), int(M_init)]
    if res == 0.0 or all(r == cal for r in run):
        return f"per round, measured at the run's {name} = {cal}", False
    return (f"measured at {name} = {cal} ({res:.3g} s per round); the run's {name} = "
            f"{'/'.join(str(r) for r in dict.fromkeys(run))}: the point adds it per round, "
            "the interval spans per round to per gradient"), True
