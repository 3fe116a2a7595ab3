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
the paper makes about it (`apga experiment --list`). `--budget` scales it: tiny (seconds;
tests), small (the docs' figures), paper (the paper's horizon, grids and 5 seeds; days
here). Every change from the paper is printed and stored in summary.json ("scaled").
Hyperparameters: eta = 0.1, alpha and M = M_init tuned per method and panel on separate
tuning seeds. Each claim gets a verdict (reproduced / contradicted / inconclusive) from a
paired bootstrap interval over seeds, on the final and on the time-averaged return.

With no NAME it runs `fig1 --budget tiny`. Runs go to --out (default
runs/experiment/NAME/BUDGET-PLANID, one folder per plan: different arguments never share
one, and rerunning the same command resumes). `--workers N` runs N processes (results are
bit-identical to --workers 1); `--shard i/k` runs the i-th of k parts (any scheduler, e.g.
a SLURM array, can spread a figure over machines) and `--merge DIR...` combines the
shards' folders into the summary and plot. Needs the `mujoco` extra."""

_MAX = {"--seeds": 1000, "--gradients": 10**7, "--workers": 256, "--blas-threads": 64}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", default=None, help="experiment (default: fig1, tiny)")
    p.add_argument("--list", action="store_true", help="list the experiments and exit")
    p.add_argument("--budget", default=None, help="tiny | small | paper (default small)")
    from algorithms.cli._cluster import add_cluster_argument

    add_cluster_argument(p)  # replaces the figure's timing scenarios (and n) by the file's
    p.add_argument("--seeds", default=None, help="reported seeds 0..K-1 (default: the budget's)")
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
    p.add_argument("--shard", default=None, help="i/k: run only the i-th of k parts (0-based)")
    p.add_argument(
        "--merge",
        nargs="+",
        default=None,
        metavar="DIR",
        help="do not run: combine the runs in these folders (shards) into --out",
    )
    p.add_argument(
        "--replot",
        action="store_true",
        help="do not run: rebuild summary, verdicts and plot from the runs in --out",
    )
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
    if not re.fullmatch(r"[+]?\d{1,12}", t):
        raise ValueError(f"{flag}: expected a positive integer, got {text!r}")
    v = int(t)
    if v < 1:
        raise ValueError(f"{flag}: must be >= 1, got {text!r}")
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
    budget = args.budget or ("tiny" if default else "small")
    seeds, grads = _count("--seeds", args.seeds), _count("--gradients", args.gradients)
    workers = _count("--workers", args.workers) or os.cpu_count() or 1
    shard = _shard(args.shard)
    blas = _count("--blas-threads", args.blas_threads) or 1
    perturb = _eps(args.perturb_theta0)
    if args.merge is not None and args.replot:
        raise ValueError("--merge: give either --merge DIR... or --replot, not both")
    if (args.merge is not None or args.replot) and args.shard is not None:
        raise ValueError("--shard: only when running (not with --merge / --replot)")
    panels = None if args.panels is None else [k.strip() for k in args.panels.split(",")]
    from algorithms.cli._cluster import cluster_from_args

    cluster = cluster_from_args(args)
    p = ex.plan(name, budget, seeds, gradients=grads, panels=panels, perturb=perturb,
                cluster=cluster)
    command = _command(name, budget, args)
    out = Path(args.out or f"runs/experiment/{name}/{budget}-{p.plan_id}")
    if not (args.json or args.markdown):
        if default:
            print("no experiment given: running the default `fig1 --budget tiny`")
        print(f"{name}: {p.experiment.paper}; budget {p.budget.name}; scaled from the paper:")
        for line in p.scaled:
            print(f"  - {line}")
    log = (lambda s: None) if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    t0 = time.perf_counter()
    if args.merge is not None or args.replot:
        flag = "--replot" if args.replot else "--merge"
        dirs = [out] if args.replot else [Path(d) for d in args.merge]
        for d in dirs:
            _check_folder(flag, d, p, must_exist=True)
        results = ex.collect(p, dirs)
        if not args.replot:  # the merged summary goes to --out: never another plan's folder
            _check_folder("--out", out, p, must_exist=False)
        walls = [_shard_wall(d) for d in dirs]
    else:
        _check_folder("--out", out, p, must_exist=False)
        with _Lock(out, shard):
            ex.run_plan(p, out, workers, shard, log, blas)
        wall = time.perf_counter() - t0
        if shard[1] > 1:
            from algorithms.experiments.runner import write_atomic

            write_atomic(out / f"shard-{shard[0]}-of-{shard[1]}.json",
                         {"plan_id": p.plan_id, "command": command, "wall_seconds": wall,
                          "workers": workers})  # fmt: skip
            base = command.split(" --shard")[0]
            print(f"shard {shard[0]}/{shard[1]} done in {wall:.0f} s; runs in {out}/. When "
                  f"every shard is done: {base} --merge DIR...")  # fmt: skip
            return 0
        results = ex.collect(p, [out])
        walls = [wall]
    summary = ex.summarise(results)
    verdicts = ex.verdicts(p, summary)
    payload = {
        "command": command,
        "plan_id": p.plan_id,
        "plan": p.to_dict(),
        "summary": summary,
        "verdicts": verdicts,
        "wall_seconds": walls if None not in walls else None,
        "workers": None if (args.merge or args.replot) else workers,
        "blas_threads": None if (args.merge or args.replot) else blas,
    }
    from algorithms.experiments.runner import write_atomic

    write_atomic(out / "summary.json", payload)
    ex.plot(
        results,
        out / f"{name}.png",
        title=f"{name} ({p.budget.name} budget, n={p.experiment.n}, {len(p.seeds)} seeds)",
    )
    if args.json:
        print(json.dumps(payload, indent=2, allow_nan=False))
    elif args.markdown:
        from algorithms.experiments.markdown import summary_markdown

        print(summary_markdown(payload))
    else:
        _print(summary, verdicts)
        print(f"runs, summary.json and {name}.png in {out}/")
    return 0


def _command(name: str, budget: str, args: argparse.Namespace) -> str:
    cmd = f"apga experiment {name} --budget {budget}"
    for flag in ("seeds", "gradients", "panels", "perturb_theta0", "blas_threads", "shard"):
        v = getattr(args, flag)
        if v is not None:
            cmd += f" --{flag.replace('_', '-')} {v}"
    return cmd


def _check_folder(flag: str, d: Path, p, must_exist: bool) -> None:
    """``d`` belongs to plan ``p`` (its plan.json), or is new (``must_exist`` False)."""
    from algorithms.experiments.runner import write_atomic

    marker = d / "plan.json"
    if d.exists() and not d.is_dir():
        raise ValueError(f"{flag}: {d} is not a folder")
    if not marker.exists():
        if must_exist:
            raise ValueError(f"{flag}: {d} holds no runs of an experiment (no plan.json)")
        if d.exists() and any(not f.name.startswith(".") for f in d.iterdir()):
            raise ValueError(f"{flag}: {d} is not empty and holds no experiment; choose "
                             "another folder")  # fmt: skip
        write_atomic(marker, {"plan_id": p.plan_id, "plan": p.to_dict()})
        return
    try:
        saved = json.loads(marker.read_bytes().decode("utf-8"))
        pid = saved["plan_id"]
    except (OSError, ValueError, UnicodeDecodeError, KeyError, TypeError):
        raise ValueError(f"{flag}: {marker} is not a plan file of apga experiment") from None
    if pid != p.plan_id:
        raise ValueError(
            f"{flag}: {d} holds runs of another plan ({_plan_line(saved)}); repeat that "
            "command's arguments or choose another folder"
        )


def _plan_line(saved) -> str:
    try:
        pl = saved["plan"]
        return f"{pl['experiment']}, {pl['budget']} budget, seeds {len(pl['seeds'])}"
    except (KeyError, TypeError):
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


class _Lock:
    """One writer per (folder, shard): a lock file holding the writer's pid; a lock left by
    a process that no longer runs is taken over."""

    def __init__(self, out: Path, shard: tuple[int, int]) -> None:
        self.path = out / f".lock-shard-{shard[0]}-of-{shard[1]}"

    def __enter__(self) -> _Lock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                try:
                    pid = int(self.path.read_text().strip() or 0)
                    os.kill(pid, 0)
                except (ValueError, ProcessLookupError, OSError):
                    self.path.unlink(missing_ok=True)  # stale
                    continue
                raise ValueError(f"--out: {self.path.parent} is being written by process "
                                 f"{pid} (same shard); wait or choose another folder") from None
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            return self
        raise ValueError(f"--out: cannot lock {self.path}")

    def __exit__(self, *exc) -> None:
        self.path.unlink(missing_ok=True)


def _list(ex) -> None:
    for e in ex.EXPERIMENTS.values():
        panels = "; ".join(f"{p.env_id} [{p.scenario.label}]" for p in e.panels)
        print(f"{e.name:6s} n={e.n:<4d} {','.join(e.methods)}\n{'':6s} {panels}\n"
              f"{'':6s} {e.paper}")  # fmt: skip
        for c in e.claims:
            print(f"{'':6s} claim {c.key} ({c.source}, {c.kind} on {c.panel}): {c.text}")
    print("budgets: " + ", ".join(ex.BUDGETS))


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.4g}"


def _print(summary: dict, verdicts: list) -> None:
    from rich.console import Console
    from rich.table import Table

    from algorithms.methods.registry import get

    con = Console()
    for key, panel in summary.items():
        t = Table(
            title=f"{key}: initial return {panel['initial_return']:.4g}, "
            f"level {_fmt(panel['level'])}, T = {panel['max_time']:.4g} s"
        )
        for c in ("method", "hyper", "final (20%, 80%)", "time-avg", "time to level", "iters"):
            t.add_column(c, justify="left" if c in ("method", "hyper") else "right")
        for name, m in panel["methods"].items():
            hp = ", ".join(f"{k}={v:g}" for k, v in m["hyper"].items() if k in ("alpha", "M"))
            t.add_row(
                get(name).title,
                hp,
                f"{m['final_return_median']:.4g} ({m['final_return_q20']:.4g}, "
                f"{m['final_return_q80']:.4g})",
                f"{m['average_return_median']:.4g}",
                _fmt(m["time_to_level_median"]),
                f"{m['iterations']:.0f}",
            )
        con.print(t)
    t = Table(title="claims (paired bootstrap over seeds, 95% intervals of the mean difference)")
    for c in ("claim", "panel", "final return", "time-averaged return"):
        t.add_column(c)
    for v in verdicts:
        cells = []
        for metric in ("final", "average"):
            comps = "; ".join(
                f"{c['difference']}: {_fmt(c['estimate'])} [{_fmt(c['low'])}, {_fmt(c['high'])}]"
                for c in v[metric]["comparisons"]
            )
            cells.append(f"{v[metric]['verdict'].upper()} {comps}")
        t.add_row(v["claim"], v["panel"], *cells)
    if verdicts:  # none when --cluster replaced the paper's scenarios
        con.print(t)
