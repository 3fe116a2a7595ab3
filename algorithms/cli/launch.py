"""``apga launch``: run a method for real on torch.distributed processes."""

from __future__ import annotations

import argparse
import json
import math
import socket
import sys
import threading
import time
import uuid
from pathlib import Path

from algorithms.cli import _types as ty
from algorithms.cli._cluster import add_cluster_argument
from algorithms.distributed.spec import (
    MAX_BATCH,
    MAX_DIM,
    MAX_ITERATIONS,
    MAX_REPEATS,
    MAX_SECONDS,
)

COMMAND = "launch"
ORDER = 42
HELP = "run a method for real on torch.distributed processes (torchrun's elastic agent)"
DESCRIPTION = """Run Rennala / Malenia / Synchronized NIGT or AFedPG on real processes.

The processes are started by torch's elastic agent (the engine of torchrun) and talk
over torch.distributed (gloo). Modes (Assumption 2.5):
  allreduce (default)  every process is an agent holding theta; one all_reduce per round
  server               one extra process holds theta; agents send every gradient to it

Single machine:  apga launch --nproc 4 --method rennala_nigt --h 0.05,0.1,0.2,0.4
Multi-node (run on every node, same endpoint; the c10d store lives on the first):
  apga launch --nnodes 2 --nproc 4 --rdzv-endpoint HOST:29500 --rdzv-id myrun ...
In server mode on several nodes give --node-rank (the server runs on node 0).

--h / --kappa (comma lists in seconds, or profiles equal|sqrt|quarter; kappa also sqrt_d4)
make agent i take at least h_i seconds per gradient and kappa_i per communication
(emulated waits that the stop signal interrupts); --cluster FILE gives them (and the
timing model) from a cluster file (docs/wallclock.md). Without them the machine's real
speed is used. Default: Rennala NIGT, 2 agents, a 10-state Garnet MDP, 100 iterations, real
speed. Writes the records of `apga train` (<method>_seed<s>.csv), rounds.jsonl,
events.jsonl and summary.json into --out (default runs/launch/<method>-<mode>-<time>)."""

TABULAR_KINDS = ("tabular", "garnet", "chain", "grid")
#: Processes per node: each is a Python interpreter with torch (~250 MB) and its sockets.
MAX_NPROC = 512
MAX_NODES = 100_000
#: MuJoCo horizon bound: a trajectory keeps H x (d_s + d_a) floats per step of memory.
MAX_HORIZON = 1_000_000
FAMILY_MUJOCO = "inverted"


def add_process_arguments(p: argparse.ArgumentParser, restarts: bool = True) -> None:
    """Processes and rendezvous (torchrun's flags); shared with ``apga calibrate``."""
    r = p.add_argument_group("processes (torchrun semantics)")
    r.add_argument("--nproc", type=ty.integer(1, MAX_NPROC, "processes per node"), default=None,
                   help="agents on this node (default 2, or the --cluster file's rows; "
                   "n = nnodes x nproc)")
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


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_process_arguments(p)
    m = p.add_argument_group("method")
    m.add_argument("--method", default="rennala_nigt",
                   help="rennala_nigt | malenia_nigt | sync_nigt; server mode also "
                   "afedpg_agent (AFedPG as its paper defines it) | afedpg (server momentum)")
    batch = ty.integer(1, MAX_BATCH, "gradients per round")
    for name, typ, doc in (("eta", ty.real(0, 1, low_open=True), "momentum (default 0.1)"),
                           ("alpha", ty.real(0, low_open=True),
                            "step size (default 0.05; AFedPG 0.01)"),
                           ("M", batch, "batch of every aggregation (default 20)"),
                           ("M_init", batch, "batch of the first aggregation (default 20)"),
                           ("batch", batch, "Synchronized NIGT: gradients per agent (default 1)")):
        m.add_argument(f"--{name.replace('_', '-')}", dest=f"hp_{name}", type=typ, default=None,
                       help=doc)
    add_problem_arguments(p)
    c = p.add_argument_group("emulated cluster (seconds)")
    c.add_argument("--h", default=None, help="seconds per gradient: list or equal|sqrt|quarter")
    c.add_argument("--kappa", default=None, help="seconds per communication: number, list, "
                   "sqrt or sqrt_d4")
    c.add_argument("--timing", default=None,
                   help="fixed | exponential | lognormal | uniform (default fixed)")
    c.add_argument("--log-sigma", type=ty.real(0, 8), default=None,
                   help="lognormal spread (0.5)")
    c.add_argument("--jitter", type=ty.real(0, 1, high_open=True), default=None,
                   help="uniform jitter in [0, 1) (0.5)")
    add_cluster_argument(c)
    b = p.add_argument_group("run")
    budget = b.add_mutually_exclusive_group()
    budget.add_argument("--iterations", type=ty.integer(1, MAX_ITERATIONS), default=None,
                        help="global iterations (default 100 unless --time)")
    budget.add_argument("--time", type=ty.real(0, MAX_SECONDS, low_open=True), default=None,
                        help="wall-clock budget in seconds")
    b.add_argument("--seed", type=ty.integer(0), default=0, help="run seed (default %(default)s)")
    b.add_argument("--out", default=None, help="run folder (default runs/launch/<...>)")
    b.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    b.add_argument("--save-gradients", action="store_true",
                   help="also write gradients.npz (every aggregated gradient and its point)")
    b.add_argument("--dry-run", action="store_true",
                   help="check every argument and print the run it would start; start nothing")


# ----------------------------------------------------------------------------- validation
def _spec(args: argparse.Namespace, run_id: str):
    """Validate every argument into a RunSpec (before any process starts)."""
    from algorithms.cli._cluster import cluster_from_args
    from algorithms.distributed.spec import RunSpec
    from algorithms.methods.registry import get
    from theory import checks

    cluster = cluster_from_args(args)
    nnodes = checks.count("nnodes", args.nnodes)
    if args.nproc is None:
        args.nproc = cluster.n // nnodes if cluster is not None and cluster.n % nnodes == 0 else 2
    nproc = checks.count("nproc", args.nproc)
    n = nproc * nnodes
    if cluster is not None and cluster.n != n:
        raise ValueError(f"cluster: {cluster.source} describes {cluster.n} agents, the launch "
                         f"has {n} (--nnodes {nnodes} x --nproc {nproc})")
    checks.count("max-restarts", args.max_restarts, minimum=0)
    check_processes(args, n)
    spec = get(args.method)
    hyper = {k[3:]: v for k, v in vars(args).items() if k.startswith("hp_") and v is not None}
    unknown = [k for k in hyper if k not in {h.name for h in spec.hyper}]
    if unknown:
        raise ValueError(f"{unknown[0].replace('_', '-')}: not a hyperparameter of {spec.name}")
    spec.resolve(hyper)
    iterations, budget = args.iterations, args.time
    if iterations is None and budget is None:
        iterations = 100
    common = {"method": args.method, "mode": args.mode, "n": n, "hyper": hyper,
              "iterations": iterations, "time": budget, "seed": args.seed, "run_id": run_id,
              "timeout": args.timeout, "save_gradients": args.save_gradients,
              "restarts": args.max_restarts}
    problem, dim, heterogeneous = problem_fields(args, n)
    if heterogeneous and "heterogeneous" not in spec.settings:
        print(f"apga: warning: {spec.name} is designed for the homogeneous setting; on a "
              "heterogeneous family its estimator is biased (see Section 5)", file=sys.stderr)
    if cluster is not None:
        h, kappa = cluster.h.tolist(), cluster.kappa.tolist()
        timing, options = cluster.timing, dict(cluster.options)
    else:
        h, kappa, timing, options = _cluster_times(args, n, dim)
    return RunSpec(**common, **problem, h=h, kappa=kappa, timing=timing, timing_options=options)


def check_processes(args: argparse.Namespace, n: int) -> None:
    """Bounds on the processes of this node, checked before any starts."""
    from algorithms.distributed.spec import MAX_SECONDS, check_memory
    from theory import checks

    t = checks.positive("rdzv-timeout", args.rdzv_timeout)
    if t > MAX_SECONDS:
        raise ValueError(f"rdzv-timeout must be <= {MAX_SECONDS:g} s, got {t:g}")
    if args.nproc > MAX_NPROC:
        raise ValueError(f"nproc must be <= {MAX_NPROC} processes per node, got {args.nproc}")
    if args.env == "synthetic":
        from algorithms.distributed.spec import MAX_DIM

        d = checks.count("dim", args.dim)
        if d > MAX_DIM:
            raise ValueError(f"dim must be <= {MAX_DIM}, got {d}")
    else:
        d = 0
    check_memory(args.nproc + (getattr(args, "mode", "") == "server"), d)


def problem_fields(args: argparse.Namespace, n: int) -> tuple[dict, int | None, bool]:
    """(RunSpec fields of the problem, its dimension d if known cheaply, heterogeneous)."""
    if args.env in TABULAR_KINDS:
        from algorithms.setting import TabularSetting

        setting = TabularSetting(
            env="garnet" if args.env == "tabular" else args.env, S=args.S, A=args.A,
            gamma=0.9 if args.gamma is None else args.gamma,
            H=30 if args.H is None else args.H, mdp_seed=args.mdp_seed, family=args.family, n=n)
        tab = {k: getattr(setting, k) for k in ("env", "S", "A", "gamma", "H", "mdp_seed",
                                                 "family")}
        return {"env": "tabular", "tabular": tab}, setting.oracle().dim, args.family is not None
    if args.env == "synthetic":
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


def _cluster_times(args, n: int, dim: int | None):
    from algorithms import timing as tm

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
    import gymnasium as gym

    try:
        gym.spec(env_id)
    except Exception:  # noqa: BLE001 - gymnasium's errors vary by version
        raise ValueError(f"env: unknown environment {env_id!r} (tabular, chain, grid or a "
                         "gymnasium id such as Hopper-v4)") from None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_dir(args, spec_like: str, root: str = "runs/launch") -> Path:
    if args.out is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = Path(root) / f"{spec_like}-{stamp}-{uuid.uuid4().hex[:6]}"
    else:
        out = Path(args.out)
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            what = "is a file" if not out.is_dir() else "is not empty"
            raise ValueError(f"out: {str(out)!r} {what}; a run never writes over another "
                             "run's files, choose a new folder")
    from algorithms.outputs import writable_dir

    return writable_dir(out, "--out")


# ----------------------------------------------------------------------------- running
def run(args: argparse.Namespace) -> int:
    from algorithms.distributed.node import quiet_torch_logs
    from algorithms.distributed.spec import MODES
    from theory import checks

    quiet_torch_logs()
    checks.choice("mode", args.mode, MODES)
    endpoint, run_id = rendezvous(args)
    spec = _spec(args, run_id)
    if args.dry_run:
        return dry_run(args, spec, endpoint)
    run_dir = _run_dir(args, f"{spec.method}-{spec.mode}")
    spec.save(run_dir / "spec.json")
    progress = _Progress(run_dir, spec, enabled=not args.no_progress and sys.stderr.isatty())
    started = time.monotonic()
    try:
        code = execute(args, spec, run_dir, endpoint)
    finally:
        progress.close()
    return _report(args, spec, run_dir, code, time.monotonic() - started)


def dry_run(args: argparse.Namespace, spec, endpoint: str) -> int:
    """Print the validated run (``--json``: the spec as JSON) and start nothing."""
    if args.out is not None:
        out = Path(args.out)
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise ValueError(f"out: {str(out)!r} is not an empty folder; choose a new one")
    plan = {"spec": spec.to_json(), "endpoint": endpoint, "nnodes": args.nnodes,
            "nproc": args.nproc, "processes_here": args.nproc + (spec.mode == "server")}
    if args.json:
        from algorithms.distributed.runlog import strict

        print(json.dumps(strict(plan), indent=2, allow_nan=False))
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


def rendezvous(args: argparse.Namespace) -> tuple[str, str]:
    """(endpoint, run id) of the launch: 127.0.0.1 and a free port on one node."""
    if args.nnodes > 1 and args.rdzv_endpoint is None:
        raise ValueError(f"rdzv-endpoint: --nnodes {args.nnodes} (a multi-node launch) needs "
                         "--rdzv-endpoint HOST:PORT")
    if args.rdzv_endpoint is not None:
        _check_endpoint(args.rdzv_endpoint)
    endpoint = args.rdzv_endpoint or f"127.0.0.1:{_free_port()}"
    run_id = args.rdzv_id or (
        uuid.uuid4().hex[:12] if args.rdzv_endpoint is None
        else "apga-" + endpoint.replace(":", "-").replace(".", "-"))
    return endpoint, run_id


def execute(args: argparse.Namespace, spec, run_dir: Path, endpoint: str) -> int:
    """Start this node's processes for ``spec`` and wait for them; returns an exit code."""
    if spec.mode == "allreduce":
        return _launch_allreduce(args, spec, run_dir, endpoint)
    return _launch_server(args, spec, run_dir, endpoint)


def _check_endpoint(endpoint: str) -> None:
    host, _, port = endpoint.rpartition(":")
    ok = bool(host) and port.isdigit() and 0 < int(port) < 65536
    if not ok:
        raise ValueError(f"rdzv-endpoint must be HOST:PORT, got {endpoint!r}")


def _launch_allreduce(args, spec, run_dir: Path, endpoint: str) -> int:
    from algorithms.distributed.node import NodeConfig, first_error, run_node

    cfg = NodeConfig(
        run_dir=str(run_dir), nproc=args.nproc, nnodes=args.nnodes, endpoint=endpoint,
        run_id=spec.run_id, backend="static" if args.node_rank is not None else "c10d",
        node_rank=args.node_rank, max_restarts=getattr(args, "max_restarts", 0),
        join_timeout=args.rdzv_timeout)
    result = run_node(cfg)
    if not result.is_failed():
        return 0
    err = first_error(run_dir)
    return 2 if err and err[0] == 2 else 1


def _launch_server(args, spec, run_dir: Path, endpoint: str) -> int:
    """One elastic agent per process (the server, each agent), so that one agent's death
    ends only its own worker group; the agents run as threads of this launcher."""
    from algorithms.distributed.node import NodeConfig, RendezvousFailedError, run_node

    node_rank = args.node_rank or 0
    if args.nnodes > 1 and args.node_rank is None:
        raise ValueError("node-rank: server mode on several nodes needs --node-rank "
                         "(the server runs on node 0)")
    roles: list[list[str]] = []
    if node_rank == 0:
        roles.append(["--role", "server"])
    for j in range(args.nproc):
        roles.append(["--role", "agent", "--agent", str(node_rank * args.nproc + j)])
    results: dict[int, object] = {}

    def node(k: int, extra: list[str]) -> None:
        cfg = NodeConfig(
            run_dir=str(run_dir), nproc=1, nnodes=spec.n + 1, endpoint=endpoint,
            run_id=spec.run_id, is_host=extra[1] == "server", join_timeout=args.rdzv_timeout,
            exit_barrier=1.0, worker_args=extra)
        try:
            results[k] = run_node(cfg)
        except Exception as exc:  # noqa: BLE001 - reported by the main thread
            results[k] = exc

    threads = [threading.Thread(target=node, args=(k, extra), daemon=True)
               for k, extra in enumerate(roles)]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.2)
    outcomes = [results.get(k) for k in range(len(roles))]
    for res in outcomes:  # a rendezvous that failed anywhere is the launch's error
        if isinstance(res, RendezvousFailedError):
            raise res
    mine = outcomes[0] if node_rank == 0 else None
    if node_rank == 0:  # the server's outcome is the run's; departed agents are events
        if isinstance(mine, Exception):
            raise mine
        return 1 if mine is None or mine.is_failed() else 0
    failed = [r for r in outcomes if isinstance(r, Exception) or r.is_failed()]
    return 1 if failed else 0


def failure(run_dir: Path, code: int, what: str = "the run") -> int | None:
    """If the processes failed: write the first error a worker reported (or where the logs
    are) as one line and return the exit status (2 for bad input); else None."""
    from algorithms.distributed.node import first_error

    err = first_error(run_dir)
    if err is not None:
        sys.stderr.write(f"apga: error: {err[1]}\n")
        return 2 if err[0] == 2 else 1
    if code != 0:
        sys.stderr.write(f"apga: error: {what} failed (exit {code}); worker logs are in "
                         f"{run_dir / 'logs'}\n")
        return code if code in (1, 2) else 1
    return None


def _report(args, spec, run_dir: Path, code: int, wall: float) -> int:
    summary_path = run_dir / "summary.json"
    if code != 0 or not summary_path.exists():
        failed = failure(run_dir, code)
        if failed is not None:
            return failed
        note = (f"this node's processes finished in {wall:.1f} s; the node holding rank 0 "
                "(in server mode: the server, on node 0) wrote the records")
        if args.json:
            print(json.dumps({"run_dir": str(run_dir), "note": note}))
        else:
            print(note)
        return 0
    summary = json.loads(summary_path.read_text())
    summary["run_dir"] = str(run_dir)
    if args.json:
        print(json.dumps(summary, indent=2, allow_nan=False))
    else:
        _print_table(summary)
    return 0


def _print_table(s: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    rounds = s["rounds"]
    durations = [r["duration"] for r in rounds[1:]] or [r["duration"] for r in rounds]
    t = Table(title=f"apga launch: {s['title']} ({s['mode']}, n = {s['n']})")
    for col in ("iterations", "wall s", "s / round (median)", "gradients", "communications",
                "J", "||grad J||"):
        t.add_column(col, justify="right")
    med = sorted(durations)[len(durations) // 2] if durations else math.nan
    f = s["final"]
    t.add_row(str(s["iterations"]), f"{s['wall_seconds']:.4g}", f"{med:.4g}",
              str(f["gradients_evaluated"]), str(f["communications"]),
              "-" if f["J"] is None else f"{f['J']:.6g}",
              "-" if f["grad_norm"] is None else f"{f['grad_norm']:.4g}")
    Console(width=max(100, Console().width)).print(t)
    for e in s.get("events", []):
        print(f"  event: {json.dumps(e)}")
    print(f"records, rounds and summary written to {s['run_dir']}/")


def launch_json(out: str | Path, *args: str, timeout: float = 900.0) -> dict:
    """Run ``apga launch --out OUT --json ARGS`` in a subprocess; its summary (RuntimeError
    with the launch's error line if it fails). Used by the bench and validation checks."""
    import subprocess

    cmd = [sys.executable, "-m", "algorithms.cli.main", "launch", "--out", str(out), "--json",
           "--no-progress", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"apga launch failed ({proc.returncode}): {proc.stderr.strip()}")
    return json.loads(proc.stdout)


class _Progress:
    """A progress bar fed by the run's progress.json (written by rank 0 / the server)."""

    def __init__(self, run_dir: Path, spec, enabled: bool) -> None:
        self._stop = threading.Event()
        self._thread = None
        if not enabled:
            return
        self._path = run_dir / "progress.json"
        self._spec = spec
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        total = self._spec.iterations or self._spec.time
        with Progress(TextColumn(f"{self._spec.method} ({self._spec.mode}, n={self._spec.n})"),
                      BarColumn(), TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                      transient=True) as bar:
            task = bar.add_task("run", total=total, info="starting processes")
            while not self._stop.wait(0.25):
                try:
                    p = json.loads(self._path.read_text())
                except (OSError, ValueError):
                    continue
                done = p["iteration"] if self._spec.iterations else p["time"]
                J = p.get("J")
                info = f"iter {p['iteration']}  {p['time']:.1f} s" + (
                    "" if J is None else f"  J {J:.4g}")
                bar.update(task, completed=done, info=info)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
