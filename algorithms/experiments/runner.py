"""Running a plan: independent runs, a process pool, shards, and per-run result files.

Every run is a pure function of (panel, method, hyperparameters, seed): theta_0 comes from
Generator ``[seed, 0]`` (the same for every method), the oracle uses ``[seed, 1]``,
evaluation k uses ``[seed, 2, k]`` (common random numbers) and the clock has fixed times.
So runs can execute in any order, in any process, on any machine, and give the same
records; ``--workers N`` and ``--shard i/k`` only decide where they run.

Unit of work. A *job* is one (panel, method): its tuning runs (every grid point on every
tuning seed), then, once they are scored, its reported runs (every seed) with the best
grid point. Shards split the jobs (longest first, to the least loaded shard); workers split
the runs of the shard's jobs. Each finished run is written at once to
``OUT/runs/PANEL/METHOD/{tune-gK,report}-sS.json`` (atomically), stamped with the plan's
id, so a killed shard rerun with the same arguments resumes where it stopped and shards
of one plan can share a folder or be merged from several.

Paper: Appendix H (seeds, tuning, common start per seed).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from algorithms.blas import set_blas_threads
from algorithms.experiments.planning import ETA, Budget, PanelPlan, Plan
from algorithms.methods.base import tuning_grid
from algorithms.run.report import time_average
from theory import checks


# ----------------------------------------------------------------------------- one run
class GridEvaluator:
    """evaluate(theta) for :func:`algorithms.run.run_method`: the average return at the first
    record at or after each grid time ``k T / points`` (NaN otherwise).

    Reads the run's clock; grid point k of seed ``seed`` uses the Generator ``[seed, 2, k]``.
    """

    def __init__(
        self, oracle: Any, clock: Any, max_time: float, points: int, episodes: int, seed: int
    ) -> None:
        self.oracle, self.clock = oracle, clock
        self.step = max_time / checks.count("eval_points", points)
        self.points, self.episodes, self.seed = points, episodes, seed
        self.last = -1

    def __call__(self, theta: np.ndarray) -> tuple[float, float]:
        k = min(int(self.clock.now // self.step), self.points)
        if k <= self.last:
            return math.nan, math.nan
        self.last = k
        rng = np.random.default_rng([self.seed, 2, k])
        return self.oracle.average_return(theta, self.episodes, rng), math.nan


def hyper_grid(spec: Any, budget: Budget) -> list[dict[str, float]]:
    """Candidate hyperparameters of ``spec``: eta = 0.1, alpha x (M = M_init) grids."""
    return tuning_grid(spec, budget.alphas, budget.Ms, fixed={"eta": ETA})


def theta0_for(oracle: Any, seed: int, perturb: float = 0.0) -> np.ndarray:
    """theta_0 of seed ``seed``: ``[seed, 0]``, plus ``perturb * N(0, I)`` from ``[seed, 4]``."""
    theta0 = oracle.init_theta(np.random.default_rng([seed, 0]))
    if perturb:
        theta0 = theta0 + perturb * np.random.default_rng([seed, 4]).standard_normal(theta0.size)
    return theta0


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
    timing of a ``--cluster`` file; the figures' scenarios have fixed times).
    """
    from algorithms.run import run_method
    from algorithms.sim.clock import make_clock

    clock = make_clock(pp.h, pp.kappa, timing=pp.timing, seed=seed, **dict(pp.options))
    theta0 = theta0_for(oracle, seed, perturb)
    ev = GridEvaluator(oracle, clock, pp.max_time, budget.eval_points, budget.eval_episodes, seed)
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
    res.meta.update(seed=seed, wall_seconds=time.perf_counter() - t0, panel=pp.panel.key)
    if oracle.n_envs > 1:
        res.meta["final_return_per_env"] = per_env_returns(
            oracle, res.theta, budget.eval_episodes, seed
        )
    return res


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


def final_return(records: Any) -> float:
    """The last evaluated return of a run (NaN if none)."""
    return next((r.J for r in reversed(records) if not math.isnan(r.J)), math.nan)


def auc_score(records: Any, max_time: float, points: int = 200) -> float:
    """Time-average of the evaluated return over [0, T]
    (:func:`algorithms.run.report.time_average`): the tuning score and the second metric of
    the verdicts."""
    return time_average(records, "J", max_time, points)


# ----------------------------------------------------------------------------- tasks
@dataclass(frozen=True)
class Task:
    """One run: panel index, method, phase (``tune`` / ``report``), grid index, seed."""

    panel: int
    method: str
    phase: str
    grid: int
    seed: int

    def path(self, plan: Plan) -> str:
        pkey = plan.panels[self.panel].panel.key
        g = f"-g{self.grid}" if self.phase == "tune" else ""
        return f"runs/{pkey}/{self.method}/{self.phase}{g}-s{self.seed}.json"


def jobs_of(plan: Plan) -> list[tuple[int, str]]:
    """Every (panel index, method) of the plan, in plan order."""
    return [(i, m) for i in range(len(plan.panels)) for m in plan.experiment.methods]


def job_cost(plan: Plan, job: tuple[int, str]) -> int:
    """Runs of a job (grid points x tuning seeds + seeds): the shards' load estimate."""
    from algorithms.methods.registry import get

    grid = hyper_grid(get(job[1]), plan.budget)
    tune = len(grid) * len(plan.tune_seeds) if len(grid) > 1 else 0
    return tune + len(plan.seeds)


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


# ----------------------------------------------------------------------------- files
def _nan_to_none(x: float) -> float | None:
    return None if isinstance(x, float) and not math.isfinite(x) else x


def run_to_json(res: Any, plan_id: str, task: Task) -> dict[str, Any]:
    """A finished run as strict JSON (NaN/inf as null)."""
    return {
        "plan_id": plan_id,
        "task": [task.panel, task.method, task.phase, task.grid, task.seed],
        "method": res.method,
        "hyper": res.hyper,
        "hyper_source": res.hyper_source,
        "records": [[_nan_to_none(float(v)) for v in r.__dict__.values()] for r in res.records],
        "meta": {k: v for k, v in res.meta.items() if k != "panel"},
    }


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
    """Write strict JSON to ``path`` through a temporary file private to this process."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, indent=1, sort_keys=True, allow_nan=False) + "\n")
    os.replace(tmp, path)


def read_run(path: Path, plan_id: str) -> dict[str, Any] | None:
    """The run stored at ``path`` if it belongs to plan ``plan_id`` (else None)."""
    try:
        blob = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(blob, dict) or blob.get("plan_id") != plan_id:
        return None
    return blob


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


def initial_returns(plan: Plan, panel: int) -> list[float]:
    """Average return of every reported seed's theta_0 (evaluation Generator ``[s, 2, 0]``)."""
    pp = plan.panels[panel]
    oracle = _oracle(pp.panel.env_id, pp.H, plan.experiment.heterogeneous)
    return [
        oracle.average_return(
            theta0_for(oracle, s, plan.perturb),
            plan.budget.eval_episodes,
            np.random.default_rng([s, 2, 0]),
        )
        for s in plan.seeds
    ]


def _pool(workers: int, blas_threads: int) -> ProcessPoolExecutor:
    import multiprocessing

    # fork where the platform has it: workers start in milliseconds with the modules already
    # imported (spawn re-imports torch and gymnasium, seconds per worker). Safe here: the
    # parent never runs a torch operation (gradients are numpy), so no torch thread pool
    # exists to be broken by the fork.
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    return ProcessPoolExecutor(workers, ctx, initializer=set_blas_threads,
                               initargs=(blas_threads,))  # fmt: skip


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


def select(rows: list[dict[str, Any]]) -> dict[str, float]:
    """The tuning winner: highest mean time-average score (ties: first grid point)."""
    return max(rows, key=lambda r: r["score"])["hyper"]


def run_plan(
    plan: Plan,
    out: Path,
    workers: int = 1,
    shard: tuple[int, int] = (0, 1),
    log: Callable[[str], None] = lambda s: None,
    blas_threads: int = 1,
) -> list[tuple[int, str]]:
    """Run the jobs of ``shard`` of ``plan`` into ``out`` with ``workers`` processes (each
    with ``blas_threads`` BLAS threads, :mod:`algorithms.blas`); runs already
    stored for this plan are reused. Returns the shard's jobs."""
    from algorithms.methods.registry import get

    set_blas_threads(blas_threads)
    jobs = shard_jobs(plan, shard)
    grids = {j: hyper_grid(get(j[1]), plan.budget) for j in jobs}
    tasks_total = sum(job_cost(plan, j) for j in jobs)
    if workers > 1:  # build the oracles before the pool forks: every worker inherits them
        for p in sorted({j[0] for j in jobs}):
            pp = plan.panels[p]
            _oracle(pp.panel.env_id, pp.H, plan.experiment.heterogeneous)
    pool = _Inline() if workers == 1 else _pool(workers, blas_threads)
    pending: dict[Any, tuple[Task, Path]] = {}
    done = {"n": 0}
    t_start = time.perf_counter()

    def finish(task: Task, path: Path, blob: dict[str, Any], reused: bool) -> None:
        if not reused:
            write_atomic(path, blob)
        done["n"] += 1
        el = time.perf_counter() - t_start
        eta = el / done["n"] * (tasks_total - done["n"])
        res = run_from_json(blob)
        g = "" if task.phase == "report" else f" g{task.grid}"
        took = " (stored)" if reused else f" ({res.meta['wall_seconds']:.1f} s)"
        log(
            f"[{done['n']}/{tasks_total}] ETA {_fmt_s(eta)} | "
            f"{plan.panels[task.panel].panel.key} {task.method} {task.phase}{g} "
            f"seed {task.seed}: final {final_return(res.records):.4g}{took}"
        )

    def submit(task: Task, hyper: Mapping[str, float], source: str) -> dict | None:
        path = out / task.path(plan)
        stored = read_run(path, plan.plan_id)
        if stored is not None:
            finish(task, path, stored, True)
            return stored
        pending[pool.submit(execute, plan, task, dict(hyper), source)] = (task, path)
        return None

    tuned: dict[tuple[int, str], list] = {}
    try:
        init = {}
        for p in sorted({j[0] for j in jobs}):
            ipath = out / f"runs/{plan.panels[p].panel.key}/initial.json"
            if read_run(ipath, plan.plan_id) is None:
                init[pool.submit(initial_returns, plan, p)] = ipath
        for j in jobs:
            grid = grids[j]
            if len(grid) > 1:
                tuned[j] = [None] * (len(grid) * len(plan.tune_seeds))
                for g, cand in enumerate(grid):
                    for s in plan.tune_seeds:
                        submit(Task(j[0], j[1], "tune", g, s), cand, "tuned")
            else:
                src = f"{plan.budget.name} budget (one grid point, not tuned)"
                for s in plan.seeds:
                    submit(Task(j[0], j[1], "report", 0, s), grid[0], src)
        _launch_ready(plan, out, jobs, grids, tuned, submit)
        while pending:
            if workers > 1:
                fs, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            else:
                fs = [next(iter(pending))]  # one run at a time, in submission order
            for f in fs:
                task, path = pending.pop(f)
                finish(task, path, f.result(), False)
            _launch_ready(plan, out, jobs, grids, tuned, submit)
        for f, ipath in init.items():
            write_atomic(ipath, {"plan_id": plan.plan_id, "initial": f.result()})
    finally:
        pool.shutdown(cancel_futures=True)
    return jobs


def _launch_ready(plan, out, jobs, grids, tuned, submit) -> None:
    """Submit the reported runs of every job whose tuning runs are all stored."""
    for j in jobs:
        if j not in tuned or tuned[j] == "launched":
            continue
        rows = tuning_rows(plan, out, j, grids[j])
        if rows is None:
            continue
        tuned[j] = "launched"
        best = select(rows)
        for s in plan.seeds:
            submit(Task(j[0], j[1], "report", 0, s), best, "tuned")


def tuning_rows(
    plan: Plan, out: Path | list[Path], job: tuple[int, str], grid: list[dict[str, float]]
) -> list[dict[str, Any]] | None:
    """Per grid point: hyperparameters, mean time-average score (the tuning score) and mean
    final return over the tuning seeds; None while a tuning run is missing."""
    rows = []
    T = plan.panels[job[0]].max_time
    for g, cand in enumerate(grid):
        auc, fin = [], []
        for s in plan.tune_seeds:
            blob = find_run(plan, out, Task(job[0], job[1], "tune", g, s))
            if blob is None:
                return None
            res = run_from_json(blob)
            auc.append(auc_score(res.records, T))
            fin.append(final_return(res.records))
        rows.append({"hyper": cand, "score": float(np.mean(auc)),
                     "score_final": float(np.mean(fin))})  # fmt: skip
    return rows


def find_run(plan: Plan, out: Path | list[Path], task: Task) -> dict[str, Any] | None:
    """The stored run of ``task`` in ``out`` (or the first of several folders holding it)."""
    for d in [out] if isinstance(out, Path) else out:
        blob = read_run(Path(d) / task.path(plan), plan.plan_id)
        if blob is not None:
            return blob
    return None


def _fmt_s(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"
