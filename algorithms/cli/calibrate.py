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
from algorithms.cli._processes import (
    add_problem_arguments,
    add_process_arguments,
    check_processes,
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
multi-node setup) and, on every agent at once, times --repetitions stochastic gradients of
--env at the given horizon (after --warmup untimed ones), then the communications of the
--mode: the round's all_reduce of d floats (allreduce) or each agent's round trip of d
floats to the server (server). Writes a cluster file (docs/wallclock.md): h_i = agent i's
mean seconds per gradient, kappa_i from the communications, one timing model fitted to
the durations, and comment lines saying what was measured, where and when. Then
`apga predict --cluster FILE` predicts runs in seconds and `apga launch --cluster FILE`
emulates the cluster elsewhere. The raw samples (calibration.json) and the processes' logs
go to a folder next to the file, FILE's name with -run."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_process_arguments(p, restarts=False)
    add_problem_arguments(p)
    m = p.add_argument_group("measurement")
    m.add_argument("--repetitions", type=ty.integer(2, MAX_REPEATS), default=30,
                   help="timed gradients per agent and timed communications (default 30)")
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
    e = p.add_argument_group("emulation (to check the measurement itself)")
    e.add_argument("--h", default=None,
                   help="emulate at least h_i seconds per gradient (list or equal|sqrt|quarter)")
    e.add_argument("--kappa", default=None,
                   help="emulate kappa_i seconds per communication (number, list, sqrt)")


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
    if probe:  # writable before anything is measured
        from algorithms.run.outputs import writable_dir

        writable_dir(path.parent, "--output")
    return path


def run(args: argparse.Namespace) -> int:
    from algorithms.backends.distributed import launcher
    from algorithms.backends.distributed.node import quiet_torch_logs
    from algorithms.backends.distributed.spec import MODES, RunSpec
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
    from algorithms.sim import timing as tm

    h = None if args.h is None else tm.resolve_times("h", args.h, n).tolist()
    kappa = None if args.kappa is None else tm.resolve_kappa(args.kappa, n, dim).tolist()
    spec = RunSpec(method="rennala_nigt", mode=args.mode, n=n, iterations=reps, seed=args.seed,
                   run_id=run_id, timeout=args.timeout, task="calibrate", warmup=warmup,
                   rdzv_timeout=args.rdzv_timeout, h=h, kappa=kappa, **problem)
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
    import numpy as np

    data = json.loads(data_path.read_text())
    cluster, fit, comments = build(data, spec, args)
    from theory.cluster_file import write_cluster

    write_cluster(output, cluster, comments, name="output")
    result = {"output": str(output), "run_dir": str(run_dir), "n": n, "dim": data["dim"],
              "mode": spec.mode, "h": cluster.h.tolist(), "kappa": cluster.kappa.tolist(),
              "timing": fit.timing, "options": dict(fit.options), "cv": fit.cv,
              "loglik": fit.loglik,
              "allreduce_seconds": (float(np.median(data["comm"]))
                                    if spec.mode == "allreduce" else None),
              "round_seconds": (float(np.median(data["rounds"])) if data.get("rounds")
                                else None)}
    if args.json:
        from theory import jsonio

        # a likelihood of -inf (a sample outside a uniform's range) is null in strict JSON,
        # with a loglik_reason
        print(jsonio.dumps(result, indent=2))
    else:
        _print(result, data)
    return 0


def build(data: dict, spec, args):
    """(ClusterSpec, TimingFit, comment lines) from a run's calibration.json."""
    import socket

    import numpy as np

    from algorithms.wallclock.calibration import (
        fit_timing,
        kappa_from_allreduce,
        kappa_from_round_trips,
        kappa_from_rounds,
    )
    from theory.cluster_file import ClusterSpec

    times = data["times"]
    fit = fit_timing(times)
    h = np.array([float(np.mean(t)) for t in times])
    if data["mode"] == "allreduce":
        reduce_only = kappa_from_allreduce(data["comm"], data["n"])
        how = (f"all_reduce of a round's {data['dim']}+{4 * data['n'] + 1} float64: median "
               f"{2 * reduce_only[0]:.4g} s")
        if data.get("rounds"):
            k = kappa_from_rounds(data["rounds"], h, data["round_M"])
            kappa = np.full(data["n"], k)
            how = ("kappa = half of what real AggregateRennala rounds (M = "
                   f"{data['round_M']}, {len(data['rounds'])} rounds) cost beyond their "
                   "computation on the clock with these h_i (the clock adds kappa to receive "
                   f"and kappa to reduce); the {how}")
        else:
            kappa = reduce_only
            how = f"kappa = half the median {how}"
    else:
        kappa = kappa_from_round_trips(data["comm"])
        how = f"kappa_i = half agent i's median round trip of {data['dim'] + 3} float64"
    labels = [f"agent{i}@{host}" for i, host in enumerate(data["hosts"])]
    env = spec.env if spec.env != "tabular" else (
        f"tabular {spec.tabular['env']} S={spec.tabular['S']} A={spec.tabular['A']}")
    comments = [
        f"measured by apga calibrate on {socket.gethostname()} at "
        f"{time.strftime('%Y-%m-%d %H:%M:%S %z')}",
        f"env {env}, horizon {data['horizon']}, d = {data['dim']} parameters, "
        f"{data['n']} agents ({spec.mode} mode), torch {data['torch']}",
        f"h = mean of {data['repetitions']} gradients per agent after {data['warmup']} "
        "warm-up ones, every agent computing at once"
        + (" (each with its store ticket)" if spec.mode == "allreduce" else ""),
        how,
        f"timing {fit.timing} fitted to the pooled t/h_i (coefficient of variation "
        f"{fit.cv:.3g}; fixed below 0.05, else the largest likelihood)",
        "command: apga " + " ".join(sys.argv[1:]),
    ]
    cluster = ClusterSpec(h, kappa, fit.timing, dict(fit.options), tuple(labels))
    return cluster, fit, comments


def _print(result: dict, data: dict) -> None:
    import numpy as np

    from algorithms.run.tables import Column, print_table

    cols = [Column("agent", "left", 9), Column("host", "left", 2),
            Column("h (s/gradient)", priority=8), Column("std", priority=5),
            Column("kappa (s)", priority=7)]
    rows = [[str(i), data["hosts"][i], f"{h:.4g}", f"{np.std(data['times'][i]):.3g}",
             f"{k:.4g}"]
            for i, (h, k) in enumerate(zip(result["h"], result["kappa"], strict=True))]
    print_table(f"apga calibrate: {result['n']} agents, d = {result['dim']}, "
                f"{result['mode']} mode", cols, rows)
    opts = ", ".join(f"{k} = {v:.3g}" for k, v in result["options"].items())
    print(f"timing model: {result['timing']}{f' ({opts})' if opts else ''}; "
          f"coefficient of variation {result['cv']:.3g}")
    print(f"cluster file written to {result['output']} "
          f"(use: apga predict --cluster {result['output']})")


def _spin(stop: threading.Event, n: int, reps: int) -> None:
    from rich.console import Console

    with Console(stderr=True).status(f"measuring {n} agents x {reps} gradients ...") as status:
        t0 = time.monotonic()
        while not stop.wait(0.5):
            status.update(f"measuring {n} agents x {reps} gradients ... "
                          f"{time.monotonic() - t0:.0f} s")
