"""``apga launch``: run a method for real on torch.distributed processes."""

from __future__ import annotations

import argparse
import json
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
    b.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last checkpoint (give the same "
                   "arguments as the run that was stopped)")
    b.add_argument("--checkpoint-every", type=ty.integer(1, MAX_ITERATIONS), default=10,
                   help="rank 0 / the server checkpoints every K iterations (also at the end "
                   "and when a signal stops the run; default %(default)s)")
    b.add_argument("--eval-every", type=ty.integer(0, MAX_ITERATIONS), default=0,
                   help="MuJoCo: evaluate the policy every K iterations on rank 0 / the "
                   "server (0: only at the end; default %(default)s)")
    b.add_argument("--eval-episodes", type=ty.integer(1, 100_000), default=10,
                   help="MuJoCo: episodes per evaluation (default %(default)s)")
    b.add_argument("--tensorboard", default=None, metavar="DIR",
                   help="also write TensorBoard scalars (return, gradients used, round time, "
                   "per-agent counts) under DIR (needs the tensorboard extra)")


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
              "restarts": args.max_restarts, "rdzv_timeout": args.rdzv_timeout,
              "checkpoint_every": args.checkpoint_every, "eval_every": args.eval_every,
              "eval_episodes": args.eval_episodes,
              "tensorboard": None if args.tensorboard is None else str(args.tensorboard)}
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
    launcher.check_node_rank(processes(args), spec.mode)
    if args.tensorboard is not None:
        from algorithms.run.tensorboard import require

        require("--tensorboard")
    if args.resume and args.out is None:
        raise ValueError("resume: give the run's folder with --out")
    if args.dry_run:
        return dry_run(args, spec, endpoint)
    from algorithms.wallclock import eta

    prediction = eta.launch_prediction(spec, args.predict_from)
    folder = launcher.RunFolder(args.out, f"{spec.method}-{spec.mode}", resume=args.resume)
    try:
        run_dir = folder.path
        try:
            if args.resume:
                spec = _resumed_spec(run_dir, spec, args.nnodes)
            else:
                spec.save(run_dir / "spec.json")
        except OSError as exc:  # a full disk, a folder that turned read-only
            raise ValueError(f"out: cannot write the run's files in {str(run_dir)!r} "
                             f"({exc.strerror or exc})") from None
        progress = launcher.Progress(run_dir, spec,
                                     enabled=not args.quiet and sys.stderr.isatty(),
                                     eta=lambda k, t: eta.eta(prediction, k, t,
                                                              spec.iterations))
        started = time.monotonic()
        try:
            code = launcher.start(spec, run_dir, processes(args), endpoint)
        except launcher.Interrupted as stop:
            progress.close()
            return _interrupted(run_dir, stop)
        finally:
            progress.close()
        return _report(args, spec, run_dir, code, time.monotonic() - started, prediction)
    finally:
        folder.close()


def _resumed_spec(run_dir: Path, spec, nnodes: int = 1):
    """The spec of the run in ``run_dir`` if ``spec`` (this command's) is the same run."""
    import shutil

    from algorithms.backends.distributed.loop import CHECKPOINT
    from algorithms.backends.distributed.spec import RunSpec
    from algorithms.backends.distributed.startup import spec_differences
    from algorithms.run import checkpoint as ck

    try:
        saved = RunSpec.load(run_dir / "spec.json")
    except (OSError, ValueError, TypeError) as exc:
        raise ValueError(f"resume: {run_dir} holds no readable run (spec.json: "
                         f"{type(exc).__name__})") from None
    mine = {k: v for k, v in spec.to_json().items() if k not in _RESUMABLE}
    theirs = {k: v for k, v in saved.to_json().items() if k not in _RESUMABLE}
    diff = spec_differences(mine, theirs)
    if diff:
        raise ValueError(f"resume: {run_dir} holds another run ({'; '.join(diff[:4])}); give "
                         "the arguments of that run")
    if (run_dir / "summary.json").exists():
        raise ValueError(f"resume: the run in {run_dir} is complete (summary.json); nothing "
                         "to continue")
    if nnodes == 1 and not ck.exists(run_dir / CHECKPOINT):
        raise ValueError(f"resume: {run_dir} has no checkpoint (the run stopped before its "
                         "first one); start it again in a new folder")
    # (several nodes: rank 0's node holds the checkpoint; its worker checks it)
    # the options that only say how to run it may change; the run's id stays (its records)
    resumed = RunSpec(**{**spec.to_json(), "run_id": saved.run_id, "resume": True})
    errors = run_dir / "errors"
    if errors.is_dir():  # the stopped attempt's lines are not this launch's
        shutil.move(str(errors), str(run_dir / f"errors-before-resume-{int(time.time())}"))
    resumed.save(run_dir / "spec.json")
    return resumed


#: Spec fields a resumed launch may change (how it runs, not what it computes).
_RESUMABLE = ("run_id", "timeout", "restarts", "rdzv_timeout", "checkpoint_every",
              "tensorboard", "eval_every", "eval_episodes", "resume")


def _interrupted(run_dir: Path, stop) -> int:
    from algorithms.backends.distributed.loop import CHECKPOINT
    from algorithms.run import checkpoint as ck

    where = ("a checkpoint is in it; continue with the same command and --resume"
             if ck.exists(run_dir / CHECKPOINT) else "no checkpoint was written yet")
    sys.stderr.write(f"apga: interrupted ({stop}): every process of this launch has stopped; "
                     f"the run is in {run_dir}, {where}\n")
    return 128 + int(stop.signum)


def _report(args, spec, run_dir: Path, code: int, wall: float,
            prediction: dict | None = None) -> int:
    summary_path = run_dir / "summary.json"
    if code != 0 or not summary_path.exists():
        failed = report_failure(run_dir, code, run_id=spec.run_id, spec=spec)
        if failed is not None:
            return failed
        note = (f"this node's processes finished in {wall:.1f} s; the node holding rank 0 "
                "(in server mode: the server, on node 0) wrote the records")
        if args.json:
            print(json.dumps({"run_dir": str(run_dir), "note": note}))
        else:
            print(note)
        return 0
    try:
        summary = json.loads(summary_path.read_text())
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"apga: error: the run finished but its summary {summary_path} is "
                         f"unreadable ({type(exc).__name__})\n")
        return 1
    from algorithms.backends.distributed.runlog import dump_json
    from algorithms.wallclock.eta import compare

    summary["prediction"] = compare(prediction, float(summary["wall_seconds"]),
                                    summary.get("round_stats"))
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

    stats = s["round_stats"]
    med = stats["duration_median"]
    f = s["final"]
    mujoco = f.get("train_return") is not None

    def num(x, fmt=".6g"):
        return "-" if x is None else format(x, fmt)

    cols = [Column("iterations", priority=9), Column("wall s", priority=8),
            Column("s / round (median)", priority=7), Column("gradients", priority=4),
            Column("comms", priority=3)]
    if mujoco:
        cols += [Column("return (train)", priority=6), Column("return (eval)", priority=5)]
        last = [num(f["train_return"], ".5g"), num(f["J"], ".5g")]
    else:
        cols += [Column("J", priority=6), Column("||grad J||", priority=5)]
        last = [num(f["J"]), num(f["grad_norm"], ".4g")]
    row = [str(s["iterations"]), f"{s['wall_seconds']:.4g}", num(med, ".4g"),
           str(f["gradients_evaluated"]), str(f["communications"]), *last]
    print_table(f"apga launch: {s['title']} ({s['mode']}, n = {s['n']})", cols, [row])
    for e in s.get("events", []):
        print(f"  event: {json.dumps(e)}")
    if s.get("events_total", 0) > len(s.get("events", [])):
        print(f"  ... {s['events_total'] - len(s['events'])} more in events.jsonl")
    if s.get("policy"):
        print(f"policy: {s['policy']} (load it with algorithms.mujoco.saved.load_policy)")
    p = s.get("prediction") or {}
    if p.get("total_seconds") is not None:
        where = "inside" if p["inside_interval"] else "outside"
        print(f"predicted {p['total_seconds']:.4g} s [{p['total_seconds_low']:.4g}, "
              f"{p['total_seconds_high']:.4g}] ({p['source']}), actual "
              f"{p['actual_seconds']:.4g} s: predicted/actual {p['ratio']:.3g}, {where} the "
              "interval")
        if p.get("mean_length_actual") is not None:
            print(f"mean trajectory length: predicted {p['mean_length']:.4g} steps, actual "
                  f"{p['mean_length_actual']:.4g} (a gradient's cost follows it)")
    print(f"records, rounds and summary written to {s['run_dir']}/")
