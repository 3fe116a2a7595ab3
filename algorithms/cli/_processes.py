"""Arguments shared by the commands that start real processes (``apga launch``,
``apga calibrate``): the processes and rendezvous (torchrun's flags), the problem an agent
samples, and their checks before any process starts. The processes themselves are started
by :mod:`algorithms.backends.distributed.launcher`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from algorithms.backends.distributed.spec import MAX_DIM, MAX_REPEATS, MAX_SECONDS
from algorithms.cli import _types as ty

TABULAR_KINDS = ("tabular", "garnet", "chain", "grid")
#: Processes per node: each is a Python interpreter with torch (~250 MB) and its sockets.
MAX_NPROC = 512
MAX_NODES = 100_000
#: MuJoCo horizon bound: a trajectory keeps H x (d_s + d_a) floats per step of memory.
MAX_HORIZON = 1_000_000
FAMILY_MUJOCO = "inverted"
SYNTHETIC_FAMILIES = ("reward", "transition", "initial", FAMILY_MUJOCO)


def add_process_arguments(p: argparse.ArgumentParser, restarts: bool = True) -> None:
    """Processes and rendezvous (torchrun's flags); ``restarts``: also --max-restarts and
    --cluster's rows as the default agents (``apga launch``; ``apga calibrate`` has
    neither)."""
    r = p.add_argument_group("processes (torchrun semantics)")
    rows = ", or the --cluster file's rows" if restarts else ""
    r.add_argument("--nproc", type=ty.integer(1, MAX_NPROC, "processes per node"), default=None,
                   help=f"agents on this node (default 2{rows}; n = nnodes x nproc)")
    r.add_argument("--nnodes", type=ty.integer(1, MAX_NODES), default=1,
                   help="nodes (default %(default)s)")
    r.add_argument("--node-rank", type=ty.integer(0, MAX_NODES), default=None,
                   help="this node's rank: static rendezvous; server mode: the server on node 0")
    r.add_argument("--rdzv-endpoint", default=None,
                   help="host:port of the rendezvous (default: 127.0.0.1 and a free port)")
    r.add_argument("--rdzv-id", default=None, help="rendezvous id shared by all nodes")
    r.add_argument("--rdzv-timeout", type=ty.real(0, MAX_SECONDS, low_open=True), default=60.0,
                   help="seconds to wait for every node to join (default %(default)s)")
    if restarts:
        r.add_argument("--max-restarts", type=ty.integer(0, MAX_REPEATS), default=0,
                       help="restarts of the worker group after a failure (allreduce mode; "
                       "resumes from the last completed iteration)")
    r.add_argument("--timeout", type=ty.real(0, MAX_SECONDS, low_open=True), default=300.0,
                   help="seconds a process waits for its peers before failing (default 300)")
    r.add_argument("--mode", default="allreduce", help="allreduce (default) | server")


def add_problem_arguments(p: argparse.ArgumentParser) -> None:
    """The environment an agent samples; shared with ``apga calibrate``."""
    e = p.add_argument_group("problem")
    e.add_argument("--env", default="tabular",
                   help="tabular (garnet) | chain | grid | synthetic (Gaussian gradients of "
                   "dimension --dim, no simulation cost) | a gymnasium id, e.g. Hopper-v4")
    e.add_argument("--dim", type=ty.integer(1, MAX_DIM), default=1000,
                   help="dimension of --env synthetic")
    e.add_argument("--family", default=None,
                   help="heterogeneous: reward | transition | initial (tabular), "
                   "inverted (MuJoCo, Appendix H.3)")
    e.add_argument("--S", type=ty.integer(2), default=10, help="tabular states (default 10)")
    e.add_argument("--A", type=ty.integer(2), default=3, help="tabular actions (default 3)")
    e.add_argument("--H", type=ty.integer(1, MAX_HORIZON), default=None,
                   help="horizon (default: 30 tabular, 64 MuJoCo)")
    e.add_argument("--gamma", type=ty.real(0, 1, low_open=True, high_open=True), default=None,
                   help="discount (default: 0.9 tabular, 0.99 MuJoCo)")
    e.add_argument("--mdp-seed", type=ty.integer(0), default=0,
                   help="seed of the tabular MDP(s)")


def processes(args: argparse.Namespace):
    """The :class:`~algorithms.backends.distributed.launcher.Processes` of the arguments."""
    from algorithms.backends.distributed.launcher import Processes

    return Processes(nproc=args.nproc, nnodes=args.nnodes, node_rank=args.node_rank,
                     rdzv_timeout=args.rdzv_timeout,
                     max_restarts=getattr(args, "max_restarts", 0))


def check_processes(args: argparse.Namespace, n: int) -> None:
    """Bounds on the processes of this node, checked before any starts."""
    from algorithms.backends.distributed.spec import MAX_SECONDS, check_memory
    from theory import checks

    t = checks.positive("rdzv-timeout", args.rdzv_timeout)
    if t > MAX_SECONDS:
        raise ValueError(f"rdzv-timeout must be <= {MAX_SECONDS:g} s, got {t:g}")
    if args.nproc > MAX_NPROC:
        raise ValueError(f"nproc must be <= {MAX_NPROC} processes per node, got {args.nproc}")
    if args.env == "synthetic":
        from algorithms.backends.distributed.spec import MAX_DIM

        d = checks.count("dim", args.dim)
        if d > MAX_DIM:
            raise ValueError(f"dim must be <= {MAX_DIM}, got {d}")
    else:
        d = 0
    check_memory(args.nproc + (getattr(args, "mode", "") == "server"), d)


def problem_fields(args: argparse.Namespace, n: int) -> tuple[dict, int | None, bool]:
    """(RunSpec fields of the problem, its dimension d if known cheaply, heterogeneous)."""
    if args.env in TABULAR_KINDS:
        from algorithms.tabular.setting import TabularSetting

        setting = TabularSetting(
            env="garnet" if args.env == "tabular" else args.env, S=args.S, A=args.A,
            gamma=0.9 if args.gamma is None else args.gamma,
            H=30 if args.H is None else args.H, mdp_seed=args.mdp_seed, family=args.family, n=n)
        tab = {k: getattr(setting, k) for k in ("env", "S", "A", "gamma", "H", "mdp_seed",
                                                 "family")}
        return {"env": "tabular", "tabular": tab}, setting.oracle().dim, args.family is not None
    if args.env == "synthetic":
        if args.family not in (None, *SYNTHETIC_FAMILIES):
            raise ValueError(f"family: the synthetic oracle takes one of "
                             f"{', '.join(SYNTHETIC_FAMILIES)} (one mean per agent), got "
                             f"{args.family!r}")
        het = args.family is not None
        return {"env": "synthetic", "dim": args.dim, "heterogeneous": het}, args.dim, het
    if args.family not in (None, FAMILY_MUJOCO):
        raise ValueError(f"family: MuJoCo environments have only {FAMILY_MUJOCO!r} "
                         f"(Appendix H.3), got {args.family!r}")
    _check_gym_id(args.env)
    from theory import checks

    het = args.family == FAMILY_MUJOCO
    H = checks.count("H", 64 if args.H is None else args.H)
    if H > MAX_HORIZON:
        raise ValueError(f"H must be <= {MAX_HORIZON} steps, got {H}")
    problem = {"env": args.env, "horizon": H,
               "gamma": 0.99 if args.gamma is None else args.gamma, "heterogeneous": het}
    return problem, None, het


def cluster_times(args, n: int, dim: int | None):
    from algorithms.sim import timing as tm

    timing = args.timing or "fixed"
    options = {k: v for k, v in (("log_sigma", args.log_sigma), ("jitter", args.jitter))
               if v is not None}
    options = tm.check_options(timing, options)
    h = None if args.h is None else tm.resolve_times("h", args.h, n).tolist()
    kappa = None
    if args.kappa is not None:
        if str(args.kappa).strip() == "sqrt_d4" and dim is None:
            dim = _mujoco_dim(args)
        kappa = tm.resolve_kappa(args.kappa, n, dim).tolist()
    if h is None and timing != "fixed":
        raise ValueError("timing: a random timing model needs emulated times --h")
    return h, kappa, timing, options


def _mujoco_dim(args) -> int:
    from algorithms.mujoco.oracle import MujocoOracle

    oracle = MujocoOracle(args.env, 1, heterogeneous=args.family == FAMILY_MUJOCO)
    return oracle.dim


def _check_gym_id(env_id: str) -> None:
    """The environment exists, builds here and has a continuous (Box) action space: what
    every rank will need (the Gaussian policy of Appendix H)."""
    import warnings

    import gymnasium as gym

    try:
        gym.spec(env_id)
    except Exception:  # noqa: BLE001 - gymnasium's errors vary by version
        raise ValueError(f"env: unknown environment {env_id!r} (tabular, chain, grid or a "
                         "gymnasium id such as Hopper-v4)") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            env = gym.make(env_id)
    except Exception as exc:  # noqa: BLE001 - gymnasium's errors vary by version
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:160]
        raise ValueError(f"env: cannot make {env_id!r} here: {first}") from None
    try:
        space = env.action_space
        if not isinstance(space, gym.spaces.Box):
            raise ValueError(f"env: {env_id!r} has a {type(space).__name__} action space; the "
                             "policy of Appendix H needs a continuous (Box) one, e.g. Hopper-v4")
    finally:
        env.close()


def dry_run(args: argparse.Namespace, spec, endpoint: str) -> int:
    """Print the validated run (``--json``: the spec as JSON) and start nothing. Checks
    what the real run would check first: the output folder (new or empty, writable), the
    node rank, the environment (built by :func:`problem_fields`)."""
    from algorithms.backends.distributed.launcher import (
        check_new_folder,
        check_node_rank,
        check_writable_target,
        plan,
    )

    check_node_rank(processes(args), spec.mode)
    if getattr(args, "out", None) is not None:
        if not getattr(args, "resume", False):
            check_new_folder(args.out)
        check_writable_target(args.out, "--out")
    if getattr(args, "output", None) is not None:
        check_writable_target(Path(args.output).parent, "--output")
    if getattr(args, "tensorboard", None) is not None:
        check_writable_target(args.tensorboard, "--tensorboard")

    if args.json:
        from theory import jsonio

        print(jsonio.dumps(plan(spec, endpoint, processes(args)), indent=2))
    else:
        where = (f"{spec.n} agents ({args.nnodes} node(s) x {args.nproc}), env {spec.env}, "
                 f"rendezvous at {endpoint}")
        if spec.task == "calibrate":
            print(f"would measure {spec.iterations} gradients and communications of each of "
                  f"{where} ({spec.mode} mode)")
        else:
            what = "emulated" if spec.emulated else "real speed"
            budget = (f"{spec.iterations} iterations" if spec.iterations is not None
                      else f"{spec.time:g} s")
            print(f"would launch {spec.method} ({spec.mode} mode) on {where}, {what}, {budget}")
    return 0


def report_failure(run_dir, code: int, what: str = "the run", run_id: str | None = None,
                   spec=None) -> int | None:
    """If the processes failed: print the root error of the last attempt (or which process
    died, or where the logs are) as one line and return the exit status (2 for bad
    input); else None."""
    from algorithms.backends.distributed.launcher import failure

    failed = failure(run_dir, code, what, run_id=run_id, spec=spec)
    if failed is None:
        return None
    sys.stderr.write(f"apga: error: {failed[1]}\n")
    return failed[0]
