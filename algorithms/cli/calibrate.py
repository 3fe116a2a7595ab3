"""``apga calibrate``: measure the machine(s) and write a cluster file."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

from algorithms.backends.distributed.spec import MAX_REPEATS
from algorithms.cli import _types as ty
from algorithms.cli._cluster import add_cluster_argument
from algorithms.cli._processes import (
    add_problem_arguments,
    add_process_arguments,
    check_processes,
    cluster_times,
    dry_run,
    problem_fields,
    processes,
    report_failure,
)

COMMAND = "calibrate"
ORDER = 41
HELP = "measure seconds per gradient and per communication on real processes -> a cluster file"
DESCRIPTION = """Measure this machine (or a torchrun cluster) and write a cluster file.

Starts the real backend (`apga launch`'s processes, --nproc agents per node, any torchrun
multi-node setup) and measures every primitive a run pays (docs/wallclock.md): each
agent's seconds per gradient of --env at the given horizon, alone and inside real rounds
of every aggregation pattern of the --mode (with their trajectory lengths), the store
ticket a gradient pays, the all_reduce by size and number of agents, a broadcast, the stop
signal's latency and each agent's messages to a server. With --pilot G it also runs the
run's own method (--method, --alpha, --M, ...; a comma list pilots each) for about G
gradients and records how trajectory lengths move as the policy learns.
--h/--kappa/--cluster emulate a cluster as `apga launch` does.

Writes FILE (the cluster file every command reads: h_i = agent i's mean seconds per
gradient in a round, kappa_i, one timing model fitted to the durations, comments saying
what was measured, where and when) and beside it FILE's name with .cost.json (the cost
model `apga predict --cluster FILE` uses: every sample, the primitives, the pilot). The
raw samples (calibration.json) and the processes' logs go to a folder next to the file,
FILE's name with -run."""


MAX_PILOT = 100_000


def add_arguments(p: argparse.ArgumentParser) -> None:
    from algorithms.backends.distributed.spec import MAX_BATCH

    add_process_arguments(p, restarts=False)
    add_problem_arguments(p)
    r = p.add_argument_group("the run to predict (the pilot runs it; --M also sets the "
                             "calibration rounds' batch)")
    r.add_argument("--method", default="rennala_nigt",
                   help="the run's method (default rennala_nigt); with --pilot a comma list "
                   "pilots each (those that run in --mode)")
    from algorithms.backends.distributed.spec import real_methods
    from algorithms.cli import _hyper

    _hyper.add_hyper_arguments(r, real_methods(), batch_maximum=MAX_BATCH, theory=True)
    r.add_argument("--pilot", type=ty.integer(0, MAX_PILOT), default=0, metavar="GRADIENTS",
                   help="run each --method for about this many gradients (G/M iterations; "
                   "Sync. NIGT G/(n b); AFedPG G updates) to measure how trajectory lengths "
                   "move (default 0: no pilot)")
    c = p.add_argument_group("emulated cluster (seconds), as apga launch")
    c.add_argument("--h", default=None, help="seconds per gradient: list or equal|sqrt|quarter")
    c.add_argument("--kappa", default=None, help="seconds per communication: number, list, "
                   "sqrt or sqrt_d4")
    c.add_argument("--timing", default=None,
                   help="fixed | exponential | lognormal | uniform (default fixed)")
    c.add_argument("--log-sigma", type=ty.real(0, 8), default=None, help="lognormal spread")
    c.add_argument("--jitter", type=ty.real(0, 1, high_open=True), default=None,
                   help="uniform jitter in [0, 1)")
    add_cluster_argument(c)
    from algorithms.cli._wallclock import add_theory_arguments

    add_theory_arguments(p)
    m = p.add_argument_group("measurement")
    m.add_argument("--repetitions", type=ty.integer(2, MAX_REPEATS), default=30,
                   help="timed gradients per agent and timed communications (default 30)")
    m.add_argument("--pattern-seconds", type=ty.real(0, 3600), default=None,
                   metavar="SECONDS",
                   help="measure each aggregation pattern's rounds for at least this long, "
                   "after its --repetitions rounds (default 2; 0: the repetitions only)")
    m.add_argument("--warmup", type=ty.integer(0, MAX_REPEATS), default=3,
                   help="untimed ones first (default 3)")
    m.add_argument("--seed", type=ty.integer(0), default=0,
                   help="seed of theta_0 and trajectories")
    m.add_argument("--output", default=None,
                   help="cluster file to write (default runs/calibrate/cluster-<time>.csv; "
                   "an existing file is refused)")
    m.add_argument("--json", action="store_true", help="print the result as one JSON object")
    m.add_argument("--quiet", action="store_true", help="no progress display")
    m.add_argument("--no-progress", dest="quiet", action="store_true",
                   help=argparse.SUPPRESS)  # the former name of --quiet
    m.add_argument("--dry-run", action="store_true",
                   help="check every argument and print what would be measured; start nothing")


def _output(args, probe: bool = True) -> Path:
    if args.output is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        return Path("runs/calibrate") / f"cluster-{stamp}.csv"
    path = Path(args.output)
    if str(args.output).strip() == "":
        raise ValueError("output must be a file name")
    if path.is_dir():
        raise ValueError(f"output: {str(path)!r} is a directory")
    if path.exists():
        raise ValueError(f"output: {str(path)!r} exists; choose a new file name")
    from theory.cluster_file import cost_path

    if cost_path(path).exists():
        raise ValueError(f"output: {str(cost_path(path))!r} (its cost file) exists; choose "
                         "a new file name")
    if probe:  # writable before anything is measured
        from algorithms.run.outputs import writable_dir

        writable_dir(path.parent, "--output")
    return path


def run(args: argparse.Namespace) -> int:
    from algorithms.backends.distributed import launcher
    from algorithms.backends.distributed.node import quiet_torch_logs
    from algorithms.backends.distributed.spec import MODES, RunSpec
    from algorithms.methods.registry import get
    from theory import checks

    quiet_torch_logs()
    checks.choice("mode", args.mode, MODES)
    reps = checks.count("repetitions", args.repetitions, minimum=2)
    warmup = checks.count("warmup", args.warmup, minimum=0)
    nnodes = checks.count("nnodes", args.nnodes)
    nproc = checks.count("nproc", 2 if args.nproc is None else args.nproc)
    args.nproc = nproc
    n = nproc * nnodes
    check_processes(args, n)
    output = _output(args, probe=not args.dry_run)
    endpoint, run_id = launcher.rendezvous(args.rdzv_endpoint, args.rdzv_id, args.nnodes)
    problem, dim, _ = problem_fields(args, n)
    methods = _methods(args)
    runs_here = [m for m in methods if args.mode in get(m).modes] or [methods[0]]
    args.method = runs_here[0]
    spec = RunSpec(method=args.method, mode=args.mode, n=n, iterations=reps, seed=args.seed,
                   run_id=run_id, timeout=args.timeout, task="calibrate", warmup=warmup,
                   rdzv_timeout=args.rdzv_timeout, hyper=_run_hyper(args, n, methods),
                   **_emulation(args, n, dim), **problem)
    opts = {"pilot": checks.count("pilot", args.pilot, minimum=0),
            "pilot_methods": runs_here, "M": spec.hyper.get("M"),
            # checked by its argparse type (0 .. 3600); None: calibrate's PATTERN_SECONDS
            "pattern_seconds": args.pattern_seconds}
    args.out = None
    if args.dry_run:
        return dry_run(args, spec, endpoint)
    # the processes' logs and raw samples go next to the file they explain (a new folder)
    folder = output.with_name(f"{output.stem}-run")
    k = 1
    while folder.exists():
        k += 1
        folder = output.with_name(f"{output.stem}-run-{k}")
    args.out = str(folder)
    run_dir = launcher.run_folder(folder, "")
    spec.save(run_dir / "spec.json")
    from algorithms.backends.distributed.calibrate import OPTIONS
    from algorithms.backends.distributed.runlog import dump_json

    dump_json(run_dir / OPTIONS, opts)
    stop = threading.Event()
    spinner = None
    if not args.quiet and sys.stderr.isatty():
        spinner = threading.Thread(target=_spin, args=(stop, n, reps), daemon=True)
        spinner.start()
    try:
        code = launcher.start(spec, run_dir, processes(args), endpoint)
    except launcher.Interrupted as sig:
        sys.stderr.write(f"apga: interrupted ({sig}): every process of this calibration has "
                         "stopped; nothing was written\n")
        return 128 + int(sig.signum)
    finally:
        stop.set()
        if spinner is not None:
            spinner.join(timeout=2)
    data_path = run_dir / "calibration.json"
    if code != 0 or not data_path.exists():
        failed = report_failure(run_dir, code, "calibration", run_id=spec.run_id, spec=spec)
        if failed is not None:
            return failed
        print("this node's agents were measured; the node holding rank 0 wrote the file")
        return 0
    data = json.loads(data_path.read_text())
    cluster, fit, comments, cost = build(data, spec, args)
    from theory.cluster_file import cost_path, write_cluster, write_cost

    write_cluster(output, cluster, comments, name="output")
    write_cost(cost_path(output), cost, name="output")
    from algorithms.wallclock.cost import CostModel

    model = CostModel.from_dict(cost)
    result = {"output": str(output), "cost": str(cost_path(output)), "run_dir": str(run_dir),
              "n": n, "dim": data["dim"], "mode": spec.mode, "h": cluster.h.tolist(),
              "kappa": cluster.kappa.tolist(), "timing": fit.timing,
              "options": dict(fit.options), "cv": fit.cv, "loglik": fit.loglik,
              "primitives": model.primitives()}
    if args.json:
        from theory import jsonio

        # a likelihood of -inf (a sample outside a uniform's range) is null in strict JSON,
        # with a loglik_reason
        print(jsonio.dumps(result, indent=2))
    else:
        _print(result, data)
    return 0


def _methods(args) -> list[str]:
    """--method: one name, or with --pilot a comma list (each a registry method)."""
    from algorithms.methods.registry import get

    names = [m.strip() for m in str(args.method).split(",") if m.strip()]
    if not names:
        raise ValueError(f"method: give a method name, got {args.method!r}")
    if len(names) > 1 and not args.pilot:
        raise ValueError("method: a list of methods only with --pilot (each is piloted)")
    for m in names:
        get(m)
    return list(dict.fromkeys(names))


def _run_hyper(args, n: int, methods: list[str]) -> dict:
    """The run's hyperparameters given on the command line, checked against the methods
    ('theory' values resolved as apga launch and apga predict resolve them)."""
    from algorithms.cli._wallclock import run_hyper

    return run_hyper(args, methods, n)[0]


def _emulation(args, n: int, dim) -> dict:
    """RunSpec fields of an emulated cluster (--h/--kappa/--timing or --cluster)."""
    from algorithms.cli._cluster import cluster_from_args

    cluster = cluster_from_args(args)
    if cluster is not None:
        if cluster.n != n:
            raise ValueError(f"cluster: {cluster.source} describes {cluster.n} agents, the "
                             f"calibration has {n}")
        return {"h": cluster.h.tolist(), "kappa": cluster.kappa.tolist(),
                "timing": cluster.timing, "timing_options": dict(cluster.options)}
    h, kappa, timing, options = cluster_times(args, n, dim)
    return {"h": h, "kappa": kappa, "timing": timing, "timing_options": options}


def build(data: dict, spec, args):
    """(ClusterSpec, TimingFit, comment lines, cost file content) from a calibration.json."""
    import socket

    from algorithms.wallclock.calibration import cluster_from_cost, cost_from_calibration
    from theory.cluster_file import ClusterSpec

    measured = {"host": socket.gethostname(), "time": time.strftime("%Y-%m-%d %H:%M:%S %z"),
                "command": "apga " + " ".join(sys.argv[1:]), "torch": data["torch"],
                "repetitions": data["repetitions"], "warmup": data["warmup"],
                "seed": data.get("seed", 0)}
    cost = cost_from_calibration(data, measured)
    cluster, fit = cluster_from_cost(cost)
    labels = [f"agent{i}@{host}" for i, host in enumerate(data["hosts"])]
    env = spec.env if spec.env != "tabular" else (
        f"tabular {spec.tabular['env']} S={spec.tabular['S']} A={spec.tabular['A']}")
    how = ("kappa = the median all_reduce of a round's buffer among all agents"
           if spec.mode == "allreduce" else
           f"kappa_i = half agent i's median round trip of {data['dim'] + 3} float64 to the "
           "server")
    emulated = " (emulated cluster)" if data.get("emulated") else ""
    comments = [
        f"measured by apga calibrate on {socket.gethostname()} at {measured['time']}",
        f"env {env}, horizon {data['horizon']}, d = {data['dim']} parameters, "
        f"{data['n']} agents ({spec.mode} mode){emulated}, torch {data['torch']}",
        f"h = mean seconds per gradient ({cost['gradient']['source']}, "
        f"{data['repetitions']} per agent after {data['warmup']} warm-up ones)",
        how,
        f"timing {fit.timing} fitted to the pooled t/h_i (coefficient of variation "
        f"{fit.cv:.3g}; fixed below 0.05, else the largest likelihood)",
        "cost model (every sample and primitive): the .cost.json file beside this one",
        "command: " + measured["command"],
    ]
    cluster = ClusterSpec(cluster.h, cluster.kappa, fit.timing, dict(fit.options),
                          tuple(labels))
    return cluster, fit, comments, cost


def _print(result: dict, data: dict) -> None:
    from algorithms.run.tables import Column, console, print_table

    p = result["primitives"]
    cols = [Column("agent", "left", 9), Column("host", "left", 2),
            Column("h (s/gradient)", priority=8), Column("alone", priority=4),
            Column("s/step", priority=3), Column("kappa (s)", priority=7)]
    rows = [[str(i), data["hosts"][i], f"{h:.4g}", f"{p['gradient_alone'][i]:.4g}",
             f"{p['seconds_per_step'][i]:.3g}", f"{k:.4g}"]
            for i, (h, k) in enumerate(zip(result["h"], result["kappa"], strict=True))]
    print_table(f"apga calibrate: {result['n']} agents, d = {result['dim']}, "
                f"{result['mode']} mode", cols, rows)
    out = console()
    ticket = ", ".join(f"{k} {1e3 * max(v):.3g}" for k, v in p["ticket"].items())
    out.print(f"all_reduce of a round {1e3 * p['all_reduce_round_buffer']:.3g} ms, stop "
              f"signal {1e3 * p['stop']:.3g} ms, message {1e3 * max(p['message']):.3g} ms"
              + (f", ticket (ms) {ticket}" if ticket else ""), highlight=False)
    opts = ", ".join(f"{k} = {v:.3g}" for k, v in result["options"].items())
    out.print(f"timing model: {result['timing']}{f' ({opts})' if opts else ''}; "
              f"coefficient of variation {result['cv']:.3g}", highlight=False)
    out.print(f"cluster file written to {result['output']}, cost model to "
              f"{result['cost']} (use: apga predict --cluster {result['output']})",
              highlight=False)


def _spin(stop: threading.Event, n: int, reps: int) -> None:
    from rich.console import Console

    with Console(stderr=True).status(f"measuring {n} agents x {reps} gradients ...") as status:
        t0 = time.monotonic()
        while not stop.wait(0.5):
            status.update(f"measuring {n} agents x {reps} gradients ... "
                          f"{time.monotonic() - t0:.0f} s")
