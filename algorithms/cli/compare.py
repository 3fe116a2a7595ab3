"""``apga compare``: several methods on one tabular setting, same seeds."""

from __future__ import annotations

import argparse
from pathlib import Path

from algorithms.cli import _common

COMMAND = "compare"
ORDER = 41
HELP = "compare methods on one tabular setting over seeds (median and 20-80% band plot)"
DESCRIPTION = """Compare several methods on one tabular setting with the same seeds.

Default: Rennala NIGT, AFedPG and Synchronized NIGT (the paper's Section H comparison)
on the default setting of `apga train`, seeds 0..4. Every method sees the same MDP, the
same timing streams and starts from the same theta_0. Writes one CSV per (method,
seed), summary.json and compare.png (median and 20%-80% band of J and ||grad J|| against
simulated time, as in the paper's figures)."""

DEFAULT_METHODS = "rennala_nigt,afedpg,sync_nigt"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--methods",
        default=DEFAULT_METHODS,
        help="comma list of method names, or 'all' for every method of the setting",
    )
    p.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default %(default)s)")
    p.add_argument("--list", action="store_true", help="list the registered methods and exit")
    p.add_argument(
        "--tune",
        action="store_true",
        help="tune alpha per method over --tune-grid on separate seeds (Section H)",
    )
    p.add_argument(
        "--tune-grid",
        default="2^-10..2^-1",
        help="alpha grid: 'a^-i..a^-j' or a comma list (default %(default)s)",
    )
    p.add_argument("--tune-seeds", type=int, default=2, help="seeds per tuning run")
    p.add_argument(
        "--tune-M",
        default=None,
        help="also tune M = M_init over this comma list (e.g. 10,20,40; Section H: 20,30,50)",
    )
    _common.add_setting_arguments(p)
    _common.add_checkpoint_arguments(p)


def run(args: argparse.Namespace) -> int:
    from algorithms.methods.registry import REGISTRY, get
    from algorithms.report import plot_runs, write_json

    if args.list:
        for spec in REGISTRY.values():
            hp = ", ".join(f"{h.name}={h.default:g}" for h in spec.hyper)
            print(
                f"{spec.name:14s} {spec.title:20s} settings={'/'.join(spec.settings):26s} "
                f"allreduce={'yes' if spec.allreduce else 'no ':3s} {hp}"
            )
        return 0
    setting = _common.setting_from(args)
    if args.seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {args.seeds}")
    kind = "heterogeneous" if setting.heterogeneous else "homogeneous"
    if args.methods.strip() == "all":
        specs = [s for s in REGISTRY.values() if kind in s.settings]
    else:
        specs = [get(name.strip()) for name in args.methods.split(",") if name.strip()]
    out = Path(args.out or "runs/compare")
    progress = _common.progress_enabled(args)
    results = {}
    tuning = {}
    grid = parse_grid(args.tune_grid) if args.tune else None
    oracle = setting.oracle()  # stateless: one for every method and seed
    for spec in specs:
        prepared = _common.prepare(spec, setting, args, oracle)
        override = None
        if grid is not None and "alpha" in {h.name for h in spec.hyper}:
            M_grid = [int(x) for x in args.tune_M.split(",")] if args.tune_M else None
            override, table = _common.tune_alpha(
                spec,
                setting,
                args,
                prepared,
                grid,
                args.tune_seeds,
                args.target,
                log=(lambda m: None) if args.json else print,
                M_grid=M_grid,
            )
            tuning[spec.name] = table
        results[spec.name] = [
            _common.run_one(
                spec, setting, s, args, out, prepared, progress=progress, override=override
            )
            for s in range(args.seeds)
        ]
    summary = _common.summarise(results, args.target, args.target_J)
    payload = {
        "command": "compare",
        "setting": setting.to_dict(),
        "seeds": args.seeds,
        "cluster": args.cluster,
        "summary": summary,
        "tuning": tuning,
    }
    write_json(out / "summary.json", payload)
    if not args.no_plot:
        titles = {REGISTRY[name].title: runs for name, runs in results.items()}
        plot_runs(
            titles,
            out / "compare.png",
            title=f"{setting.env} {kind} (n={setting.n}, h={setting.h}, kappa={setting.kappa}, "
            f"{args.seeds} seeds)",
        )
    if args.json:
        import json

        print(json.dumps(payload, indent=2, default=str))
    else:
        _common.print_summary(
            summary, args.target, f"apga compare ({kind}, {args.seeds} seeds)", args.target_J
        )
        print(f"records, summary{'' if args.no_plot else ' and plot'} written to {out}/")
    return 0


def parse_grid(text: str) -> list[float]:
    """'2^-10..2^-1' -> [2^-10, ..., 2^-1]; '0.1,0.2' -> [0.1, 0.2]."""
    from theory import checks

    text = text.replace(" ", "")
    try:
        if ".." in text:
            a, b = text.split("..")
            base_a, exp_a = a.split("^")
            base_b, exp_b = b.split("^")
            if base_a != base_b:
                raise ValueError
            base, lo, hi = float(base_a), int(exp_a), int(exp_b)
            values = [base**e for e in range(min(lo, hi), max(lo, hi) + 1)]
        else:
            values = [float(x) for x in text.split(",") if x]
    except ValueError:
        raise ValueError(f"tune-grid must look like 2^-10..2^-1 or 0.1,0.2, got {text!r}") from None
    if not values:
        raise ValueError("tune-grid is empty")
    return [checks.positive("tune-grid", v) for v in values]
