"""Predicted seconds of a run on a described cluster, from the simulated clock (plan only).

For Rennala NIGT, Malenia NIGT, Synchronized NIGT and AFedPG on a cluster
(:class:`theory.cluster_file.ClusterSpec`: h_i, kappa_i in seconds, one timing model):

- **seconds per iteration** from the clock: ``plan_rennala`` / ``plan_malenia`` (one
  Algorithm 2/3 round with batch M), the synchronized timeline (b gradients per agent),
  or AFedPG's greedy clock (:class:`algorithms.aggregation.AsyncGreedy`). No gradient is
  computed. Fixed times: one round, exact (broadcast max kappa_i over receivers +
  collection + one reduce, as in ``docs/clock.md``). Random times: mean and standard
  deviation over ``rounds`` consecutive simulated rounds of a clock seeded with ``seed``
  (rounds are independent: each draws its own key and every agent restarts).
- **the bound beside it**: Lemma C.1 / C.2 with kappa = max_i kappa_i; for the
  synchronized round 2 max_i kappa_i + b max_i h_i; none for AFedPG.
- **the run's total** for K iterations, formed as Algorithm 1 runs and as the proofs of
  Theorems 4.4 and 5.1 count: one first round with M_init (line 2), then K rounds with M
  (line 6): total = t(M_init) + K t(M). Synchronized NIGT: its first round is a
  synchronized round too, total = (K + 1) t_sync. AFedPG: the time of the K-th server
  update from the initial broadcast at t = 0.

AFedPG has no round. Its seconds per iteration is the long-run time between two server
updates. Agent i cycles: receive parameters (kappa_i), compute (mean h_i), upload
(kappa_i); the server updates on every arrival, so by the renewal-reward theorem updates
arrive at rate sum_i 1/(h_i + 2 kappa_i) for every timing model (all have mean h_i):
``round_seconds`` = (sum_i 1/(h_i + 2 kappa_i))^{-1}, and its spread is that of the gaps
between updates simulated on the greedy clock (AsyncGreedy, after one warm-up update
per agent; the tests check the simulated mean gap against the formula). With fixed times
agent i's j-th update lands at exactly j (h_i + 2 kappa_i), which gives the K-th update
time in closed form (:func:`greedy_update_time`, checked against AsyncGreedy in the
tests); with random times the total is K times the long-run gap.

Only numpy/scipy (through the clock); no torch.

Paper: Algorithm 1 (line 2: M_init, line 6: M), Algorithms 2 and 3, Lemmas C.1 and C.2,
proofs of Theorems 4.4 and 5.1 (total = first round + T rounds), text after Theorem 4.2
(synchronized), Sections 1.1, 4.1 and H (AFedPG: every gradient is sent).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from theory import checks
from theory.cluster_file import ClusterSpec
from theory.iterations import IterationCounts, afedpg_updates, nigt_iterations, sync_iterations
from theory.lemmas import malenia_collect_time_bound, rennala_collect_time_bound
from theory.parameters import batch_sizes, global_batch_sizes

WALLCLOCK_METHODS = ("rennala_nigt", "malenia_nigt", "sync_nigt", "afedpg")
#: Patterns whose rounds end at a count (Algorithms 2 and 3): a first round of M_init.
COUNTED_PATTERNS = ("rennala", "malenia")


def pattern_of(method: str) -> str:
    """The aggregation pattern of a registry method (``MethodSpec.pattern``): what its
    round does, hence how it is timed (never the method's name)."""
    from algorithms.methods.registry import get

    return get(method).pattern
#: Gradients one simulated round may hold (the clock keeps ~3 arrays of that length).
MAX_ROUND_GRADIENTS = 2_000_000
#: Server updates simulated at most to measure the spread of AFedPG's gaps.
MAX_GREEDY_UPDATES = 20_000
MAX_ROUNDS = 100_000
MAX_ITERATIONS = 10**15  # totals stay exact enough in float64 below this
MAX_RUN_ITERATIONS = 1_000_000  # iterations run_timeline simulates one by one
DEFAULT_ROUNDS = 100


def default_rounds(n: int) -> int:
    """Simulated rounds with random times when none are asked for: 100, and for clusters
    above 10,000 agents max(10, 10^6 / n), so that a default prediction simulates about
    10^6 agent-rounds at most (Malenia's exact exit test took 6.8 s per round for
    n = 10^5, h_i = sqrt(i), lognormal times, on a loaded 2-core machine).
    """
    n = checks.count("n", n)
    return DEFAULT_ROUNDS if n <= 10_000 else max(10, 10**6 // n)


class RoundSeconds(NamedTuple):
    """Seconds of one iteration of ``method`` on the simulated clock.

    mean, std: mean and standard deviation over ``samples`` (std 0 for one sample; AFedPG:
               see :func:`round_seconds`)
    samples:   the simulated durations (rounds; AFedPG: gaps between server updates)
    gradients: gradients one iteration uses (M; n b for synchronized; 1 for AFedPG)
    """

    method: str
    mean: float
    std: float | None
    samples: np.ndarray
    gradients: int


class MethodWallclock(NamedTuple):
    """Predicted seconds of one method's run (the ``wallclock`` entries of predict --json)."""

    method: str
    M: int
    M_init: int | None
    round_seconds: float
    round_seconds_std: float | None
    init_seconds: float
    bound_seconds: float | None
    bound_source: str
    iterations: int
    iterations_source: str
    total_seconds: float
    total_seconds_std: float | None
    iterations_explicit: int | None
    total_seconds_explicit: float | None
    rounds_simulated: int
    total_rule: str

    def to_json(self) -> dict[str, Any]:
        return {k: _plain(v) for k, v in self._asdict().items() if k != "method"}


def round_seconds(method: str, cluster: ClusterSpec, M: int = 1, *, batch: int = 1,
                  seed: int = 0, rounds: int = DEFAULT_ROUNDS) -> RoundSeconds:
    """Seconds per iteration of ``method`` with batch M on ``cluster`` (simulated clock).

    rennala_nigt / malenia_nigt: durations ``end - start`` of :func:`plan_rennala` /
    :func:`plan_malenia` rounds with batch M; sync_nigt: synchronized rounds of ``batch``
    gradients per agent (M unused); afedpg: gaps between server updates (M unused; mean:
    the long-run gap of the module docstring, std: of n (rounds + 1) simulated updates, at
    most MAX_GREEDY_UPDATES; None beyond). Fixed times: one round (exact). Random:
    ``rounds`` rounds of one clock seeded with ``seed``.

    Notes
    -----
    Fixed times, one kappa: Rennala's round is 2 kappa + t_M with t_M the M-th smallest
    of {k h_i}; the synchronized round is max_i (2 kappa_i + b h_i); AFedPG's mean gap is
    :math:`(\\sum_i 1/(h_i + 2\\kappa_i))^{-1}`.

    Paper: Algorithms 2, 3 (timeline of Lemmas C.1, C.2); text after Theorem 4.2.
    """
    checks.choice("method", method, WALLCLOCK_METHODS)
    cluster = _check_cluster(cluster)
    rounds = 1 if cluster.timing == "fixed" else checks.count("rounds", rounds)
    if rounds > MAX_ROUNDS:
        raise ValueError(f"rounds: {rounds} exceeds the limit of {MAX_ROUNDS}")
    seed = checks.count("seed", seed, minimum=0)
    pattern = pattern_of(method)
    if pattern == "greedy":
        return _greedy_seconds(cluster, seed, rounds, method)
    if pattern == "synchronized":
        per_round = cluster.n * checks.count("batch", batch)
        plan = _synchronized_plan(checks.count("batch", batch))
    else:
        per_round = checks.count("M", M)
        plan = _plan(pattern)
    _check_round_size(method, "batch" if pattern == "synchronized" else "M", per_round)
    clock = _clock(cluster, seed)
    d = np.empty(rounds)
    for r in range(rounds):
        rec = plan(clock, per_round)
        d[r] = rec.end - rec.start
    return RoundSeconds(method, float(d.mean()), float(d.std()), d, per_round)


class RunTimeline(NamedTuple):
    """The simulated clock of one whole run of run seed ``run_seed``.

    ends:      clock time after each iteration: ends[0] after Algorithm 1's line 2 (the
               M_init round; 0.0 for AFedPG, whose start only broadcasts), ends[t] after
               iteration t; exactly the ``time`` column of ``apga train``'s records
    durations: ends[t] - ends[t - 1] (durations[0] = ends[0])
    """

    method: str
    ends: np.ndarray
    durations: np.ndarray


def run_timeline(method: str, cluster: ClusterSpec, iterations: int, *, M: int = 1,
                 M_init: int = 1, batch: int = 1, run_seed: int = 0) -> RunTimeline:
    """Every iteration's end time of a run of ``method`` with run seed ``run_seed``.

    The clock is the one ``apga train`` builds for that seed
    (:func:`algorithms.sim.clock.seeded_clock`, the same timing keys round by round), driven
    by the plan functions only: the M_init round, then ``iterations`` rounds of M
    (Rennala/Malenia NIGT); ``iterations + 1`` synchronized rounds (Synchronized NIGT);
    ``iterations`` server updates (AFedPG). Compare a real run's per-round durations with
    ``durations`` round by round.

    Paper: Algorithm 1 (line 2, then line 6 per iteration), Algorithms 2, 3.
    """
    from algorithms.sim.clock import seeded_clock

    checks.choice("method", method, WALLCLOCK_METHODS)
    cluster = _check_cluster(cluster)
    K = checks.count("iterations", iterations)
    if K > MAX_RUN_ITERATIONS:
        raise ValueError(f"iterations: {K} exceeds the limit of {MAX_RUN_ITERATIONS} "
                         "simulated iterations")
    kw = cluster.clock_kwargs()
    clock, _ = seeded_clock(kw.pop("h"), kw.pop("kappa"), checks.count("run_seed", run_seed, 0),
                            **kw)
    ends = np.empty(K + 1)
    pattern = pattern_of(method)
    if pattern == "greedy":
        from algorithms.aggregation import AsyncGreedy

        sched = AsyncGreedy(_PlanOnlyOracle(), clock, np.random.default_rng(0))
        sched.start(np.zeros(0))
        ends[0] = clock.now
        for t in range(1, K + 1):
            agent, _g, _theta, _rec = sched.step()
            sched.send(agent, np.zeros(0))
            ends[t] = clock.now
    else:
        if pattern == "synchronized":
            plan, sizes = _synchronized_plan(checks.count("batch", batch)), (0, 0)
            _check_round_size(method, "batch", cluster.n * batch)
        else:
            plan, sizes = _plan(pattern), (checks.count("M_init", M_init), checks.count("M", M))
            _check_round_size(method, "M_init", sizes[0])
            _check_round_size(method, "M", sizes[1])
        for t in range(K + 1):
            plan(clock, sizes[0] if t == 0 else sizes[1])
            ends[t] = clock.now
    return RunTimeline(method, ends, np.diff(ends, prepend=0.0))


def greedy_update_time(h, kappa, K: int) -> float:
    """Time of AFedPG's K-th server update with fixed times, from a broadcast at t = 0.

    Agent i receives theta at kappa_i, finishes at kappa_i + h_i, its gradient reaches the
    server at c_i = h_i + 2 kappa_i; the server answers at once, so its j-th gradient
    arrives at j c_i. The K-th update is the K-th smallest of {j c_i : i, j >= 1}.

    Notes
    -----
    With :math:`S = \\sum_i 1/c_i` and :math:`N(t) = \\sum_i \\lfloor t/c_i \\rfloor`,
    :math:`K/S \\le t_K \\le (K + n)/S`; only the O(n) events in that window are sorted.
    Beyond K = 2^53 (T_explicit of a large cluster) event counts are no longer exact
    integers in floating point, and the window's relative width (n/S + 2 max c)/(K/S) is
    below 1e-9: the time is then K/S.

    Paper: Sections 1.1, 4.1 (AFedPG: one upload and one download per gradient).
    """
    h = checks.times("h", h)
    kappa = checks.times("kappa", kappa, allow_zero=True)
    checks.same_length(("kappa", "h"), kappa, h)
    c = h + 2 * kappa
    S = float(np.sum(1.0 / c))
    if isinstance(K, int | np.integer) and K > checks.MAX_COUNT:
        return float(K) / S
    K = checks.count("iterations", K)
    lo = max(K / S - float(c.max()), 0.0)
    hi = (K + c.size) / S + float(c.max())
    before = np.maximum(np.floor(lo / c) - 1, 0).astype(np.int64)  # events surely < t_K
    last = np.ceil(hi / c).astype(np.int64) + 1  # events beyond are surely > t_K
    width = last - before
    agent = np.repeat(np.arange(c.size), width)
    j = np.arange(agent.size) - np.repeat(np.cumsum(width) - width, width) + 1
    times = np.sort((before[agent] + j) * c[agent])
    return float(times[K - int(before.sum()) - 1])


def round_bound(method: str, cluster: ClusterSpec, M: int = 1, *, batch: int = 1
                ) -> tuple[float | None, str]:
    """The upper bound beside the simulated round, and its source (kappa = max_i kappa_i).

    Notes
    -----
    Rennala: Lemma C.1, :math:`2\\kappa + \\min_m (\\sum_{i\\le m} 1/h_{(i)})^{-1}(M + m)`;
    Malenia: Lemma C.2, :math:`2\\kappa + h_{(n)} + \\bar h M/n`; synchronized:
    :math:`2\\kappa + b \\max_i h_i`; AFedPG: none.

    Paper: Lemmas C.1, C.2 (fixed times, Assumption 2.5); text after Theorem 4.2.
    """
    kappa = float(cluster.kappa.max())
    pattern = pattern_of(method)
    if pattern == "rennala":
        return rennala_collect_time_bound(cluster.h, M, kappa).total, "Lemma C.1"
    if pattern == "malenia":
        return malenia_collect_time_bound(cluster.h, M, kappa).total, "Lemma C.2"
    if pattern == "synchronized":
        return (2 * kappa + checks.count("batch", batch) * float(cluster.h.max()),
                "2 kappa + b max_i h_i (text after Theorem 4.2)")
    return None, "none (no per-update lemma for AFedPG)"


def predict_method(method: str, cluster: ClusterSpec, *, eps: float, L_g: float = 1.0,
                   L_h: float = 1.0, sigma: float = 1.0, Delta: float = 1.0,
                   mu: float | None = None, M: int | None = None, M_init: int | None = None,
                   iterations: int | None = None, batch: int = 1, seed: int = 0,
                   rounds: int = DEFAULT_ROUNDS) -> MethodWallclock:
    """Seconds per iteration, bound and run total of one method (see the module docstring).

    M, M_init default to Theorem 4.2's (Theorem A.1's with ``mu``); ``iterations`` (K)
    defaults to the O-form T of :mod:`theory.iterations` for this method and batch; the
    total at T_explicit is given too where the paper has explicit constants.
    """
    checks.choice("method", method, WALLCLOCK_METHODS)
    cluster = _check_cluster(cluster)
    if M is None or M_init is None:
        if mu is None:
            thm = batch_sizes(eps, L_g, L_h, sigma, Delta)
        else:
            thm = global_batch_sizes(eps, mu, L_g, L_h, sigma)
        M = thm.M if M is None else M
        M_init = thm.M_init if M_init is None else M_init
    M, M_init = checks.count("M", M), checks.count("M_init", M_init)
    if iterations is not None:
        iterations = checks.count("iterations", iterations)
        if iterations > MAX_ITERATIONS:
            raise ValueError(f"iterations: {iterations} exceeds {MAX_ITERATIONS:.0e}")
    pattern = pattern_of(method)
    if pattern in COUNTED_PATTERNS:  # name the batch that is too large
        _check_round_size(method, "M_init", M_init)
        _check_round_size(method, "M", M)
    counts = _iterations(pattern, cluster.n, batch, eps, L_g, L_h, sigma, Delta, mu, M, M_init)
    K = counts.T if iterations is None else iterations
    k_source = f"T ({counts.source}, O-form, constant 1)" if iterations is None else "given"
    seed_round, seed_init = (int(s.generate_state(1)[0])
                             for s in np.random.SeedSequence(seed).spawn(2))
    per = round_seconds(method, cluster, M, batch=batch, seed=seed_round, rounds=rounds)
    bound, bound_src = round_bound(method, cluster, M, batch=batch)
    if pattern in COUNTED_PATTERNS:
        init = round_seconds(method, cluster, M_init, seed=seed_init, rounds=rounds)
        rule = "first round with M_init, then K rounds with M (Algorithm 1 lines 2, 6)"

        def total(k):
            return init.mean + k * per.mean, math.sqrt(init.std**2 + k * per.std**2)
    elif pattern == "synchronized":
        init = per
        rule = "K + 1 synchronized rounds (Algorithm 1 lines 2, 6; b gradients per agent)"

        def total(k):
            return (k + 1) * per.mean, math.sqrt(k + 1) * per.std
    else:
        init = RoundSeconds(method, 0.0, 0.0, np.zeros(1), 0)
        fixed = cluster.timing == "fixed"
        rule = ("time of the K-th server update (exact)" if fixed else
                "K x long-run gap between server updates")

        def total(k):
            if fixed:
                return greedy_update_time(cluster.h, cluster.kappa, k), 0.0
            return k * per.mean, None
    t_K, s_K = total(K)
    t_exp = None if counts.T_explicit is None else total(counts.T_explicit)[0]
    gradients = per.gradients if pattern != "greedy" else 1
    return MethodWallclock(
        method, gradients, M_init if pattern in COUNTED_PATTERNS else None,
        per.mean, per.std, init.mean, bound, bound_src, K, k_source, t_K, s_K,
        counts.T_explicit, t_exp, per.samples.size, rule)


def predict_wallclock(cluster: ClusterSpec, methods=WALLCLOCK_METHODS, **kwargs
                      ) -> dict[str, MethodWallclock]:
    """:func:`predict_method` for each of ``methods`` (default all four)."""
    return {m: predict_method(m, cluster, **kwargs) for m in methods}


# --- internals ---------------------------------------------------------------------------
def _check_cluster(cluster) -> ClusterSpec:
    if not isinstance(cluster, ClusterSpec):
        raise ValueError(f"cluster must be a ClusterSpec, got {type(cluster).__name__}")
    return cluster


def _check_round_size(method: str, name: str, gradients: int) -> None:
    if gradients > MAX_ROUND_GRADIENTS:
        raise ValueError(f"{name}: a {method} round of {gradients} gradients exceeds the "
                         f"simulation limit of {MAX_ROUND_GRADIENTS} (memory); choose a "
                         "smaller batch or a larger eps")


def _clock(cluster: ClusterSpec, seed: int):
    from algorithms.sim.clock import make_clock

    return make_clock(**cluster.clock_kwargs(), seed=seed)


def _plan(pattern: str):
    from algorithms.aggregation import plan_malenia, plan_rennala

    return plan_rennala if pattern == "rennala" else plan_malenia


def _synchronized_plan(batch: int):
    from algorithms.aggregation.synchronized import close_synchronous, synchronous_timeline

    def plan(clock, _per_round):
        start, finish, s = synchronous_timeline(clock, batch, "synchronized")
        counts = np.full(clock.n, batch, dtype=np.int64)
        return close_synchronous(clock, "synchronized", start, finish, s, counts,
                                 np.ones(clock.n, dtype=bool), 0)

    return plan


class _PlanOnlyOracle:
    """An oracle of dimension 0: AsyncGreedy runs its timeline, no gradient is computed."""

    dim = 0

    def sample_gradients(self, theta, agents, rng):
        return np.zeros((len(agents), 0))


def _greedy_seconds(cluster: ClusterSpec, seed: int, rounds: int,
                    method: str = "afedpg") -> RoundSeconds:
    """AFedPG: mean = the long-run gap (sum_i 1/(h_i + 2 kappa_i))^{-1} (renewal-reward:
    exact for every timing model with mean h_i); std and samples = gaps between server
    updates simulated on the greedy clock after one warm-up update per agent (empty, std
    None, when n is too large to simulate: at least 2 n updates are needed)."""
    from algorithms.aggregation import AsyncGreedy

    n = cluster.n
    mean = 1.0 / float(np.sum(1.0 / (cluster.h + 2 * cluster.kappa)))
    if 2 * n > MAX_GREEDY_UPDATES:
        return RoundSeconds(method, mean, None, np.empty(0), 1)
    updates = min(n * (rounds + 1), MAX_GREEDY_UPDATES)
    clock = _clock(cluster, seed)
    sched = AsyncGreedy(_PlanOnlyOracle(), clock, np.random.default_rng(0))
    theta = np.zeros(0)
    sched.start(theta)
    t = np.empty(updates)
    for u in range(updates):
        agent, _g, _theta, rec = sched.step()
        t[u] = rec.arrival
        sched.send(agent, theta)
    gaps = np.diff(t[n - 1:])  # after every agent's first update (the warm-up)
    return RoundSeconds(method, mean, float(gaps.std()), gaps, 1)


def _iterations(pattern, n, batch, eps, L_g, L_h, sigma, Delta, mu, M, M_init
                ) -> IterationCounts:
    if pattern == "synchronized":
        return sync_iterations(n, batch, eps, L_g, L_h, sigma, Delta, mu=mu)
    if pattern == "greedy":
        return afedpg_updates(n, eps)
    return nigt_iterations(eps, L_g, L_h, sigma, Delta, M, M_init, mu=mu)


def _plain(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        v = float(v)
        if not math.isfinite(v):
            raise ValueError(f"wallclock: a predicted value is not finite ({v!r})")
        return v
    return v
