"""The simulated clock of one run: when gradients finish and when communications end.

Nothing waits for real: a procedure asks the clock *when* each agent's computations
finish and advances :attr:`SimClock.now`. The precise semantics (broadcast, start of
computations, failures, joins, the reduce) are in ``docs/clock.md``; in short, for a
round that starts at time ``now``:

- agent i receives the broadcast parameters at
  ``s_i = max(now, join_at_i) + kappa_i`` (Section H: kappa_i is the time to send one
  vector between agent i and the server; Assumption 2.5 is kappa_i = kappa), or never if
  ``fail_at_i <= s_i``;
- it starts its first computation at s_i and each next one the instant the previous one
  finishes (Algorithm 2 line 7); its k-th finish time (k = 1, 2, ...) is
  ``s_i + k h_i`` with fixed timing and the sequential sum
  ``(((s_i + d_0) + d_1) + ... + d_{k-1})`` with random timing (:mod:`algorithms.sim.timing`);
- a computation that would finish at or after ``fail_at_i`` never returns.

Randomness: the clock owns its own :class:`numpy.random.Generator` (seeded by
``make_clock(seed=...)``), separate from the oracle's, so the timeline does not depend
on the gradients. Every round draws one 63-bit key from it; durations are a pure
function of (key, agent, k) (see :mod:`algorithms.sim.timing`).

Time-varying computation times h_{t,i} (Theorem 4.3): ``h`` may be a (T, n) array (row
t is used in iteration t; iterations >= T use the last row) or a callable ``t -> h_t``.
Each aggregation procedure uses the row of :attr:`SimClock.iteration` and increments it
by one when it returns (one round = one iteration of Algorithm 1).

Paper: Assumption 2.5, Theorem 4.3, Section H; Algorithms 2 and 3 (timeline).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from algorithms.sim import timing as tm
from theory import checks

#: Float times near T are spaced ulp(T) apart; a round whose times reach a T with
#: ulp(T) > RESOLUTION * min_i h_i is refused (:class:`ClockRangeError`): there the
#: finish times s_i + k h_i can no longer be told apart reliably (at kappa = 3e16 and
#: h = 1, floats are 8 apart and counts silently change). 2^-10 allows T / h_min up to
#: about 2^42 (4e12).
RESOLUTION = 2.0**-10
#: At most this many computations of one round are held in memory as (agent, k, time)
#: arrays (24 bytes each: ~100 MB). Beyond it, fixed timing is counted instead of listed
#: (:mod:`algorithms.aggregation.counting`) and random timing is refused.
MAX_ARRIVALS = 2**22


class AgentFailedError(RuntimeError):
    """A procedure cannot finish because agents failed (they never return a gradient)."""


class ClockRangeError(ValueError):
    """Simulated times too large for the float resolution the clock needs (see RESOLUTION).

    ``name`` is the input blamed: ``kappa``, ``h`` (their spread) or ``time`` (the
    simulated time reached).
    """

    def __init__(self, message: str, name: str) -> None:
        super().__init__(message)
        self.name = name


class TooManyArrivalsError(ValueError):
    """A round would hold more than :data:`MAX_ARRIVALS` computations in memory."""

    def __init__(self, message: str, count: float) -> None:
        super().__init__(message)
        self.count = count


class SimClock:
    """Simulated time of one run. Build it with :func:`make_clock`.

    Attributes
    ----------
    now: current simulated time (seconds).
    n: number of agents.
    iteration: index t of the current iteration (selects h_{t,i}); procedures increment it.
    kappa: per-agent communication times kappa_i, shape (n,).
    fail_at, join_at: per-agent failure and join times (inf / 0 when unused).
    timing, options: the duration model and its options (:mod:`algorithms.sim.timing`).
    empirical: the measured samples of the ``empirical`` model (None otherwise).
    rng: the clock's own Generator (timing randomness only).
    """

    def __init__(
        self,
        h,
        kappa,
        *,
        timing: str,
        options: dict[str, float],
        seed: int,
        fail_at: np.ndarray,
        join_at: np.ndarray,
        empirical: tm.EmpiricalSamples | None = None,
    ) -> None:
        self._h = h
        self.empirical = empirical
        self.n = int(kappa.size)
        self.kappa = kappa
        self.timing = timing
        self.options = options
        self.fail_at = fail_at
        self.join_at = join_at
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.now = 0.0
        self.iteration = 0

    # --- computation times -------------------------------------------------------------
    def h_at(self, t: int | None = None) -> np.ndarray:
        """Computation times h_{t,i} of iteration ``t`` (default: the current iteration)."""
        t = self.iteration if t is None else t
        if callable(self._h):
            row = checks.times("h", self._h(t), allow_inf=True)
            if row.size != self.n:
                raise ValueError(f"length mismatch: h({t}) has {row.size}, n is {self.n}")
            return row
        if self._h.ndim == 2:
            return self._h[min(t, self._h.shape[0] - 1)]
        return self._h

    @property
    def time_varying(self) -> bool:
        return callable(self._h) or self._h.ndim == 2

    def new_key(self) -> int:
        """Draw the key that fixes every duration of one round (advances ``rng``)."""
        return int(self.rng.integers(0, 2**63 - 1))

    def broadcast_end(self, start: float) -> np.ndarray:
        """s_i: when agent i holds parameters broadcast at ``start`` (inf: never).

        .. math:: s_i = \\max(\\mathrm{start}, \\mathrm{join}_i) + \\kappa_i

        Paper: Lemma C.1 proof (broadcast takes at most kappa), Section H (kappa_i).
        """
        s = np.maximum(start, self.join_at) + self.kappa
        s[self.fail_at <= s] = np.inf
        finite = s[np.isfinite(s)]
        if finite.size:
            self.check_resolution(float(finite.max()), start)
        return s

    def check_resolution(self, T: float, start: float | None = None, work: str = "M") -> None:
        """Raise :class:`ClockRangeError` if float times near ``T`` are too coarse.

        The spacing of floats near T (``math.ulp(T)``) must be at most
        :data:`RESOLUTION` times the fastest computation time min_i h_i: otherwise
        s_i + k h_i rounds to neighbouring floats and arrival counts come out wrong.
        The message blames kappa, the simulated time, the number of computations per
        agent (``work``: the batch, M) or the spread of h, whichever carries T there.
        """
        h = self.h_at()
        fast = h[np.isfinite(h)]
        if not fast.size or not np.isfinite(T):
            if not np.isfinite(T):
                raise ClockRangeError(
                    f"kappa: the simulated clock overflowed (times reach {T}); use smaller "
                    "times (rescale units)", "kappa")
            return
        h_min = float(fast.min())
        if math.ulp(T) <= RESOLUTION * h_min:
            return
        start = self.now if start is None else start
        k_max = float(self.kappa.max())
        if start >= max(k_max, T - start - k_max):
            name, what = "time", f"the simulated time reached {start:.4g}"
        elif k_max >= T - start - k_max:
            name, what = "kappa", f"communication times up to kappa = {k_max:.4g}"
        elif (T - start - k_max) > 2**20 * float(fast.max()):
            name, what = work, (f"about {(T - start - k_max) / float(fast.max()):.3g} "
                                "computations per agent in one round")
        else:
            name, what = "h", (f"computation times spread from {h_min:.4g} to "
                               f"{float(fast.max()):.4g}")
        raise ClockRangeError(
            f"{name}: {what} put the clock at t = {T:.4g}, where floats are "
            f"{math.ulp(T):.3g} apart, more than 2^-10 of the fastest computation "
            f"(h = {h_min:.4g}): counts would be wrong; keep t / min h below about 4e12 "
            "(rescale units)", name)

    def durations(self, key: int, h: np.ndarray, agents: np.ndarray, k: np.ndarray) -> np.ndarray:
        """Durations of agents' k-th computations (k = 0, 1, ...) in the round of ``key``."""
        agents = np.asarray(agents, dtype=np.int64)
        return tm.durations(self.timing, self.options, h[agents], key, agents, k,
                            self.empirical)

    def finish_after(self, key: int, h: np.ndarray, s: np.ndarray, count: int) -> np.ndarray:
        """Finish time of the ``count``-th computation of every agent started at s (inf: never).

        Computations run back to back from s_i; the result is inf for agents that cannot
        start or that fail before finishing.
        """
        count = checks.count("batch", count)
        agents = np.arange(self.n)
        if self.timing == "fixed":
            t = s + count * h
        else:
            if count * self.n > MAX_ARRIVALS:
                raise TooManyArrivalsError(
                    f"batch: {count} computations per agent for {self.n} agents with random "
                    f"timing is more than the {MAX_ARRIVALS} durations one round may draw",
                    count * self.n)
            d = self.durations(key, h, agents[:, None], np.arange(count)[None, :])
            t = np.cumsum(np.concatenate([s[:, None], d], axis=1), axis=1)[:, -1]
        t = np.where(np.isfinite(s) & (t < self.fail_at), t, np.inf)
        done = t[np.isfinite(t)]
        if done.size:
            self.check_resolution(float(done.max()), work="batch")
        return t

    def arrivals(
        self, key: int, h: np.ndarray, s: np.ndarray, T: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every computation finishing at a time <= T: flat arrays (agent, k, time).

        k is 1-based (the k-th gradient of the agent in this round); finish times are
        exact (``s_i + k h_i``) with fixed timing, sequential sums otherwise. Returned in
        agent order, k ascending.

        Notes
        -----
        .. math:: t_{i,k} = s_i + \\sum_{j<k} d_{i,j} \\;(= s_i + k h_i \\text{ if fixed}),
                  \\quad t_{i,k} \\le T,\\; t_{i,k} < \\mathrm{fail}_i

        Paper: Algorithm 2 line 7 (an agent restarts as soon as it finishes), Lemma C.1
        proof (sum_i floor(t / h_i) gradients by time t).
        """
        U = np.minimum(T, np.nextafter(self.fail_at, -np.inf))  # finish must be < fail_at
        ok = np.isfinite(s) & np.isfinite(h) & (s < U)
        if ok.any():
            self.check_resolution(float(U[ok].max()))
        if self.timing == "fixed":
            return _fixed_arrivals(h, s, U, ok)
        return self._random_arrivals(key, h, s, U, ok)

    def fixed_counts(self, h: np.ndarray, s: np.ndarray, T: float) -> np.ndarray:
        """Fixed timing: per agent, how many computations finish at a time <= T.

        The count K_i of :meth:`arrivals` without listing them: max{k : s_i + k h_i <= U_i}
        with U_i = min(T, the last float before fail_i), in the same float arithmetic.
        """
        U = np.minimum(T, np.nextafter(self.fail_at, -np.inf))
        ok = np.isfinite(s) & np.isfinite(h) & (s < U)
        K = np.zeros(self.n, dtype=np.int64)
        K[ok] = _fixed_count(h[ok], s[ok], U[ok])
        return K

    def _random_arrivals(self, key, h, s, U, ok):
        active = np.flatnonzero(ok)
        lam = (U[active] - s[active]) / h[active]
        expected = float(lam.sum())
        if not expected <= MAX_ARRIVALS:
            raise TooManyArrivalsError(
                f"about {expected:.3g} computations in one round, more than the "
                f"{MAX_ARRIVALS} the clock holds in memory", expected)
        K = np.ceil(lam + 3.0 * np.sqrt(lam) + 3.0).astype(np.int64)
        out_a, out_k, out_t = [], [], []
        drawn = 0
        while active.size:
            drawn += int(K.sum())
            if drawn > 4 * MAX_ARRIVALS:
                # Durations far below their mean (lognormal with a large log_sigma): the
                # horizon needs ever more draws. Stop before memory runs out.
                raise TooManyArrivalsError(
                    f"more than {drawn} durations drawn in one round without reaching its "
                    "horizon (most durations are far below their mean h_i)", drawn)
            retry_a, retry_K = [], []
            for idx in _buckets(K):
                a, Kb = active[idx], int(K[idx].max())
                d = self.durations(key, h, a[:, None], np.arange(Kb)[None, :])
                t = np.cumsum(np.concatenate([s[a][:, None], d], axis=1), axis=1)[:, 1:]
                short = t[:, -1] <= U[a]
                if short.any():  # not enough draws to pass the horizon: redo with more
                    retry_a.append(a[short])
                    retry_K.append(2 * K[idx][short])
                keep = ~short
                a, t = a[keep], t[keep]
                mask = t <= U[a][:, None]
                rows, cols = np.nonzero(mask)
                out_a.append(a[rows])
                out_k.append(cols + 1)
                out_t.append(t[rows, cols])
            active = np.concatenate(retry_a) if retry_a else np.empty(0, np.int64)
            K = np.concatenate(retry_K) if retry_K else np.empty(0, np.int64)
        if not out_a:
            return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
        a, k, t = np.concatenate(out_a), np.concatenate(out_k), np.concatenate(out_t)
        order = np.lexsort((k, a))
        return a[order], k[order].astype(np.int64), t[order]

    # --- checkpoints -------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to restore this clock: configuration and mutable state.

        A callable h is not serialisable: ``config`` is then None and the state must be
        loaded into an identically built clock with :meth:`load_state_dict`.
        """
        config = None
        if not callable(self._h):
            config = {
                "h": self._h.tolist(),
                "kappa": self.kappa.tolist(),
                "timing": self.timing,
                "options": dict(self.options),
                "seed": self.seed,
                "fail_at": self.fail_at.tolist(),
                "join_at": self.join_at.tolist(),
            }
            if self.empirical is not None:
                config["samples"] = self.empirical.to_lists()
        return {
            "config": config,
            "now": self.now,
            "iteration": self.iteration,
            "rng": copy.deepcopy(self.rng.bit_generator.state),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``now``, ``iteration`` and the Generator state saved by :meth:`state_dict`."""
        self.now = float(state["now"])
        self.iteration = int(state["iteration"])
        self.rng.bit_generator.state = copy.deepcopy(state["rng"])

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> SimClock:
        """Rebuild a clock from :meth:`state_dict` (needs a non-callable h)."""
        cfg = state.get("config")
        if cfg is None:
            raise ValueError(
                "state: the clock had a callable h; rebuild it with make_clock "
                "and call load_state_dict"
            )
        clock = make_clock(
            np.asarray(cfg["h"], dtype=float),
            np.asarray(cfg["kappa"]),
            timing=cfg["timing"],
            seed=cfg["seed"],
            fail_at=np.asarray(cfg["fail_at"]),
            join_at=np.asarray(cfg["join_at"]),
            samples=cfg.get("samples"),
            **cfg["options"],
        )
        clock.load_state_dict(state)
        return clock


def make_clock(
    h=None,
    kappa=0.0,
    *,
    timing: str = "fixed",
    seed: int = 0,
    n: int | None = None,
    fail_at=None,
    join_at=None,
    samples=None,
    cluster: Any = None,
    **timing_options: float,
) -> SimClock:
    """Build the simulated clock of one run.

    Parameters
    ----------
    cluster: a :class:`theory.cluster_file.ClusterSpec`, whole: its h_i, kappa_i, timing
        model and options (then ``h``, ``kappa``, ``timing`` and ``timing_options`` are
        not given).
    h: computation times: a 1-D array (h_i), a comma list, a profile name (``equal``,
        ``sqrt``, ``quarter``; needs ``n``), a (T, n) array of h_{t,i} or a callable
        ``t -> h_t`` (Theorem 4.3). ``inf`` marks an agent that never returns.
    kappa: communication time: a float (Assumption 2.5) or per-agent kappa_i (Section H).
    timing: ``fixed`` | ``exponential`` | ``lognormal`` | ``uniform`` | ``empirical``
        (mean h_i).
    seed: seed of the clock's own Generator.
    n: number of agents (needed with a profile name or a callable h).
    fail_at: per-agent times from which the agent never returns a gradient (default inf).
    join_at: per-agent times before which the agent does not take part (default 0).
    samples: with ``timing="empirical"``, each agent's measured durations
        (:class:`algorithms.sim.timing.EmpiricalSamples` or one sequence per agent); the
        clock resamples them, scaled to mean h_i (a time-varying h rescales them too).
    timing_options: ``log_sigma`` (lognormal), ``jitter`` (uniform).
    """
    if cluster is not None:
        bare = isinstance(kappa, int | float) and kappa == 0
        if h is not None or not bare or timing != "fixed" or timing_options:
            raise ValueError("cluster: give a ClusterSpec or h, kappa and timing, not both")
        h, kappa, timing = np.array(cluster.h), np.array(cluster.kappa), cluster.timing
        timing_options = dict(cluster.options)
        if getattr(cluster, "samples", None) is not None:
            if samples is not None:
                raise ValueError("samples: the cluster has its own; give one or the other")
            samples = [np.array(t) for t in cluster.samples]
    if h is None:
        raise ValueError("h: give the computation times h (or a cluster)")
    options = tm.check_options(timing, timing_options)
    empirical = None
    if timing == tm.EMPIRICAL:
        if samples is None:
            raise ValueError("samples: timing 'empirical' needs each agent's measured "
                             "durations")
        empirical = tm.EmpiricalSamples(samples)
    elif samples is not None:
        raise ValueError(f"samples: only for timing 'empirical', not {timing!r}")
    seed = checks.count("seed", seed, minimum=0)
    if callable(h):
        if n is None:
            raise ValueError("n: a callable h needs the number of agents n")
        n = checks.count("n", n)
        h_spec: np.ndarray | Callable = h
    else:
        arr = np.asarray(h) if not isinstance(h, str) else None
        if arr is not None and arr.ndim == 2:
            if arr.shape[0] < 1:
                raise ValueError("h: a time-varying h needs at least one row")
            for row in arr:
                checks.times("h", row, allow_inf=True)
            h_spec = arr.astype(float)
            if n is not None and n != arr.shape[1]:
                raise ValueError(f"length mismatch: h has {arr.shape[1]} columns, n is {n}")
            n = arr.shape[1]
        else:
            h_spec = tm.resolve_times("h", h, n, allow_inf=True)
            n = h_spec.size
    kappa_arr = tm.resolve_kappa(kappa, n)
    fail = _per_agent("fail_at", fail_at, n, np.inf)
    join = _per_agent("join_at", join_at, n, 0.0)
    if empirical is not None and empirical.n != n:
        raise ValueError(f"length mismatch: samples has {empirical.n} agents, n is {n}")
    return SimClock(
        h_spec, kappa_arr, timing=timing, options=options, seed=seed, fail_at=fail,
        join_at=join, empirical=empirical,
    )


def _per_agent(name: str, value, n: int, default: float) -> np.ndarray:
    if value is None:
        return np.full(n, default)
    arr = checks.times(name, value, allow_zero=True, allow_inf=True)
    checks.same_length((name, "h"), arr, range(n))
    return arr


def _fixed_count(hh: np.ndarray, ss: np.ndarray, uu: np.ndarray) -> np.ndarray:
    """K_i = max{k : s_i + k h_i <= U_i} in float arithmetic (all s_i < U_i finite)."""
    K = np.floor((uu - ss) / hh).astype(np.int64)
    # Correct the floating floor so that K_i is exactly max{k : s_i + k h_i <= U_i}.
    for _ in range(2):
        K += ss + (K + 1) * hh <= uu
        K -= (K > 0) & (ss + K * hh > uu)
    return K


def _fixed_arrivals(h, s, U, ok):
    """Finish times s_i + k h_i <= U_i, k = 1..K_i, computed by one multiplication each."""
    idx = np.flatnonzero(ok)
    K = _fixed_count(h[idx], s[idx], U[idx])
    total = int(K.sum())
    if total > MAX_ARRIVALS:
        raise TooManyArrivalsError(
            f"{total} computations in one round, more than the {MAX_ARRIVALS} the clock "
            "holds in memory", total)
    a, k = expand_counts(idx, K)
    return a, k, s[a] + k * h[a]


def expand_counts(agents: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat (agent, k) pairs, k = 1..counts[j] for each agents[j], in agent order."""
    counts = np.asarray(counts, dtype=np.int64)
    a = np.repeat(agents, counts)
    first = np.cumsum(counts) - counts
    k = np.arange(a.size, dtype=np.int64) - np.repeat(first, counts) + 1
    return a, k


def _buckets(K: np.ndarray):
    """Index groups of K whose sizes lie within a factor 2 (dense blocks, little waste)."""
    level = np.floor(np.log2(np.maximum(K, 1))).astype(np.int64)
    order = np.argsort(level, kind="stable")
    lv = level[order]
    cuts = np.flatnonzero(np.diff(lv)) + 1
    return np.split(order, cuts)


def seeded_clock(
    h=None, kappa=0.0, seed: int = 0, *, timing: str = "fixed", cluster: Any = None,
    samples=None, **timing_options: float
) -> tuple[SimClock, np.random.Generator]:
    """(clock, oracle Generator) of run seed ``seed``: one seed, two independent streams.

    ``SeedSequence(seed)`` spawns two children: the first seeds the clock's timing, the
    second the oracle's trajectories, so the timeline does not depend on the oracle and
    a run is a pure function of its seed. Every run of `apga train/compare` and of the
    validation checks is seeded this way. ``cluster``: a ClusterSpec, as in
    :func:`make_clock`.
    """
    clock_seq, oracle_seq = np.random.SeedSequence(seed).spawn(2)
    clock = make_clock(h, kappa, timing=timing, seed=int(clock_seq.generate_state(1)[0]),
                       cluster=cluster, samples=samples, **timing_options)
    return clock, np.random.default_rng(oracle_seq)
