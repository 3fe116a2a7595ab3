"""``apga launch``: run a method for real on torch.distributed processes."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from algorithms.backends.distributed.spec import MAX_BATCH, MAX_ITERATIONS, MAX_SECONDS
from algorithms.cli import _hyper
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

def add_arguments(p: argparse.ArgumentParser) -> None:
    add_process_arguments(p)
    from algorithms.backends.distributed.spec import mode_methods, real_methods

    runs = mode_methods()

    m = p.add_argument_group("method (hyperparameters from the method registry)")
    m.add_argument("--method", default="rennala_nigt",
                   help=" | ".join(runs["allreduce"]) + "; server mode also "
                   + " | ".join(x for x in runs["server"] if x not in runs["allreduce"])
                   + " (default %(default)s)")
    _hyper.add_hyper_arguments(m, real_methods(), batch_maximum=MAX_BATCH, theory=True)
    from algorithms.cli._wallclock import add_theory_arguments

    add_theory_arguments(p)
    add_problem_arguments(p)
    c = p.add_argument_group("emulated cluster (seconds)")
    c.add_argument("--h", default=None, help="seconds per gradient: list or equal|sqrt|quarter")
    c.add_argument("--kappa", default=None, help="seconds per communication: number, list, "
                   "sqrt or sqrt_d4 (default: none emulated, the machine's real communication)")
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
                        metavar="WALL_SECONDS",
                        help="budget in wall-clock seconds (real time, unlike train's "
                        "simulated --time)")
    b.add_argument("--seed", type=ty.integer(0), default=0, help="run seed (default %(default)s)")
    b.add_argument("--out", default=None, help="run folder (default runs/launch/<...>)")
    b.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.add_argument("--no-progress", dest="quiet", action="store_true",
                   help=argparse.SUPPRESS)  # the former name of --quiet
    b.add_argument("--save-gradients", action="store_true",
                   help="also write gradients.npz (every aggregated gradient and its point)")
    b.add_argument("--predict-from", default=None, metavar="FILE",
                   help="a cluster file apga calibrate measured here (with its .cost.json): "
                   "an ETA from its cost model, and predicted vs actual in summary.json "
                   "(the run itself is at real speed; docs/wallclock.md)")
    b.add_argument("--dry-run", action="store_true",
                   help="check every argument and print the run it would start; start nothing")


# ----------------------------------------------------------------------------- validation
def _spec(args: argparse.Namespace, run_id: str):
    """Validate every argument into a RunSpec (before any process starts)."""
    from algorithms.backends.distributed.spec import RunSpec
    from algorithms.cli._cluster import cluster_from_args
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
    from algorithms.cli._wallclock import run_hyper

    hyper, _ = run_hyper(args, args.method, n)  # 'theory' values as apga predict has them
    iterations, budget = args.iterations, args.time
    if iterations is None and budget is None:
        iterations = 100
    common = {"method": args.method, "mode": args.mode, "n": n, "hyper": hyper,
              "iterations": iterations, "time": budget, "seed": args.seed, "run_id": run_id,
              "timeout": args.timeout, "save_gradients": args.save_gradients,
              "restarts": args.max_restarts}
    problem, dim, heterogeneous = problem_fields(args, n)
    if cluster is not None:
        h, kappa = cluster.h.tolist(), cluster.kappa.tolist()
        timing, options = cluster.timing, dict(cluster.options)
    else:
        h, kappa, timing, options = cluster_times(args, n, dim)
    run = RunSpec(**common, **problem, h=h, kappa=kappa, timing=timing, timing_options=options)
    if heterogeneous and "heterogeneous" not in spec.settings:  # only once all is valid
        print(f"apga: warning: {spec.name} is designed for the homogeneous setting; on a "
              "heterogeneous family its estimator is biased (see Section 5)", file=sys.stderr)
    return run


# ----------------------------------------------------------------------------- running
def run(args: argparse.Namespace) -> int:
    from algorithms.backends.distributed import launcher
    from algorithms.backends.distributed.node import quiet_torch_logs
    from algorithms.backends.distributed.spec import MODES
    from theory import checks

    quiet_torch_logs()
    checks.choice("mode", args.mode, MODES)
    endpoint, run_id = launcher.rendezvous(args.rdzv_endpoint, args.rdzv_id, args.nnodes)
    spec = _spec(args, run_id)
    if args.dry_run:
        return dry_run(args, spec, endpoint)
    from algorithms.wallclock import eta

    prediction = eta.launch_prediction(spec, args.predict_from)
    run_dir = launcher.run_folder(args.out, f"{spec.method}-{spec.mode}")
    spec.save(run_dir / "spec.json")
    progress = launcher.Progress(run_dir, spec,
                                 enabled=not args.quiet and sys.stderr.isatty(),
                                 eta=lambda k, t: eta.eta(prediction, k, t, spec.iterations))
    started = time.monotonic()
    try:
        code = launcher.start(spec, run_dir, processes(args), endpoint)
    finally:
        progress.close()
    return _report(args, spec, run_dir, code, time.monotonic() - started, prediction)


def _report(args, spec, run_dir: Path, code: int, wall: float,
            prediction: dict | None = None) -> int:
    summary_path = run_dir / "summary.json"
    if code != 0 or not summary_path.exists():
        failed = report_failure(run_dir, code)
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
    from algorithms.backends.distributed.runlog import dump_json
    from algorithms.wallclock.eta import compare

    summary["prediction"] = compare(prediction, float(summary["wall_seconds"]))
    dump_json(summary_path, summary)  # predicted vs actual, kept with the run
    summary["run_dir"] = str(run_dir)
    if args.json:
        from theory import jsonio

        print(jsonio.dumps(summary, indent=2))
    else:
        _print_table(summary)
    return 0


def _print_table(s: dict) -> None:
    from algorithms.run.tables import Column, print_table

    rounds = s["rounds"]
    durations = [r["duration"] for r in rounds[1:]] or [r["duration"] for r in rounds]
    med = sorted(durations)[len(durations) // 2] if durations else math.nan
    f = s["final"]
    cols = [Column("iterations", priority=9), Column("wall s", priority=8),
            Column("s / round (median)", priority=7), Column("gradients", priority=4),
            Column("comms", priority=3), Column("J", priority=6),
            Column("||grad J||", priority=5)]
    row = [str(s["iterations"]), f"{s['wall_seconds']:.4g}", f"{med:.4g}",
           str(f["gradients_evaluated"]), str(f["communications"]),
           "-" if f["J"] is None else f"{f['J']:.6g}",
           "-" if f["grad_norm"] is None else f"{f['grad_norm']:.4g}"]
    print_table(f"apga launch: {s['title']} ({s['mode']}, n = {s['n']})", cols, [row])
    for e in s.get("events", []):
        print(f"  event: {json.dumps(e)}")
    p = s.get("prediction") or {}
    if p.get("total_seconds") is not None:
        where = "inside" if p["inside_interval"] else "outside"
        print(f"predicted {p['total_seconds']:.4g} s [{p['total_seconds_low']:.4g}, "
              f"{p['total_seconds_high']:.4g}] ({p['source']}), actual "
              f"{p['actual_seconds']:.4g} s: predicted/actual {p['ratio']:.3g}, {where} the "
              "interval")
    print(f"records, rounds and summary written to {s['run_dir']}/")
