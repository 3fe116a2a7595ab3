"""What one real run is: the method, the problem, the cluster emulation and the budget.

``apga launch`` validates its arguments into a :class:`RunSpec` *before* any process is
started (so a bad argument never reaches the ranks), writes it as ``spec.json`` in the run
folder, and every rank reads it from there. Nothing here imports torch.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from theory import checks

if TYPE_CHECKING:
    from theory.cluster_file import ClusterSpec

MODES = ("allreduce", "server")
TASKS = ("run", "calibrate")


def mode_methods() -> dict[str, tuple[str, ...]]:
    """Methods each mode runs, as their registry entries declare (``MethodSpec.modes``;
    Table 1: AFedPG does not support AllReduce)."""
    from algorithms.methods.registry import REGISTRY

    return {mode: tuple(name for name, s in REGISTRY.items() if mode in s.modes)
            for mode in MODES}


def real_methods() -> list:
    """Registry entries of the methods that run on real processes (any mode)."""
    from algorithms.methods.registry import REGISTRY

    return [s for s in REGISTRY.values() if set(s.modes) & set(MODES)]
TABULAR = "tabular"
#: A Gaussian oracle of any dimension (algorithms.synthetic): no simulation cost, so a run
#: measures coordination alone (bench, calibration of communication).
SYNTHETIC = "synthetic"
#: Refuse runs whose record files would exceed this many iterations (memory and disk).
MAX_ITERATIONS = 10_000_000
#: Largest synthetic dimension; and every rank keeps about BYTES_PER_PARAMETER bytes per
#: parameter (theta, theta_prev, d, the round's sums and buffers in float64).
MAX_DIM = 10_000_000
BYTES_PER_PARAMETER = 96
#: Memory a worker process needs besides its vectors (torch, numpy, the oracle).
PROCESS_BYTES = 250 * 2**20
#: Seconds above this (31.7 years) are a unit error, not a budget or a time.
MAX_SECONDS = 1e9
#: Gradients per aggregation above this would keep one round going for hours at least.
MAX_BATCH = 10_000_000
#: Rounds of calibration, restarts, warm-up gradients: bounded so that a typo cannot hang.
MAX_REPEATS = 100_000


def _bounded(name: str, value: float, limit: float, unit: str = "") -> None:
    if value > limit:
        raise ValueError(f"{name} must be <= {limit:g}{unit}, got {value:g}")


def physical_memory() -> int | None:
    """Bytes of RAM on this machine (None where the OS does not say)."""
    import os

    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(processes: int, dim: int) -> None:
    """Refuse up front a launch whose processes cannot fit in this machine's memory."""
    mem = physical_memory()
    need = processes * (PROCESS_BYTES + BYTES_PER_PARAMETER * dim)
    if mem is not None and need > mem:
        raise ValueError(
            f"nproc: {processes} processes with d = {dim} parameters need about "
            f"{need / 2**30:.1f} GiB, this machine has {mem / 2**30:.1f} GiB")


@dataclass(frozen=True)
class RunSpec:
    """One real run (every field is JSON; ranks rebuild everything else from it).

    method, mode:  registry name and ``allreduce`` | ``server``
    n:             number of agents (ranks that compute gradients)
    env:           ``tabular``, ``synthetic`` or a gymnasium id (MuJoCo, torch policy)
    tabular:       :class:`algorithms.tabular.setting.TabularSetting` fields (env, S, A, gamma, H,
                   mdp_seed, family) when ``env == "tabular"``
    dim:           dimension d of the ``synthetic`` oracle
    horizon, gamma, heterogeneous: MuJoCo oracle options (Appendix H; H.3 pair)
    h, kappa:      emulated seconds per gradient / per communication for each agent
                   (None: no emulation, the machine's real speed)
    timing, timing_options: duration model of the emulation (:mod:`algorithms.sim.timing`)
    hyper:         given hyperparameters (eta, alpha, M, M_init, batch)
    iterations:    stop after this many global iterations (None: use ``time``)
    time:          wall-clock budget in seconds (None: use ``iterations``)
    seed:          run seed (theta_0, trajectories, random emulated durations)
    run_id:        unique id of the run (store keys, rendezvous id)
    timeout:       seconds a rank waits for its peers (a collective, a receive) before failing
    restarts:      restarts the elastic agent may do (> 0: rank 0 checkpoints every iteration)
    save_gradients: also write every aggregated gradient and its point (checks, tests)
    task:          ``run`` (the method) or ``calibrate`` (``apga calibrate``: time
                   ``iterations`` gradients per agent and as many communications, after
                   ``warmup`` untimed ones)
    rdzv_timeout:  seconds every start-up step may take (roll call, process group)
    checkpoint_every: rank 0 / the server checkpoints every this many iterations (and at
                   the end, and when a signal stops the run)
    eval_every:    MuJoCo: evaluate the policy every this many iterations on rank 0 / the
                   server (0: only at the end); eval_episodes episodes each
    tensorboard:   folder for TensorBoard scalars (None: none); a node's own path
    resume:        ``apga launch --resume``: rank 0 / the server must find a checkpoint
    """

    method: str
    mode: str
    n: int
    env: str = TABULAR
    tabular: dict[str, Any] = field(default_factory=dict)
    dim: int = 1000
    horizon: int = 64
    gamma: float = 0.99
    heterogeneous: bool = False
    h: list[float] | None = None
    kappa: list[float] | None = None
    timing: str = "fixed"
    timing_options: dict[str, float] = field(default_factory=dict)
    hyper: dict[str, float] = field(default_factory=dict)
    iterations: int | None = None
    time: float | None = None
    seed: int = 0
    run_id: str = "apga"
    timeout: float = 300.0
    restarts: int = 0
    save_gradients: bool = False
    task: str = "run"
    warmup: int = 3
    rdzv_timeout: float = 60.0
    checkpoint_every: int = 10
    eval_every: int = 0
    eval_episodes: int = 10
    tensorboard: str | None = None
    resume: bool = False

    def __post_init__(self) -> None:
        checks.choice("mode", self.mode, MODES)
        runs = mode_methods()
        if self.method not in runs[self.mode]:
            modes = [m for m, ms in runs.items() if self.method in ms]
            hint = f" (use --mode {modes[0]})" if modes else ""
            raise ValueError(
                f"method: {self.method!r} does not run in {self.mode} mode; choose one of "
                f"{', '.join(runs[self.mode])}{hint}"
            )
        checks.count("n", self.n)
        checks.count("seed", self.seed, minimum=0)
        if (self.iterations is None) == (self.time is None):
            raise ValueError("iterations: give exactly one of --iterations and --time")
        if self.iterations is not None:
            k = checks.count("iterations", self.iterations)
            if k > MAX_ITERATIONS:
                raise ValueError(f"iterations must be <= {MAX_ITERATIONS}, got {k}")
        if self.time is not None:
            _bounded("time", checks.positive("time", self.time), MAX_SECONDS, " s")
        _bounded("timeout", checks.positive("timeout", self.timeout), MAX_SECONDS, " s")
        _bounded("max-restarts", checks.count("restarts", self.restarts, minimum=0),
                 MAX_REPEATS)
        checks.choice("task", self.task, TASKS)
        _bounded("warmup", checks.count("warmup", self.warmup, minimum=0), MAX_REPEATS)
        _bounded("rdzv-timeout", checks.positive("rdzv-timeout", self.rdzv_timeout),
                 MAX_SECONDS, " s")
        _bounded("checkpoint-every", checks.count("checkpoint-every", self.checkpoint_every),
                 MAX_ITERATIONS)
        _bounded("eval-every", checks.count("eval-every", self.eval_every, minimum=0),
                 MAX_ITERATIONS)
        _bounded("eval-episodes", checks.count("eval-episodes", self.eval_episodes),
                 MAX_REPEATS)
        if self.task == "calibrate":
            _bounded("repetitions", self.iterations, MAX_REPEATS)
        for key in ("M", "M_init", "batch"):
            if key in self.hyper:
                _bounded(key, checks.count(key, self.hyper[key]), MAX_BATCH)
        for name in ("h", "kappa"):
            values = getattr(self, name)
            if values is not None:
                arr = checks.times(name, values, allow_zero=(name == "kappa"))
                _bounded(name, float(arr.max()), MAX_SECONDS, " s")
                if arr.size != self.n:
                    raise ValueError(f"length mismatch: {name} has {arr.size}, n is {self.n}")
        if self.env == SYNTHETIC:
            checks.count("dim", self.dim)
            if self.dim > MAX_DIM:
                raise ValueError(f"dim must be <= {MAX_DIM}, got {self.dim}")
        elif self.env != TABULAR:
            checks.count("horizon", self.horizon)
            checks.open_unit("gamma", self.gamma)

    # -- derived ---------------------------------------------------------------------
    @property
    def world_size(self) -> int:
        """Processes of the run: the n agents, plus the server in server mode."""
        return self.n + (self.mode == "server")

    @property
    def emulated(self) -> bool:
        return self.h is not None

    def h_times(self) -> np.ndarray | None:
        return None if self.h is None else np.asarray(self.h, dtype=float)

    def kappa_times(self) -> np.ndarray:
        return np.zeros(self.n) if self.kappa is None else np.asarray(self.kappa, dtype=float)

    @property
    def trajectory_steps(self) -> int:
        """Environment steps of one trajectory at most: the tabular H, 1 for the synthetic
        oracle, the MuJoCo horizon."""
        if self.env == TABULAR:
            return int(self.tabular.get("H", 1))
        if self.env == SYNTHETIC:
            return 1
        return int(self.horizon)

    def cluster(self) -> ClusterSpec | None:
        """The emulated cluster as the one cluster value the simulated clock, the predictions
        and the emulation all read (h_i, kappa_i, timing model and options); None at the
        machine's real speed (no ``--h``)."""
        if self.h is None:
            return None
        from theory.cluster_file import ClusterSpec

        return ClusterSpec(self.h_times(), self.kappa_times(), self.timing,
                           dict(self.timing_options))

    # -- files -----------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2, allow_nan=False) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> RunSpec:
        data = json.loads(Path(path).read_text())
        return cls(**data)
