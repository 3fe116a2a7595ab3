"""``apga experiment NAME``: one of the paper's MuJoCo figures, scaled by a budget, with
verdicts on the paper's claims."""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
from pathlib import Path

COMMAND = "experiment"
ORDER = 45
HELP = "rerun one of the paper's MuJoCo figures (fig1 ... fig9) and judge its claims"
DESCRIPTION = """Rerun a figure of Section 6 / Appendix H on the simulated clock.

Each experiment lists its environments, n, the timing scenarios, the methods and the claims
the paper makes about it (`apga experiment --list`). `--budget` scales it: tiny (the
default; seconds: checks that everything runs, judges nothing), small, medium (every
method makes enough steps to be judged; hours), paper (the paper's horizon and grids; a
cluster: `--dry-run` prints its cost and the shard commands). Every change from the paper
is printed and stored in summary.json ("scaled"). Hyperparameters: eta = 0.1, alpha and
M = M_init tuned per method and panel on separate tuning seeds, scored by the metric the
claims judge. Each claim gets a verdict - reproduced, contradicted, inconclusive or not
judged (with the reason) - from exact sign-flip tests over seeds with Holm's correction.

With no NAME it runs `fig1 --budget tiny`. Runs go to --out (default
runs/experiment/NAME/BUDGET-PLANID, one folder per plan: different arguments never share
one, and rerunning the same command resumes; one process writes a folder at a time).
`--workers N` runs N processes (results are bit-identical to --workers 1); `--shard i/k`
runs the i-th of k parts, each into its own folder (any scheduler, e.g. a SLURM array, can
spread a figure over machines) and `--merge DIR...` combines the shards' folders into the
summary and plot. SIGTERM or Ctrl-C stops the command and its workers; the runs written
so far are kept. Needs the `mujoco` extra."""

_MAX = {"--seeds": 1000, "--gradients": 10**7, "--workers": 256, "--blas-threads": 64}
_MIN = {"--seeds": 2}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", default=None, help="experiment (default: fig1)")
    p.add_argument("--list", action="store_true", help="list the experiments and exit")
    p.add_argument("--budget", default=None,
                   help="tiny | small | medium | paper (default tiny)")
    p.add_argument("--cluster", default=None, metavar="FILE",
                   help="cluster file (CSV: h, kappa per agent in seconds, optional timing "
                        "model; docs/wallclock.md): replaces the figure's timing scenarios "
                        "and n; the paper's claims are then not judged")
    p.add_argument("--seeds", default=None,
                   help="reported seeds 0..K-1, K >= 2 (default: the budget's)")
    p.add_argument(
        "--gradients",
        default=None,
        help="G of the simulated time T = G / sum_i 1/(h_i + kappa_i) (default: the budget's)",
    )
    p.add_argument(
        "--panels",
        default=None,
        help="comma list of panel keys, scenario keys or environments to run (default: all)",
    )
    p.add_argument("--out", default=None, help="output folder (default: one per plan)")
    p.add_argument("--workers", default=None, help="processes (default: number of cores)")
    p.add_argument("--shard", default=None,
                   help="i/k: run only the i-th of k parts (0-based), into its own --out")
    p.add_argument(
        "--merge",
        nargs="+",
        default=None,
        metavar="DIR",
        help="do not run: combine the runs in these folders (shards; and, for a claim on "
             "another figure, that figure's folder) into --out",
    )
    p.add_argument(
        "--replot",
        action="store_true",
        help="do not run: rebuild summary, verdicts and plot from the runs in --out",
    )
    p.add_argument("--dry-run", action="store_true",
                   help="do not run: print the runs, CPU-hours, steps per method and the "
                        "shard commands (with a SLURM array example)")
    p.add_argument(
        "--perturb-theta0",
        default=None,
        help="add EPS * N(0, I) to every theta_0 (robustness reruns; default 0)",
    )
    p.add_argument(
        "--blas-threads",
        default=None,
        help="BLAS threads per process (default 1: the workers fill the cores)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.add_argument(
        "--markdown", action="store_true", help="print the docs' tables (markdown) on stdout"
    )
    p.add_argument("--quiet", action="store_true", help="no per-run progress lines on stderr")


def _count(flag: str, text: str | None) -> int | None:
    """A positive integer option, or ValueError naming ``flag`` (bounded: work is refused
    up front rather than run for ever)."""
    if text is None:
        return None
    t = str(text).strip()
    low = _MIN.get(flag, 1)
    if not re.fullmatch(r"[+]?\d{1,12}", t):
        raise ValueError(f"{flag}: expected an integer >= {low}, got {text!r}")
    v = int(t)
    if v < low:
        why = " (a paired test over seeds needs two)" if flag == "--seeds" else ""
        raise ValueError(f"{flag}: must be >= {low}{why}, got {text!r}")
    if v > _MAX[flag]:
        raise ValueError(f"{flag}: at most {_MAX[flag]} (refused up front), got {text!r}")
    return v


def _shard(text: str | None) -> tuple[int, int]:
    if text is None:
        return (0, 1)
    m = re.fullmatch(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*", str(text))
    if not m:
        raise ValueError(f"--shard: expected i/k with 0 <= i < k, got {text!r}")
    i, k = int(m.group(1)), int(m.group(2))
    if not (k >= 1 and 0 <= i < k):
        raise ValueError(f"--shard: expected i/k with 0 <= i < k, got {text!r}")
    return i, k


def _eps(text: str | None) -> float:
    if text is None:
        return 0.0
    try:
        v = float(text)
    except ValueError:
        raise ValueError(f"--perturb-theta0: expected a number, got {text!r}") from None
    if not (math.isfinite(v) and 0 <= v <= 1):
        raise ValueError(f"--perturb-theta0: must lie in [0, 1], got {text!r}")
    return v


def run(args: argparse.Namespace) -> int:
    from algorithms import experiments as ex

    if args.list:
        _list(ex)
        return 0
    default = args.name is None
    name = "fig1" if default else args.name
    budget = "tiny" if args.budget is None else args.budget
    if not str(budget).strip():
        raise ValueError("--budget: give one of " + ", ".join(ex.BUDGETS) + ", got ''")
    seeds, grads = _count("--seeds", args.seeds), _count("--gradients", args.gradients)
    workers = _count("--workers", args.workers) or os.cpu_count() or 1
    shard = _shard(args.shard)
    blas = _count("--blas-threads", args.blas_threads) or 1
    perturb = _eps(args.perturb_theta0)
    if args.merge is not None and args.replot:
        raise ValueError("--replot: give either --merge DIR... or --replot, not both")
    if (args.merge is not None or args.replot) and args.shard is not None:
        raise ValueError("--shard: only when running (not with --merge / --replot)")
    if args.out is not None and not str(args.out).strip():
        raise ValueError("--out: give a folder name, got ''")
    panels = None if args.panels is None else [k.strip() for k in args.panels.split(",")]
    from algorithms.cli._cluster import cluster_from_args

    cluster = cluster_from_args(args)
    kw = dict(seeds=seeds, gradients=grads, panels=panels, perturb=perturb, cluster=cluster)
    p = ex.plan(name, budget, **kw)
    command = _command(name, budget, args)
    out = Path(args.out or f"runs/experiment/{name}/{budget}-{p.plan_id}")
    if args.dry_run:
        from algorithms.experiments.dryrun import estimate, render

        # with --merge / --replot: the arguments are checked, nothing is read or written
        what = ("merge " + " ".join(args.merge) + f" into {out}" if args.merge is not None
                else f"rebuild the summary of {out}" if args.replot else None)
        if args.json:
            print(json.dumps({"command": command, "plan_id": p.plan_id, "plan": p.to_dict(),
                              "would": what, **estimate(p)}, indent=2, allow_nan=False))
        else:
            print(render(p, command, str(out)))
            if what:
                print(f"(--dry-run: would {what}; nothing read or written)")
        return 0
    from algorithms.run.outputs import prepare_dir

    # every folder is checked before any output: a bad one is one line on stderr
    mine: list[Path] = []
    ref_dirs: dict[str, list[Path]] = {r: [] for r in p.experiment.refs}
    ref_plans = {}
    if args.merge is not None or args.replot:
        flag = "--replot" if args.replot else "--merge"
        dirs = [out] if args.replot else [Path(d) for d in args.merge]
        ref_plans = {r: ex.plan(r, budget, **kw) for r in p.experiment.refs}
        for d in dirs:
            pid = _folder_plan(flag, d)
            hit = [r for r, rp in ref_plans.items() if rp.plan_id == pid]
            if pid == p.plan_id:
                mine.append(d)
            elif hit and flag == "--merge":
                ref_dirs[hit[0]].append(d)
            else:
                raise ValueError(f"{flag}: {d} holds runs of another plan "
                                 f"({_plan_line(d)}); repeat that command's arguments or "
                                 "choose another folder")
        if not mine:
            raise ValueError(f"{flag}: none of the folders holds runs of this plan")
    _check_new_folder(out, p)
    prepare_dir(out, "--out")
    quiet_text = args.json or args.markdown
    if not quiet_text:
        if default:
            print("no experiment given: running the default `fig1 --budget tiny`")
        print(f"{name}: {p.experiment.paper}; budget {p.budget.name}; scaled from the paper:")
        for line in p.scaled:
            print(f"  - {line}")
        from algorithms.experiments.judging import budget_note

        print("  - " + budget_note(len(p.seeds), p.budget.name))
    log = (lambda s: None) if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    t0 = time.perf_counter()
    refs: dict[str, dict] = {}
    if mine:
        results = ex.collect(p, mine)
        for r, ds in ref_dirs.items():
            if ds:
                rp = ref_plans[r]
                refs[r] = ex.summarise(ex.collect(rp, ds), rp)
        walls = [_shard_wall(d) for d in mine]
    lock_dir = out
    from algorithms.run.outputs import OutputDir

    with OutputDir(lock_dir, {"command": "apga experiment", "plan_id": p.plan_id}):
        from algorithms.run.outputs import write_json

        write_json(out / "plan.json", {"plan_id": p.plan_id, "plan": p.to_dict()})
        if args.merge is None and not args.replot:
            ex.run_plan(p, out, workers, shard, log, blas)
            wall = time.perf_counter() - t0
            if shard[1] > 1:
                write_json(out / f"shard-{shard[0]}-of-{shard[1]}.json",
                           {"plan_id": p.plan_id, "command": command, "wall_seconds": wall,
                            "workers": workers})  # fmt: skip
                base = command.split(" --shard")[0]
                merge = f"{base} --merge DIR... --out DIR"
                if args.json:
                    print(json.dumps({"command": command, "plan_id": p.plan_id,
                                      "shard": list(shard), "out": str(out),
                                      "wall_seconds": wall, "workers": workers,
                                      "next": merge}, indent=2))
                elif not args.markdown:
                    print(f"shard {shard[0]}/{shard[1]} done in {wall:.0f} s; runs in {out}/. "
                          f"When every shard is done: {merge}")
                return 0
            results = ex.collect(p, [out])
            walls = [wall]
        summary = ex.summarise(results, p)
        verdicts = ex.verdicts(p, summary, refs)
        from algorithms.experiments.judging import budget_note

        payload = {
            "command": command,
            "plan_id": p.plan_id,
            "plan": p.to_dict(),
            "budget_can_show": budget_note(len(p.seeds), p.budget.name),
            "summary": summary,
            "references": {r: sorted(s) for r, s in refs.items()},
            "verdicts": verdicts,
            "wall_seconds": walls if None not in walls else None,
            "workers": None if (args.merge or args.replot) else workers,
            "blas_threads": None if (args.merge or args.replot) else blas,
        }
        write_json(out / "summary.json", payload, sort_keys=True)
        ex.plot(summary, p, out / f"{name}.png",
                title=f"{name} ({p.budget.name} budget, n={p.experiment.n}, "
                      f"{len(p.seeds)} seeds)")
    if args.json:
        print(json.dumps(payload, indent=2, allow_nan=False))
    elif args.markdown:
        from algorithms.experiments.markdown import summary_markdown

        print(summary_markdown(payload))
    else:
        _print(summary, verdicts, payload["budget_can_show"])
        print(f"runs, summary.json and {name}.png in {out}/")
    return 0


def _command(name: str, budget: str, args: argparse.Namespace) -> str:
    cmd = f"apga experiment {name} --budget {budget}"
    for flag in ("seeds", "gradients", "panels", "perturb_theta0", "blas_threads", "shard"):
        v = getattr(args, flag)
        if v is not None:
            cmd += f" --{flag.replace('_', '-')} {v}"
    return cmd


def _folder_plan(flag: str, d: Path) -> str:
    """The plan id of the runs in folder ``d`` (its plan.json), or ValueError naming
    ``flag``."""
    marker = d / "plan.json"
    if d.exists() and not d.is_dir():
        raise ValueError(f"{flag}: {d} is not a folder")
    if not marker.exists():
        raise ValueError(f"{flag}: {d} holds no runs of an experiment (no plan.json)")
    try:
        saved = json.loads(marker.read_bytes().decode("utf-8"))
        pid = saved["plan_id"]
        if not isinstance(pid, str):
            raise TypeError
    except (OSError, ValueError, UnicodeDecodeError, KeyError, TypeError):
        raise ValueError(f"{flag}: {marker} is not a plan file of apga experiment") from None
    return pid


def _check_new_folder(d: Path, p) -> None:
    """``d`` (--out) is new, empty, or holds runs of plan ``p``; else one line naming --out."""
    if d.exists() and not d.is_dir():
        raise ValueError(f"--out: {d} exists and is not a folder")
    if not d.exists():
        return
    if (d / "plan.json").exists():
        pid = _folder_plan("--out", d)
        if pid != p.plan_id:
            raise ValueError(f"--out: {d} holds runs of another plan ({_plan_line(d)}); "
                             "repeat that command's arguments or choose another folder")
        return
    if any(not f.name.startswith(".") for f in d.iterdir()):
        raise ValueError(f"--out: {d} is not empty and holds no experiment; choose another "
                         "folder")


def _plan_line(d: Path) -> str:
    try:
        pl = json.loads((d / "plan.json").read_text())["plan"]
        return f"{pl['experiment']}, {pl['budget']} budget, seeds {len(pl['seeds'])}"
    except (OSError, ValueError, KeyError, TypeError):
        return "unreadable"


def _shard_wall(d: Path) -> float | None:
    """Wall time of the run(s) in ``d``: the sum over its shard files (None if unknown)."""
    files = sorted(d.glob("shard-*-of-*.json"))
    try:
        if files:
            return float(sum(json.loads(f.read_text())["wall_seconds"] for f in files))
        return float(json.loads((d / "summary.json").read_text())["wall_seconds"][0])
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


def _list(ex) -> None:
    for e in ex.EXPERIMENTS.values():
        panels = "; ".join(f"{p.env_id} [{p.scenario.label}]" for p in e.panels)
        print(f"{e.name:6s} n={e.n:<4d} {','.join(e.methods)}\n{'':6s} {panels}\n"
              f"{'':6s} {e.paper}")  # fmt: skip
        for c in e.claims:
            print(f"{'':6s} claim {c.key} ({c.source}, {c.kind} on {c.panel}, "
                  f"{c.metric}): {c.text}")
    print("budgets: " + ", ".join(ex.BUDGETS))


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.4g}"


def _print(summary: dict, verdicts: list, note: str) -> None:
    from rich.console import Console
    from rich.table import Table

    from algorithms.methods.registry import get

    con = Console()
    for key, panel in summary.items():
        t = Table(
            title=f"{key}: initial return {panel['initial_return']:.4g}, "
            f"T = {panel['max_time']:.4g} s"
        )
        for c in ("method", "hyper", "final (20%, 80%)", "time-avg", "steps"):
            t.add_column(c, justify="left" if c in ("method", "hyper") else "right")
        for name, m in panel["methods"].items():
            hp = ", ".join(f"{k}={v:g}" for k, v in m["hyper"].items() if k in ("alpha", "M"))
            t.add_row(
                get(name).title,
                hp,
                f"{m['final_return_median']:.4g} ({_fmt(m['final_return_q20'])}, "
                f"{_fmt(m['final_return_q80'])})",
                f"{m['average_return_median']:.4g}",
                f"{m['iterations']:.0f}",
            )
        con.print(t)
    if not verdicts:  # none when --cluster replaced the paper's scenarios
        return
    t = Table(title="claims: exact sign-flip tests over seeds, Holm within each figure's "
                    f"family\n{note}")
    for c in ("claim", "metric", "verdict", "p (Holm)", "why / seeds for 80% power"):
        t.add_column(c)
    for v in verdicts:
        ps = ", ".join(f"{c['p_adjusted']:.3g}" for c in v["comparisons"]
                       if c.get("p_adjusted") is not None)
        why = v["reason"] or ""
        if v["verdict"] == "inconclusive":
            why = f"{v.get('seeds_for_80_power') or '-'} seeds ({v.get('power_towards')})"
        verdict = v["verdict"].upper() + (" (fragile)" if v.get("fragile") else "")
        t.add_row(v["claim"], v["metric"], verdict, ps or "-", why)
    con.print(t)
