"""Running a plan: independent runs, a process pool, shards, and per-run result files.

Every run is a pure function of (panel, method, hyperparameters, seed): theta_0 comes from
Generator ``[seed, 0]`` (the same for every method), the oracle uses ``[seed, 1]``,
evaluation k uses ``[seed, 2, k]`` (common random numbers) and the clock has fixed times.
So runs can execute in any order, in any process, on any machine, and give the same
records; ``--workers N`` and ``--shard i/k`` only decide where they run.

Evaluation at exactly T. A run is evaluated at the grid times t_k = k T / P, k = 0..P
(P = the budget's ``eval_points``), each time on *the state at t_k*: the parameters after
the last update at or before t_k (theta_0 before the first update). The final return is
the evaluation at t_P = T, the time-averaged return the trapezoidal mean of the P + 1
evaluations over [0, T]. A method whose last update falls past T is judged on the state
before it, so no method gains time from the granularity of its updates
(:class:`GridEvaluator`).

Unit of work. A *job* is one (panel, method): its tuning runs (the search of
:mod:`algorithms.experiments.tuning`, stage by stage, on every tuning seed), then, once
every search is decided, its reported runs (every seed) with each metric's winner and
runner-up. Shards split the jobs (longest first, to the least loaded shard); workers split
the runs of the shard's jobs. Each finished run is written at once to
``OUT/runs/PANEL/METHOD/{tune,report}-CONFIG-sS.json`` (atomically), stamped with the
plan's id, so a killed shard rerun with the same arguments resumes where it stopped and
shards of one plan can share a folder or be merged from several.

Paper: Appendix H (seeds, tuning, common start per seed).
"""

from __future__ import annotations

import functools
import json
import math
import os
import signal
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from algorithms.blas import set_blas_threads
from algorithms.experiments.planning import ETA, Budget, PanelPlan, Plan
from algorithms.experiments.tuning import config_key, search
from algorithms.methods.base import tuning_grid
from theory import checks, jsonio

#: run files keep at most this many records (evenly thinned; the first, the last at or
#: before T and the last are always kept): the verdicts read the evaluation curve
KEEP_RECORDS = 256


# ----------------------------------------------------------------------------- one run
class GridEvaluator:
    """evaluate(theta) for :func:`algorithms.run.run_method`: the average return of the
    state at each grid time t_k = k T / points (the last update at or before t_k).

    It is called after every update with the new parameters, while the clock reads the
    update's time: every grid time before that time not yet evaluated is evaluated on the
    parameters of the previous call (theta_0 before the first). :meth:`finish` evaluates
    the grid times the run did not pass (at or after its last update) on its final
    parameters. Grid point k uses the Generator ``[seed, 2, k]``. The evaluations are in
    :attr:`curve` as (t_k, J_k); the records get NaN.
    """

    def __init__(self, oracle: Any, clock: Any, max_time: float, points: int, episodes: int,
                 seed: int, theta0: np.ndarray) -> None:
        self.oracle, self.clock = oracle, clock
        self.points = checks.count("eval_points", points)
        self.times = [max_time * k / self.points for k in range(self.points + 1)]
        self.episodes, self.seed = episodes, seed
        self.prev = np.array(theta0, dtype=float)
        self.curve: list[tuple[float, float]] = []
        #: the parameters evaluated at the last grid time so far (the state at T at the end)
        self.last_theta = self.prev

    def _evaluate(self, theta: np.ndarray, until: float | None) -> None:
        while len(self.curve) <= self.points:
            k = len(self.curve)
            t = self.times[k]
            if until is not None and not t < until:
                break
            rng = np.random.default_rng([self.seed, 2, k])
            self.curve.append((t, float(self.oracle.average_return(theta, self.episodes, rng))))
            self.last_theta = theta

    def __call__(self, theta: np.ndarray) -> tuple[float, float]:
        self._evaluate(self.prev, float(self.clock.now))
        self.prev = np.array(theta, dtype=float)
        return math.nan, math.nan

    def finish(self, theta: np.ndarray) -> list[tuple[float, float]]:
        """Evaluate the remaining grid times on ``theta`` (the run's final state)."""
        self._evaluate(np.asarray(theta, dtype=float), None)
        return self.curve


def hyper_grid(spec: Any, budget: Budget, Ms: tuple[int, ...] | None = None
               ) -> list[dict[str, float]]:
    """Every point of ``spec``'s alpha x (M = M_init) grid, eta = 0.1 (a ``grid`` search)."""
    return tuning_grid(spec, budget.alphas, Ms or budget.Ms, fixed={"eta": ETA})


def theta0_for(oracle: Any, seed: int, perturb: float = 0.0) -> np.ndarray:
    """theta_0 of seed ``seed``: ``[seed, 0]``, plus ``perturb * N(0, I)`` from ``[seed, 4]``."""
    theta0 = oracle.init_theta(np.random.default_rng([seed, 0]))
    if perturb:
        theta0 = theta0 + perturb * np.random.default_rng([seed, 4]).standard_normal(theta0.size)
    return theta0


def curve_metrics(curve: list[tuple[float, float]] | list[list[float]]) -> tuple[float, float]:
    """(final, average): the evaluation at T and the trapezoidal mean of the evaluations
    at t_k = k T / P over [0, T].

    Notes
    -----
    .. math:: J_{final} = J(t_P),\\quad \\bar J = \\frac{1}{P}\\Big(\\frac{J_0 + J_P}{2}
              + \\sum_{k=1}^{P-1} J_k\\Big)

    Paper: our choice (Appendix H does not state how it scores).
    """
    J = np.array([c[1] for c in curve], dtype=float)
    if J.size == 0:
        return math.nan, math.nan
    if J.size == 1:
        return float(J[0]), float(J[0])
    return float(J[-1]), float((J.sum() - 0.5 * (J[0] + J[-1])) / (J.size - 1))


def run_one(
    spec: Any,
    oracle: Any,
    pp: PanelPlan,
    budget: Budget,
    seed: int,
    hyper: Mapping[str, float],
    source: str = "tuned",
    perturb: float = 0.0,
) -> Any:
    """One run of ``spec`` on panel ``pp`` with run seed ``seed``; ``source`` labels where
    the values in ``hyper`` other than eta came from.

    theta_0 is drawn from ``[seed, 0]`` (the same for every method), the oracle's Generator
    is ``[seed, 1]``; the clock's seed is the run seed (it matters only with the random
    timing of a ``--cluster`` file; the figures' scenarios have fixed times). The result's
    ``meta`` holds the evaluation ``curve`` (:class:`GridEvaluator`), ``final_return`` and
    ``average_return`` (:func:`curve_metrics`), and ``steps`` / ``gradients``: the server
    updates and gradients evaluated at or before T.
    """
    from algorithms.run import run_method
    from algorithms.sim.clock import make_clock

    clock = make_clock(cluster=pp.cluster, seed=seed)
    theta0 = theta0_for(oracle, seed, perturb)
    ev = GridEvaluator(oracle, clock, pp.max_time, budget.eval_points, budget.eval_episodes,
                       seed, theta0)
    sources = {k: ("Appendix H" if k == "eta" else source) for k in hyper}
    t0 = time.perf_counter()
    res = run_method(
        spec,
        oracle,
        clock,
        np.random.default_rng([seed, 1]),
        theta0,
        hyper=hyper,
        hyper_source=sources,
        max_time=pp.max_time,
        evaluate=ev,
    )
    curve = ev.finish(res.theta)
    final, average = curve_metrics(curve)
    at_T = [r for r in res.records if r.time <= pp.max_time]
    last = at_T[-1] if at_T else res.records[0]
    res.meta.update(
        seed=seed, wall_seconds=time.perf_counter() - t0, panel=pp.panel.key,
        curve=[[t, J] for t, J in curve], final_return=final, average_return=average,
        steps=int(last.iteration) if at_T else 0,
        gradients=int(last.gradients_evaluated) if at_T else 0,
    )
    if oracle.n_envs > 1:
        res.meta["final_return_per_env"] = per_env_returns(  # of the state at T
            oracle, ev.last_theta, budget.eval_episodes, seed)
    res.records = _thin(res.records, pp.max_time)
    return res


def _thin(records: list, T: float) -> list:
    if len(records) <= KEEP_RECORDS:
        return records
    keep = set(np.linspace(0, len(records) - 1, KEEP_RECORDS - 2).round().astype(int).tolist())
    at_T = [i for i, r in enumerate(records) if r.time <= T]
    keep.update({0, len(records) - 1, *(at_T[-1:])})
    return [records[i] for i in sorted(keep)]


def per_env_returns(oracle: Any, theta: np.ndarray, episodes: int, seed: int) -> list[float]:
    """Mean undiscounted return of ``theta`` in each environment of a heterogeneous oracle
    (``episodes`` episodes each, Generator ``[seed, 3, e]`` for environment e).

    In the Appendix H.3 pair, environment 0 shows (s, 0) and environment 1 (-s, 1); agent i
    uses environment i % 2, so this separates what a method learned for each agent.
    """
    out = []
    for e in range(oracle.n_envs):
        rng = np.random.default_rng([seed, 3, e])
        traj = oracle.trajectories(theta, np.full(episodes, e), rng)
        out.append(float(traj.rewards.sum(axis=1).mean()))
    return out


# ----------------------------------------------------------------------------- tasks
@dataclass(frozen=True)
class Task:
    """One run: panel index, method, phase (``tune`` / ``report``), configuration key, seed."""

    panel: int
    method: str
    phase: str
    config: str
    seed: int

    def path(self, plan: Plan) -> str:
        pkey = plan.panels[self.panel].panel.key
        return f"runs/{pkey}/{self.method}/{self.phase}-{self.config}-s{self.seed}.json"


def jobs_of(plan: Plan) -> list[tuple[int, str]]:
    """Every (panel index, method) of the plan, in plan order."""
    return [(i, m) for i in range(len(plan.panels)) for m in plan.experiment.methods]


def tuning_metrics(plan: Plan) -> tuple[str, ...]:
    """The metrics tuned, each on its own (:attr:`Plan.tuning_metrics`)."""
    return plan.tuning_metrics


def candidates(plan: Plan, method: str) -> list[dict[str, float]]:
    """The configurations a ``grid`` search would run (the budget's full grid)."""
    from algorithms.methods.registry import get

    return hyper_grid(get(method), plan.budget, plan.Ms)


def job_cost(plan: Plan, job: tuple[int, str]) -> int:
    """Runs of a job, estimated before it runs (the shards' load): grid points (staged:
    coarse + other Ms + 2 refined) x tuning seeds per tuned metric, plus the reported runs
    (winner and runner-up per metric, or the one configuration)."""
    from algorithms.methods.registry import get

    spec = get(job[1])
    grid = candidates(plan, job[1])
    if len(grid) <= 1:
        return len(plan.seeds)
    nm = len(tuning_metrics(plan))
    if plan.budget.search == "staged":
        names = {h.name for h in spec.hyper}
        points = len(plan.budget.alphas) + 2 + (len(plan.Ms) - 1 if "M" in names else 0)
    else:
        points = len(grid)
    return points * len(plan.tune_seeds) * nm + 2 * nm * len(plan.seeds)


def shard_jobs(plan: Plan, shard: tuple[int, int]) -> list[tuple[int, str]]:
    """Jobs of shard ``i`` of ``k``: longest job first to the least loaded shard (ties: the
    lower shard), so every shard gets about the same number of runs."""
    i, k = shard
    jobs = jobs_of(plan)
    order = sorted(range(len(jobs)), key=lambda j: (-job_cost(plan, jobs[j]), j))
    load = [0] * k
    mine = []
    for j in order:
        s = min(range(k), key=lambda q: (load[q], q))
        load[s] += job_cost(plan, jobs[j])
        if s == i:
            mine.append(j)
    return [jobs[j] for j in sorted(mine)]


# ----------------------------------------------------------------------------- adequacy
@functools.lru_cache(maxsize=4096)
def _count_steps(method: str, hyper: tuple, h: tuple, kappa: tuple, T: float,
                 n_envs: int) -> tuple[int, int]:
    from algorithms.methods.registry import get
    from algorithms.run import run_method
    from algorithms.sim.clock import make_clock
    from algorithms.synthetic import GaussianOracle

    oracle = GaussianOracle(np.ones((n_envs, 1)), 1.0, quadratic=True)
    res = run_method(get(method), oracle, make_clock(np.array(h), np.array(kappa)),
                     np.random.default_rng(0), np.zeros(1), hyper=dict(hyper), max_time=T,
                     evaluate=lambda th: (math.nan, math.nan))
    at_T = [r for r in res.records if r.time <= T]
    last = at_T[-1] if at_T else res.records[0]
    return int(last.iteration if at_T else 0), int(last.gradients_evaluated if at_T else 0)


def count_steps(method: str, hyper: Mapping[str, float], pp: PanelPlan,
                heterogeneous: bool = False) -> tuple[int, int] | None:
    """(server updates, gradients evaluated) of ``method`` with ``hyper`` in T on panel
    ``pp``, counted on the clock with a one-dimensional synthetic oracle (exact for fixed
    times: the counts do not depend on the gradients); None for random times."""
    if pp.timing != "fixed":
        return None
    keep = {k: float(v) for k, v in hyper.items() if k in ("eta", "M", "M_init", "batch")}
    keep["alpha"] = 0.01  # the step size moves theta, never the clock: one count per M
    from algorithms.methods.registry import get

    names = {h.name for h in get(method).hyper}
    keep = {k: v for k, v in keep.items() if k in names}
    return _count_steps(method, tuple(sorted(keep.items())), tuple(pp.h.tolist()),
                        tuple(pp.kappa.tolist()), float(pp.max_time), 2 if heterogeneous else 1)


def _inadequacy(plan: Plan, p: int, method: str) -> Callable[[dict], int | None] | None:
    """For a staged search: a configuration's update count when below the minimum."""
    from algorithms.experiments.judging import min_steps

    if plan.budget.search != "staged" or plan.panels[p].timing != "fixed":
        return None

    def short(c: dict) -> int | None:
        n = count_steps(method, c, plan.panels[p], plan.experiment.heterogeneous)
        return n[0] if n is not None and n[0] < min_steps(c) else None

    return short


# ----------------------------------------------------------------------------- files
def run_to_json(res: Any, plan_id: str, task: Task) -> dict[str, Any]:
    """A finished run as strict JSON (:func:`theory.jsonio.strict`: NaN/inf as null with a
    ``*_reason``), the same dict in memory as in its file."""
    return jsonio.strict({
        "plan_id": plan_id,
        "task": [task.panel, task.method, task.phase, task.config, task.seed],
        "method": res.method,
        "hyper": res.hyper,
        "hyper_source": res.hyper_source,
        "records": [[float(v) for v in r.__dict__.values()] for r in res.records],
        "meta": {k: v for k, v in res.meta.items() if k != "panel"},
    })


def run_from_json(blob: Mapping[str, Any]) -> Any:
    """Inverse of :func:`run_to_json` (theta is not stored)."""
    from algorithms.run import IterationRecord, RunResult

    recs = []
    for row in blob["records"]:
        v = [math.nan if x is None else x for x in row]
        recs.append(IterationRecord(int(v[0]), v[1], int(v[2]), int(v[3]), int(v[4]), *v[5:]))
    return RunResult(
        blob["method"], dict(blob["hyper"]), dict(blob["hyper_source"]), recs, np.empty(0),
        dict(blob["meta"]),
    )  # fmt: skip


def write_atomic(path: Path, payload: Mapping[str, Any]) -> None:
    """Write strict JSON to ``path`` atomically (:func:`algorithms.run.outputs.write_json`:
    a temporary file private to this process, renamed over ``path``)."""
    from algorithms.run.outputs import write_json

    write_json(path, payload, indent=1, sort_keys=True)


class CorruptRunError(ValueError):
    """A run file of the plan exists but cannot be read (truncated, not JSON, wrong shape)."""


_RUN_KEYS = ("plan_id", "task", "method", "hyper", "hyper_source", "records", "meta")


def read_run(path: Path, plan_id: str, strict: bool = False) -> dict[str, Any] | None:
    """The run stored at ``path`` if it belongs to plan ``plan_id`` (else None).

    An unreadable file (truncated by a killed writer outside :func:`write_atomic`, not
    JSON, not a run) is None, or with ``strict`` a :class:`CorruptRunError` naming it.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        if strict:
            raise CorruptRunError(f"{path}: cannot read ({exc.strerror})") from None
        return None
    try:
        blob = json.loads(raw.decode("utf-8"))
        ok = isinstance(blob, dict) and all(k in blob for k in _RUN_KEYS) \
            and isinstance(blob["meta"], dict) and "curve" in blob["meta"]
    except (ValueError, UnicodeDecodeError):
        ok = False
    if not ok:
        if strict:
            raise CorruptRunError(f"{path}: corrupt run file (truncated or not a run of "
                                  "apga experiment); delete it and rerun its shard")
        return None
    if blob.get("plan_id") != plan_id:
        return None
    return blob


def run_summary(blob: Mapping[str, Any]) -> dict[str, Any]:
    """What the tuning and the summary read of a stored run."""
    m = blob["meta"]
    return {"final": _num(m.get("final_return")), "average": _num(m.get("average_return")),
            "steps": int(m.get("steps", 0)), "gradients": int(m.get("gradients", 0)),
            "curve": [[float(t), _num(J)] for t, J in m["curve"]],
            "wall_seconds": float(m.get("wall_seconds", 0.0)), "hyper": dict(blob["hyper"]),
            "hyper_source": dict(blob["hyper_source"]),
            "final_return_per_env": m.get("final_return_per_env")}  # fmt: skip


def _num(x: Any) -> float:
    return math.nan if x is None else float(x)


# ----------------------------------------------------------------------------- jobs
@dataclass
class JobState:
    """Where a job stands: the runs it still needs, and when complete its outcome."""

    need: list[tuple[Task, dict[str, float], str]]
    tuning: dict[str, dict[str, Any]] | None = None
    reported: dict[str, dict[str, float]] | None = None


def replay_job(plan: Plan, job: tuple[int, str],
               fetch: Callable[[Task], dict[str, Any] | None]) -> JobState:
    """The job's state from the runs ``fetch`` finds: the next runs it needs (all tuning
    seeds of the current stage's configurations, or the reported runs of the winners and
    runner-ups), or, with every run present, the tuning tables and reported configs."""
    from algorithms.methods.registry import get

    p, method = job
    spec = get(method)
    b = plan.budget
    grid = candidates(plan, method)
    if len(grid) <= 1:
        hyper = grid[0]
        key = config_key(hyper)
        src = f"{b.name} budget (one grid point, not tuned)"
        need = [(Task(p, method, "report", key, s), hyper, src) for s in plan.seeds
                if fetch(Task(p, method, "report", key, s)) is None]
        if need:
            return JobState(need)
        one = {"winner": key, "runner_up": None, "rows": []}
        return JobState([], {m: dict(one) for m in tuning_metrics(plan)}, {key: hyper})

    def score(metric: str) -> Callable[[dict], float | None]:
        def f(c: dict) -> float | None:
            vals = []
            for s in plan.tune_seeds:
                r = fetch(Task(p, method, "tune", config_key(c), s))
                if r is None:
                    return None
                vals.append(r[metric])
            return float(np.mean(vals))
        return f

    short = _inadequacy(plan, p, method)
    alphas = b.alphas if "alpha" in {h.name for h in spec.hyper} else ()
    need: list[tuple[Task, dict[str, float], str]] = []
    tuning: dict[str, dict[str, Any]] = {}
    for metric in tuning_metrics(plan):
        out = search(spec, alphas, plan.Ms, b.search == "staged", score(metric), short,
                     b.refine, b.extend)
        for c in out.need:
            for s in plan.tune_seeds:
                t = Task(p, method, "tune", config_key(c), s)
                if fetch(t) is None and all(t != x[0] for x in need):
                    need.append((t, c, "tuned"))
        if out.done:
            for r in out.rows:
                if r["score"] is not None:
                    r["scores"] = [fetch(Task(p, method, "tune", r["config"], s))[metric]
                                   for s in plan.tune_seeds]
            tuning[metric] = {"winner": out.winner, "runner_up": out.runner_up,
                              "rows": out.rows}
    if need:
        return JobState(need)
    configs: dict[str, dict[str, float]] = {}
    for t in tuning.values():
        for key in (t["winner"], t["runner_up"]):
            if key is not None:
                configs[key] = next(r["hyper"] for r in t["rows"] if r["config"] == key)
    need = [(Task(p, method, "report", k, s), c, "tuned") for k, c in configs.items()
            for s in plan.seeds if fetch(Task(p, method, "report", k, s)) is None]
    if need:
        return JobState(need)
    return JobState([], tuning, configs)


# ----------------------------------------------------------------------------- workers
_ORACLES: dict[tuple[str, int, bool], Any] = {}


def _oracle(env_id: str, H: int, heterogeneous: bool) -> Any:
    from algorithms.mujoco import MujocoOracle

    key = (env_id, H, heterogeneous)
    if key not in _ORACLES:
        # blas_threads=None: run_plan has set the process's BLAS threads (--blas-threads)
        _ORACLES[key] = MujocoOracle(env_id, H, heterogeneous=heterogeneous, blas_threads=None)
    return _ORACLES[key]


def execute(plan: Plan, task: Task, hyper: Mapping[str, float], source: str) -> dict[str, Any]:
    """Run ``task`` (in whatever process) and return it as JSON; pure in its arguments."""
    from algorithms.methods.registry import get

    pp = plan.panels[task.panel]
    oracle = _oracle(pp.panel.env_id, pp.H, plan.experiment.heterogeneous)
    res = run_one(get(task.method), oracle, pp, plan.budget, task.seed, hyper, source,
                  plan.perturb)  # fmt: skip
    return run_to_json(res, plan.plan_id, task)


def _worker_init(blas_threads: int, parent: int) -> None:
    """A pool worker: one BLAS setting; dies with its parent (Linux: PR_SET_PDEATHSIG,
    so a parent killed even by SIGKILL leaves no worker behind); ignores SIGINT (a Ctrl-C
    reaches the whole process group: the parent ends the workers itself)."""
    set_blas_threads(blas_threads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):  # not Linux
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _pool(workers: int, blas_threads: int) -> ProcessPoolExecutor:
    import multiprocessing

    # fork where the platform has it: workers start in milliseconds with the modules already
    # imported (spawn re-imports torch and gymnasium, seconds per worker). Safe here: the
    # parent never runs a torch operation (gradients are numpy), so no torch thread pool
    # exists to be broken by the fork.
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    return ProcessPoolExecutor(workers, ctx, initializer=_worker_init,
                               initargs=(blas_threads, os.getpid()))  # fmt: skip


def stop_pool(pool: Any, grace: float = 2.0) -> None:
    """Shut a pool down now: cancel what has not started and end its worker processes
    (SIGTERM, then SIGKILL after ``grace`` seconds)."""
    procs = list(getattr(pool, "_processes", {}) .values()) if pool is not None else []
    try:
        pool.shutdown(wait=False, cancel_futures=True)
    except Exception:  # noqa: BLE001 - a broken pool is being ended anyway
        pass
    for p in procs:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + grace
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join(1.0)


class _Lazy:
    """A future of ``--workers 1``: the run executes when its result is first asked for, so
    runs are written (and logged) one by one as in a pool."""

    def __init__(self, fn: Callable, args: tuple) -> None:
        self.fn, self.args, self.done = fn, args, False

    def result(self) -> Any:
        if not self.done:
            self.value, self.done = self.fn(*self.args), True
        return self.value


class _Inline:
    """The pool interface, run in this process (``--workers 1``)."""

    def submit(self, fn: Callable, *args: Any) -> _Lazy:
        return _Lazy(fn, args)

    def shutdown(self, *a: Any, **k: Any) -> None:
        pass


class Terminated(KeyboardInterrupt):
    """SIGTERM received: the run stops (stored runs are kept; rerunning resumes)."""


def run_plan(
    plan: Plan,
    out: Path,
    workers: int = 1,
    shard: tuple[int, int] = (0, 1),
    log: Callable[[str], None] = lambda s: None,
    blas_threads: int = 1,
) -> list[tuple[int, str]]:
    """Run the jobs of ``shard`` of ``plan`` into ``out`` with ``workers`` processes (each
    with ``blas_threads`` BLAS threads, :mod:`algorithms.blas`); runs already stored for
    this plan are reused. Returns the shard's jobs.

    SIGTERM and SIGINT end every worker process within a few seconds and raise
    :class:`Terminated` / KeyboardInterrupt; workers also die with this process.
    """
    set_blas_threads(blas_threads)
    jobs = shard_jobs(plan, shard)
    results: dict[Task, dict[str, Any]] = {}

    def fetch(task: Task) -> dict[str, Any] | None:
        if task not in results:
            blob = read_run(out / task.path(plan), plan.plan_id)
            if blob is None:
                return None
            results[task] = run_summary(blob)
            stored.add(task)
        return results[task]

    stored: set[Task] = set()
    if workers > 1:  # build the oracles before the pool forks: every worker inherits them
        for p in sorted({j[0] for j in jobs}):
            pp = plan.panels[p]
            _oracle(pp.panel.env_id, pp.H, plan.experiment.heterogeneous)
    pending: dict[Any, Task] = {}
    submitted: set[Task] = set()
    done = {"n": 0, "new": 0}
    estimate = sum(job_cost(plan, j) for j in jobs)
    t_start = time.perf_counter()

    def progress(task: Task, r: dict[str, Any], reused: bool) -> None:
        done["n"] += 1
        total = max(estimate, done["n"] + len(pending))
        el = time.perf_counter() - t_start
        eta = el / max(done["new"], 1) * (total - done["n"]) if done["new"] else math.nan
        took = " (stored)" if reused else f" ({r['wall_seconds']:.1f} s)"
        eta_s = _fmt_s(eta) if math.isfinite(eta) else "?"
        log(f"[{done['n']}/~{total}] ETA {eta_s} | {plan.panels[task.panel].panel.key} "
            f"{task.method} {task.phase} {task.config} seed {task.seed}: "
            f"final {r['final']:.4g}{took}")

    pool: Any = None
    old = {}

    def on_signal(signum: int, frame: Any) -> None:
        raise Terminated(f"signal {signum}") if signum == signal.SIGTERM \
            else KeyboardInterrupt()

    try:
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                old[sig] = signal.signal(sig, on_signal)
        pool = _Inline() if workers == 1 else _pool(workers, blas_threads)

        def advance() -> None:
            """Submit every run the jobs need now (stored ones are read at once)."""
            changed = True
            while changed:
                changed = False
                for j in jobs:
                    before = len(stored)
                    st = replay_job(plan, j, fetch)
                    for task in stored - set(results_logged):
                        results_logged.add(task)
                        progress(task, results[task], True)
                    if len(stored) != before:
                        changed = True
                    for task, hyper, src in st.need:
                        if task in submitted:
                            continue
                        submitted.add(task)
                        pending[pool.submit(execute, plan, task, dict(hyper), src)] = task

        results_logged: set[Task] = set()
        advance()
        while pending:
            if workers > 1:
                fs, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            else:
                fs = [next(iter(pending))]  # one run at a time, in submission order
            for f in fs:
                task = pending.pop(f)
                blob = f.result()
                write_atomic(out / task.path(plan), blob)
                results[task] = run_summary(blob)
                done["new"] += 1
                progress(task, results[task], False)
            advance()
    except KeyboardInterrupt as exc:
        why = "SIGTERM" if isinstance(exc, Terminated) else "interrupt"
        raise Terminated(f"stopped by {why}; the {done['new']} runs finished here are stored "
                         f"in {out}: rerun the same command to resume") from None
    finally:
        if pool is not None:
            if workers > 1:
                stop_pool(pool)
        for sig, h in old.items():
            signal.signal(sig, h)
    return jobs


def _fmt_s(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


__all__ = ["CorruptRunError", "GridEvaluator", "JobState", "Task", "Terminated", "candidates",
           "count_steps", "curve_metrics", "execute", "hyper_grid", "job_cost", "jobs_of",
           "per_env_returns", "read_run", "replay_job", "run_from_json", "run_one",
           "run_plan", "run_summary", "run_to_json", "shard_jobs", "stop_pool",
           "theta0_for", "tuning_metrics", "write_atomic"]  # fmt: skip
