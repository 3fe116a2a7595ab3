"""``apga validate``: run the checks of the paper's claims and write the report."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from algorithms.cli import _types as ty

COMMAND = "validate"
ORDER = 60
DOCS = Path(__file__).resolve().parents[2] / "docs" / "validation"
HELP = ("check the paper's claims (lemmas, unbiasedness, variance, Prop. 2.3, Thm 4.1, shape, "
        "predicted seconds)")
DESCRIPTION = """Check the paper's claims by measurement and print a table of verdicts.

Checks (stable names): lemma_c1, lemma_c2, unbiased_rennala, unbiased_malenia,
rennala_bias_heterogeneous, variance_rennala, variance_malenia, prop_2_3, theorem_4_1,
straggler, time_complexity_shape, wallclock, wallclock_real (--list: what each checks).
--quick (default) is CI-sized (about 4 minutes on a 2-core machine); --full uses ~10x
more replicates, seeds and iterations. Writes <out>/report.md,
<out>/report.json and <out>/time_complexity_shape.png; the report's header names the
command that ran. Default out: runs/validate/<mode>[-seed<s>][-<checks>], one folder per
request. --write-docs writes the committed report instead (docs/validation, or
docs/validation/full with --full) and needs every check (no --only).
Exit status 1 if any check fails, 2 on bad input."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick",
        dest="mode",
        action="store_const",
        const="quick",
        help="CI-sized budget (default)",
    )
    mode.add_argument(
        "--full",
        dest="mode",
        action="store_const",
        const="full",
        help="full budget: more replicates, seeds and iterations",
    )
    p.set_defaults(mode="quick")
    p.add_argument(
        "--only", default=None, metavar="NAMES", help="comma-separated check names (default: all)"
    )
    p.add_argument("--seed", type=ty.integer(0), default=0,
                   help="master seed (default %(default)s)")
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--out", default=None,
        help="report folder (default runs/validate/<mode>[-seed<s>][-<checks>])"
    )
    where.add_argument(
        "--write-docs", action="store_true",
        help="write the committed report: docs/validation (--quick) or docs/validation/full"
    )
    where.add_argument("--no-write", action="store_true", help="do not write the report files")
    p.add_argument("--json", action="store_true", help="print the JSON report on stdout")
    p.add_argument("--list", action="store_true", help="list the checks and exit")
    p.add_argument("--quiet", action="store_true",
                   help="no line per finished check while the checks run")
    p.add_argument("--dry-run", action="store_true",
                   help="check the arguments and print the checks it would run; run nothing")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from algorithms.run.outputs import prepare_dir
    from theory import jsonio
    from validation import registry
    from validation.report import STYLE, payload, rich_table, write_report
    from validation.result import Budget, jsonable

    if args.list:
        for spec in registry.CHECKS.values():
            print(f"{spec.name:28s} {spec.paper:32s} {spec.claim}")
        return 0
    budget = Budget(mode=args.mode, seed=args.seed)
    specs = registry.select(args.only)
    command = " ".join(["apga validate", f"--{args.mode}"]
                       + ([f"--only {args.only}"] if args.only else [])
                       + ([f"--seed {args.seed}"] if args.seed else [])
                       + (["--write-docs"] if args.write_docs else []))
    out = None
    if args.dry_run:
        names = [spec.name for spec in specs]
        where = ("nowhere (--no-write)" if args.no_write else
                 str(DOCS / ("full" if args.mode == "full" else "")) if args.write_docs else
                 args.out or "runs/validate/<mode>[-seed<s>][-<checks>]")
        if args.json:
            sys.stdout.write(jsonio.dumps({"command": command, "checks": names,
                                           "mode": args.mode, "seed": args.seed,
                                           "out": where}, indent=2) + "\n")
        else:
            print(f"would run {len(names)} checks ({args.mode} budget, seed {args.seed}): "
                  f"{', '.join(names)}; report to {where}")
        return 0
    if not args.no_write:
        if args.write_docs:
            if args.only:
                raise ValueError("write-docs: the committed report holds every check; "
                                 "drop --only (or write elsewhere with --out)")
            out = DOCS / ("full" if args.mode == "full" else "")
        elif args.out is not None:
            out = args.out  # a string: prepare_dir refuses '' (Path('') would be '.')
        else:
            tag = args.mode + (f"-seed{args.seed}" if args.seed else "")
            if args.only:
                tag += "-" + "-".join(s.name for s in specs)
            out = Path("runs/validate") / tag
        out = prepare_dir(out, "--write-docs" if args.write_docs else "--out")
    console = Console(stderr=args.json)

    def progress(res) -> None:
        if args.quiet:
            return
        console.print(f"[{STYLE[res.verdict]}]{res.verdict:8s}[/] {res.name} ({res.seconds:.1f} s)")

    t0 = time.perf_counter()
    results = registry.run_checks(specs, budget, on_result=progress)
    seconds = time.perf_counter() - t0
    if out is not None:
        paths = write_report(results, budget, seconds, out, command,
                             "write-docs" if args.write_docs else "out")
    if args.json:
        doc = payload(results, budget, seconds, command)
        sys.stdout.write(jsonio.dumps(jsonable(doc), indent=2, sort_keys=True) + "\n")
    else:
        console.print(rich_table(results, console))
        failed = [r.name for r in results if r.failed]
        console.print(
            f"{len(results)} checks in {seconds:.1f} s: "
            + (f"[bold red]FAILED: {', '.join(failed)}[/]" if failed else "[green]no failures[/]")
        )
        if out is not None:
            console.print(f"report written to {paths['markdown'].parent}/")
    return 1 if any(r.failed for r in results) else 0
