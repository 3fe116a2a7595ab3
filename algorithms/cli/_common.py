"""Arguments and helpers shared by ``apga train`` and ``apga compare``."""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
import uuid
import warnings
from dataclasses import dataclass, fields
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from algorithms.cli import _hyper
from algorithms.cli import _types as ty
from algorithms.cli._cluster import add_cluster_argument, cluster_from_args
from algorithms.tabular.setting import TabularSetting

# The setting's defaults for the help texts, read from the dataclass fields: building a
# TabularSetting here would validate h and kappa with algorithms.sim.timing at every start-up
# (`apga predict` imports this module to build its parser, and stays light).
DEFAULT = SimpleNamespace(**{f.name: f.default for f in fields(TabularSetting)})
DEFAULT_TIME = 1000.0  # simulated seconds of `apga train` / `apga compare`

#: algorithms.aggregation._common.MAX_ROUND_GRADIENTS (not imported: start-up time)
_ROUND = 2**20


def add_target_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--target",
        type=ty.positive(),
        default=0.05,
        help="report the simulated time to reach ||grad J|| <= target (> 0)",
    )
    p.add_argument(
        "--target-J",
        type=ty.real(),
        default=None,
        help="also report the simulated time to reach J >= this value",
    )


def add_setting_arguments(p: argparse.ArgumentParser) -> None:
    add_target_arguments(p)
    g = p.add_argument_group(
        "setting (defaults: a 10-state Garnet MDP, n = 10, h_i = sqrt(i), kappa = 0)"
    )
    g.add_argument("--env", default=DEFAULT.env,
                   help="garnet (also called tabular, as in launch) | chain | grid "
                   "(default %(default)s)")
    g.add_argument("--S", type=ty.integer(2), default=DEFAULT.S,
                   help="states (grid: S x S cells; default %(default)s)")
    g.add_argument("--A", type=ty.integer(2), default=DEFAULT.A,
                   help="actions (default %(default)s)")
    g.add_argument(
        "--gamma", type=ty.real(0.0, 1.0, low_open=True, high_open=True), default=DEFAULT.gamma,
        help="discount in (0, 1) (default %(default)s)"
    )
    g.add_argument(
        "--H", type=ty.integer(1), default=DEFAULT.H, help="trajectory length (default %(default)s)"
    )
    g.add_argument("--mdp-seed", type=ty.integer(0), default=DEFAULT.mdp_seed,
                   help="seed of the MDP(s)")
    g.add_argument(
        "--family",
        default=None,
        help="heterogeneous family: reward | transition | initial (default: homogeneous)",
    )
    g.add_argument("--n", type=ty.integer(1), default=None, help=f"agents (default {DEFAULT.n})")
    g.add_argument(
        "--h", default=None, help=f"equal | sqrt | quarter | comma list (default {DEFAULT.h})"
    )
    g.add_argument(
        "--kappa",
        default=None,
        help="number, comma list, sqrt (kappa_i = sqrt(i)) or sqrt_d4 (sqrt(i) d^(1/4)) "
        f"(default {DEFAULT.kappa}: computation alone; predict's default 1 is the paper's "
        "Section H cluster)",
    )
    g.add_argument(
        "--timing",
        default=None,
        help=f"fixed | exponential | lognormal | uniform (default {DEFAULT.timing})",
    )
    add_cluster_argument(g)
    r = p.add_argument_group("run")
    r.add_argument(
        "--time",
        type=ty.positive(),
        default=DEFAULT_TIME,
        metavar="SIM_SECONDS",
        help="budget in simulated seconds (the clock's time, not wall-clock; "
        "default %(default)s)",
    )
    r.add_argument("--iterations", type=ty.integer(0), default=None,
                   help="also stop after this many global iterations")
    r.add_argument("--max-iters", dest="iterations", type=ty.integer(0), default=None,
                   help=argparse.SUPPRESS)  # the former name of --iterations
    r.add_argument(
        "--out", default=None,
        help="output folder (default runs/<command>/<method>-<setting>-<time>-<id>, a new "
        "one per run); it holds one run: another run into it is refused"
    )
    r.add_argument("--no-plot", action="store_true", help="do not write the PNG plot")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.add_argument("--no-progress", dest="quiet", action="store_true",
                   help=argparse.SUPPRESS)  # the former name of --quiet
    r.add_argument("--dry-run", action="store_true",
                   help="check every argument and print the runs it would make; run nothing")
    r.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    h = p.add_argument_group(
        "hyperparameters (from the method registry; each method uses those it has, others "
        "are ignored; `apga compare --list` shows every method's)"
    )
    from algorithms.methods.registry import REGISTRY

    _hyper.add_hyper_arguments(h, REGISTRY.values(), batch_maximum=_ROUND)
    h.add_argument(
        "--hyper-from",
        choices=("defaults", "theory"),
        default="defaults",
        help="theory: eta, alpha, M, M_init from Theorems 4.1/4.2 and Proposition 2.3",
    )
    h.add_argument("--eps", type=ty.positive(), default=0.1,
                   help="target accuracy for --hyper-from theory (default %(default)s)")


def setting_from(args: argparse.Namespace) -> TabularSetting:
    spec = cluster_from_args(args)
    if spec is not None:
        times = {"cluster": spec}
    else:
        given = {k: getattr(args, k) for k in ("n", "h", "kappa", "timing")}
        times = {k: getattr(DEFAULT, k) if v is None else v for k, v in given.items()}
    return TabularSetting(
        env="garnet" if args.env == "tabular" else args.env,
        S=args.S,
        A=args.A,
        gamma=args.gamma,
        H=args.H,
        mdp_seed=args.mdp_seed,
        family=args.family,
        **times,
    )


def resolve_hyper(args, spec, oracle, theta0) -> tuple[dict[str, float], dict[str, str], dict]:
    """Given flags override theory-derived values, which override the registry defaults."""
    values: dict[str, float] = {}
    sources: dict[str, str] = {}
    info: dict = {}
    if args.hyper_from == "theory":
        from algorithms.methods.theory_hyper import theory_hyperparameters

        values, sources, info = theory_hyperparameters(spec, oracle, args.eps, theta0)
    for k, v in _hyper.given(args, spec).items():
        values[k] = v
        sources[k] = "given"
    return values, sources, info


def progress_enabled(args) -> bool:
    return not args.quiet and sys.stderr.isatty()


def add_checkpoint_arguments(p: argparse.ArgumentParser) -> None:
    c = p.add_argument_group("checkpoints")
    c.add_argument(
        "--checkpoint-every",
        type=ty.integer(0),
        default=50,
        help="write a checkpoint every N iterations (default %(default)s; 0 = never)",
    )
    c.add_argument(
        "--resume",
        action="store_true",
        help="continue from the checkpoints in --out (same arguments as the interrupted run; "
        "a checkpoint of another run is refused; --time/--iterations may grow)",
    )




def run_identity(args: argparse.Namespace, setting: TabularSetting, specs, **extra: Any) -> dict:
    """What an output folder's run is (:class:`algorithms.run.outputs.OutputDir`): the
    command, the setting, every flag that changes the records, and the budget.

    Hyperparameters enter as the values each method will use (a default given
    explicitly is the same run); with ``--hyper-from theory`` as the flags given and eps.
    Resolving them here also checks them (eta > 1, say) before any work.
    """
    ident = {"command": args.command, **setting.to_dict(), **extra,
             "hyper_from": args.hyper_from, "time": args.time, "iterations": args.iterations}
    if args.hyper_from == "theory":
        ident["eps"] = args.eps
        ident.update({f"--{k.replace('_', '-')}": v for k, v in _hyper.given(args).items()})
    else:
        for spec in specs:
            values, _ = spec.resolve(_hyper.given(args, spec))
            prefix = f"{spec.name}." if len(specs) > 1 else ""
            ident.update({f"{prefix}{k}": v for k, v in values.items()})
    return ident


def open_out(args: argparse.Namespace, name: str, identity: dict):
    """The run's output folder, checked writable, locked, and claimed for this run.

    Without ``--out`` every run gets a new folder ``runs/<command>/<name>-<time>-<id>``;
    ``--resume`` without ``--out`` continues the newest folder there that holds a run of
    the same arguments.
    """
    from algorithms.run.outputs import OutputDir

    if args.resume and args.checkpoint_every == 0:
        raise ValueError("resume: --checkpoint-every 0 writes no checkpoint, so there is "
                         "nothing to resume")
    out = args.out
    if out is None:
        root = Path("runs") / args.command
        out = (_resumable(root, identity) if args.resume
               else root / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}")
    return OutputDir(out, identity, resume=args.resume)


def _resumable(root: Path, identity: dict) -> Path:
    """The newest folder under ``root`` holding a run with ``identity`` (budget aside)."""
    import json

    from algorithms.run.outputs import MANIFEST
    from theory import jsonio

    want = {k: v for k, v in jsonio.strict(identity).items() if k not in ("time", "iterations")}
    found = []
    for manifest in root.glob(f"*/{MANIFEST}"):
        try:
            held = json.loads(manifest.read_text()).get("identity", {})
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(held, dict) and \
                {k: v for k, v in held.items() if k not in ("time", "iterations")} == want:
            found.append((manifest.stat().st_mtime, manifest.parent))
    if not found:
        raise ValueError(f"resume: no run of these arguments under {str(root)!r}; give the "
                         "--out folder of the run to continue")
    return max(found)[1]


def dry_run(args: argparse.Namespace, setting: TabularSetting, specs, seeds: int,
            identity: dict) -> int:
    """``--dry-run``: print the checked runs (``--json``: as JSON) and write nothing."""
    from theory import jsonio

    plan = {"command": args.command, "setting": setting.to_dict(),
            "methods": [s.name for s in specs], "seeds": seeds,
            "runs": len(specs) * seeds, "time": args.time, "iterations": args.iterations,
            "out": args.out, "identity": identity}
    if args.json:
        print(jsonio.dumps(plan, indent=2))
    else:
        budget = f"{args.time:g} simulated seconds" + (
            "" if args.iterations is None else f" or {args.iterations} iterations")
        print(f"would run {', '.join(plan['methods'])} x {seeds} seed(s) "
              f"({plan['runs']} runs) on {setting.env} (n = {setting.n}), {budget}; "
              f"output {args.out or f'runs/{args.command}/<new folder>'}")
    return 0


@dataclass(frozen=True)
class Prepared:
    """What every run of one method on one setting shares, computed once.

    oracle:  the setting's oracle (tabular oracles are stateless, so seeds can share it)
    values, sources, info: hyperparameters after ``--hyper-from`` and the given flags
             (theory-derived values need Proposition 2.3 and a value iteration: once)
    """

    oracle: Any
    values: dict
    sources: dict
    info: dict


def prepare(spec, setting: TabularSetting, args, oracle=None) -> Prepared:
    import numpy as np

    oracle = oracle if oracle is not None else setting.oracle()
    # theta_0 = 0 for every seed (TabularSetting.build), so theory values are seed-free.
    values, sources, info = resolve_hyper(args, spec, oracle, np.zeros(oracle.dim))
    return Prepared(oracle, values, sources, info)


def run_one(
    spec,
    setting: TabularSetting,
    seed: int,
    args,
    out,
    prepared: Prepared,
    *,
    progress: bool,
    override: dict | None = None,
    write: bool = True,
):
    """Run ``spec`` on ``setting`` with run seed ``seed``; write its CSV; return the result.

    ``override`` maps hyperparameter -> (value, source) and wins over everything else
    (used by tuning); ``write=False`` runs without CSV and checkpoints.
    """
    from algorithms.run import checkpoint as ck
    from algorithms.run import run_method
    from algorithms.run.report import write_csv

    note = homogeneous_note(spec, setting)
    oracle, clock, rng, theta0 = setting.build(seed, oracle=prepared.oracle)
    values, sources = dict(prepared.values), dict(prepared.sources)
    for k, (v, src) in (override or {}).items():
        values[k], sources[k] = v, src
    ckpt = None
    if write and args.checkpoint_every > 0:
        ckpt = out.file(f"checkpoints/{spec.name}_seed{seed}.pkl")
        if not args.resume:
            ck.remove(ckpt)
        elif not ck.exists(ckpt):
            warnings.warn(f"--resume: no checkpoint of {spec.name} seed {seed} in "
                          f"{ckpt.parent}; that run started afresh", stacklevel=2)
    try:
        result = run_method(
            spec,
            oracle,
            clock,
            rng,
            theta0,
            hyper=values,
            hyper_source=sources,
            max_time=args.time,
            max_iters=args.iterations,
            checkpoint=ckpt,
            checkpoint_every=max(args.checkpoint_every, 1),
            progress=progress,
            meta={"seed": seed, "theory": prepared.info, "note": note},
            identity={"seed": seed, **setting.to_dict()},
        )
    except OSError as exc:  # a checkpoint could not be written (full disk, permissions)
        raise ValueError(f"out: cannot write the checkpoint {ckpt} "
                         f"({exc.strerror or exc})") from None
    if write:
        with out.writing(f"{spec.name}_seed{seed}.csv") as tmp:
            write_csv(tmp, result.records)
    return result


def homogeneous_note(spec, setting: TabularSetting) -> str:
    """Why a homogeneous-only method is biased on a heterogeneous family ('' otherwise)."""
    if not setting.heterogeneous or "heterogeneous" in spec.settings:
        return ""
    return (f"{spec.name} is designed for the homogeneous setting: on the {setting.family} "
            "family its estimator is biased (fast agents' environments weigh more; "
            "Section 5), so it may converge to the wrong point; running it anyway")


def tune_alpha(
    spec,
    setting: TabularSetting,
    args,
    prepared: Prepared,
    grid,
    seeds: int,
    target: float,
    log=print,
    M_grid=None,
) -> tuple[dict, list[dict]]:
    """Pick alpha (and M = M_init with ``M_grid``) as Section H does ("we tune alpha for
    every plot and algorithm"; "M_init = M ... tuned").

    Each candidate of :func:`algorithms.methods.base.tuning_grid` runs on tuning seeds
    1000, 1001, ... (disjoint from the reported seeds) and is scored by the median over
    those seeds of :func:`algorithms.run.report.time_average` of J over the budget, which
    rewards reaching a high return early. We do not tune on ||grad J||: with a softmax
    policy large steps drive theta towards a deterministic policy where ||grad J||
    vanishes without J being optimal.
    Returns (override {name: (value, source)}, table of scores).
    """
    import numpy as np

    from algorithms.methods.base import TUNE_SEED_OFFSET, tuning_grid
    from algorithms.run.report import time_average, time_to_reach

    Ms = list(M_grid) if M_grid else [None]
    table = []
    for cand in tuning_grid(spec, grid, Ms):
        over = {k: (v, "tuning") for k, v in cand.items()}
        runs = [
            run_one(
                spec,
                setting,
                TUNE_SEED_OFFSET + s,
                args,
                None,
                prepared,
                progress=False,
                override=over,
                write=False,
            )
            for s in range(seeds)
        ]
        score = float(np.median([time_average(r.records, "J", args.time) for r in runs]))
        t_hit = float(np.median([time_to_reach(r.records, "grad_norm", target) for r in runs]))
        J_end = float(np.median([r.records[-1].J for r in runs]))
        M = cand.get("M")
        table.append(
            {
                "alpha": cand["alpha"],
                "M": M,
                "mean_J": score,
                "final_J": J_end,
                "time_to_target": t_hit,
            }
        )
        log(
            f"  tune {spec.name}: alpha={cand['alpha']:.6g}{'' if M is None else f' M={M}'} "
            f"mean J={score:.5g} final J={J_end:.5g} "
            f"time to ||grad J||<={target:g}: {t_hit:.4g}"
        )
    best = max(table, key=lambda row: row["mean_J"])
    seeds_txt = f"on seeds {TUNE_SEED_OFFSET}..{TUNE_SEED_OFFSET + seeds - 1} (mean J)"
    override = {
        "alpha": (
            best["alpha"],
            f"tuned over {len(grid)} values in [{min(grid):.4g}, {max(grid):.4g}] {seeds_txt}",
        )
    }
    if best["M"] is not None:
        src = f"tuned over {{{', '.join(str(m) for m in Ms)}}} {seeds_txt}"
        override["M"] = (best["M"], src)
        if "M_init" in {h.name for h in spec.hyper}:
            override["M_init"] = (best["M"], src + " (M_init = M, as Section H)")
    return override, table


def summarise(
    results: dict[str, list], target: float | None, target_J: float | None = None
) -> dict[str, dict]:
    """Per method: medians over seeds of the final records and of the times to reach
    ||grad J|| <= target and J >= target_J (None, with a ``*_reason``, when the median
    run never gets there within the budget: strict JSON has no Infinity)."""
    import numpy as np

    from algorithms.run.report import time_to_reach

    out = {}
    for name, runs in results.items():
        last = [r.records[-1] for r in runs]
        row = {
            "seeds": len(runs),
            "iterations": float(np.median([r.iteration for r in last])),
            "time": float(np.median([r.time for r in last])),
            "J": float(np.median([r.J for r in last])),
            "grad_norm": float(np.median([r.grad_norm for r in last])),
            "gradients_evaluated": float(np.median([r.gradients_evaluated for r in last])),
            "gradients_simulated": float(np.median([r.gradients_simulated for r in last])),
            "communications": float(np.median([r.communications for r in last])),
            "hyper": runs[0].hyper,
            "hyper_source": runs[0].hyper_source,
        }
        if target is not None:
            ts = [time_to_reach(r.records, "grad_norm", target) for r in runs]
            _median_time(row, "time_to_target", ts, f"||grad J|| <= {target:g}")
        if target_J is not None:
            ts = [time_to_reach(r.records, "J", target_J, below=False) for r in runs]
            _median_time(row, "time_to_J", ts, f"J >= {target_J:g}")
        out[name] = row
    return out


def _median_time(row: dict, key: str, times: list[float], what: str) -> None:
    import numpy as np

    t = float(np.median(times))
    if np.isfinite(t):
        row[key] = t
    else:
        reached = sum(np.isfinite(times))
        row[key] = None
        row[f"{key}_reason"] = (f"not reached within the budget: {what} in {reached} of "
                                f"{len(times)} runs (median over runs)")


def print_summary(
    summary: dict[str, dict], target: float | None, title: str, target_J: float | None = None
) -> None:
    from algorithms.run.tables import Column, print_table

    cols = [Column("method", "left", 9), Column("iters", priority=5),
            Column("sim. time", priority=8), Column("J", priority=7),
            Column("||grad J||", priority=6), Column("grads eval.", priority=3),
            Column("comms", priority=2)]
    if target is not None:
        cols.append(Column(f"time to ||grad J|| <= {target:g}", priority=4))
    if target_J is not None:
        cols.append(Column(f"time to J >= {target_J:g}", priority=4))
    rows = []
    for name, row in summary.items():
        vals = [
            name,
            f"{row['iterations']:.0f}",
            f"{row['time']:.4g}",
            f"{row['J']:.6g}",
            f"{row['grad_norm']:.4g}",
            f"{row['gradients_evaluated']:.0f}",
            f"{row['communications']:.0f}",
        ]
        if target is not None:
            vals.append(_time_cell(row["time_to_target"]))
        if target_J is not None:
            vals.append(_time_cell(row["time_to_J"]))
        rows.append(vals)
    from algorithms.run.tables import console

    con = console()
    print_table(title, cols, rows, con=con)
    for name, row in summary.items():
        hp = ", ".join(f"{k}={v:.4g} ({row['hyper_source'][k]})" for k, v in row["hyper"].items())
        print(textwrap.fill(f"{name}: {hp}", width=max(con.width, 40), initial_indent="  ",
                            subsequent_indent="    "))


def _time_cell(t: float | None) -> str:
    return "not reached" if t is None else f"{t:.4g}"
