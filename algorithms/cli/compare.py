"""``apga compare``: several methods on one tabular setting, same seeds."""

from __future__ import annotations

import argparse

from algorithms.cli import _common
from algorithms.cli import _types as ty

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
DEFAULT_GRID = "2^-10..2^-1"


MAX_SEEDS = 1000
MAX_GRID = 100


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--methods",
        default=DEFAULT_METHODS,
        help="comma list of method names, or 'all' for every method of the setting",
    )
    p.add_argument(
        "--seeds", type=ty.integer(1, MAX_SEEDS, "each seed is a full run per method"),
        default=5, help="seeds 0..N-1 (default %(default)s, at most 1000)"
    )
    p.add_argument("--list", action="store_true", help="list the registered methods and exit")
    p.add_argument(
        "--tune",
        action="store_true",
        help="tune alpha per method over --tune-grid on separate seeds (Section H)",
    )
    p.add_argument(
        "--tune-grid",
        default=None,
        help=f"alpha grid: 'a^-i..a^-j' or a comma list (default {DEFAULT_GRID}; with --tune)",
    )
    p.add_argument(
        "--tune-seeds", type=ty.integer(1, 100, "each is a full run per candidate"), default=None,
        help="seeds per tuning run (default 2; with --tune)"
    )
    p.add_argument(
        "--tune-M",
        default=None,
        help="also tune M = M_init over this comma list (e.g. 10,20,40; Section H: 20,30,50)",
    )
    _common.add_setting_arguments(p)
    _common.add_checkpoint_arguments(p)
    p.add_argument("--tensorboard", default=None, metavar="DIR",
                   help="also write TensorBoard scalars of every run under DIR (simulated "
                   "seconds on the Relative axis; needs the tensorboard extra)")


def run(args: argparse.Namespace) -> int:
    import warnings

    from algorithms.methods.registry import REGISTRY, get
    from algorithms.run.report import plot_runs
    from theory import jsonio

    if args.list:
        for spec in REGISTRY.values():
            hp = ", ".join(f"{h.name}={h.default:g}" for h in spec.hyper)
            print(
                f"{spec.name:14s} {spec.title:20s} settings={'/'.join(spec.settings):26s} "
                f"allreduce={'yes' if spec.allreduce else 'no ':3s} {hp}"
            )
        return 0
    if args.tensorboard is not None:
        from algorithms.run.tensorboard import require

        require()
    setting = _common.setting_from(args)
    kind = "heterogeneous" if setting.heterogeneous else "homogeneous"
    specs = [get(name) for name in parse_methods(args.methods, kind)]
    grid = M_grid = None
    tune_seeds = 2 if args.tune_seeds is None else args.tune_seeds
    if args.tune:
        grid = parse_grid(args.tune_grid if args.tune_grid is not None else DEFAULT_GRID)
        M_grid = parse_M(args.tune_M) if args.tune_M is not None else None
    else:
        for flag, value in (("tune-grid", args.tune_grid), ("tune-seeds", args.tune_seeds),
                            ("tune-M", args.tune_M)):
            if value is not None:
                raise ValueError(f"{flag}: only used with --tune")
    identity = _common.run_identity(
        args, setting, specs, methods=[s.name for s in specs], seeds=args.seeds, tune=args.tune,
        tune_grid=grid, tune_M=M_grid, tune_seeds=tune_seeds if args.tune else None,
    )
    if args.dry_run:
        return _common.dry_run(args, setting, specs, args.seeds, identity)
    progress = _common.progress_enabled(args)
    results = {}
    tuning = {}
    with _common.open_out(args, "-".join(s.name for s in specs)[:80], identity) as out:
        for spec in specs:
            note = _common.homogeneous_note(spec, setting)
            if note:
                warnings.warn(note, stacklevel=1)
        oracle = setting.oracle()  # stateless: one for every method and seed
        for spec in specs:
            prepared = _common.prepare(spec, setting, args, oracle)
            override = None
            if grid is not None and "alpha" in {h.name for h in spec.hyper}:
                override, table = _common.tune_alpha(
                    spec,
                    setting,
                    args,
                    prepared,
                    grid,
                    tune_seeds,
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
        if args.tensorboard is not None:
            from algorithms.run.tensorboard import write_records

            for name, runs in results.items():
                for s, run in enumerate(runs):
                    write_records(args.tensorboard, f"{name}-seed{s}", run.records)
        summary = _common.summarise(results, args.target, args.target_J)
        payload = {
            "command": "compare",
            "setting": setting.to_dict(),
            "seeds": args.seeds,
            "cluster": args.cluster,
            "summary": summary,
            "tuning": tuning,
        }
        out.write_json("summary.json", payload)
        if not args.no_plot:
            titles = {REGISTRY[name].title: runs for name, runs in results.items()}
            with out.writing("compare.png") as tmp:
                plot_runs(
                    titles,
                    tmp,
                    title=f"{setting.env} {kind} (n={setting.n}, h={setting.h}, "
                    f"kappa={setting.kappa}, {args.seeds} seeds)",
                )
    if args.json:
        print(jsonio.dumps(payload, indent=2))
    else:
        _common.print_summary(
            summary, args.target, f"apga compare ({kind}, {args.seeds} seeds)", args.target_J
        )
        print(f"records, summary{'' if args.no_plot else ' and plot'} written to {out.path}/")
    return 0


def parse_methods(text: str, kind: str) -> list[str]:
    """'all' (every method designed for ``kind``) or a comma list: non-empty, no repeats."""
    from algorithms.methods.registry import REGISTRY, get

    if text.strip() == "all":
        return [s.name for s in REGISTRY.values() if kind in s.settings]
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise ValueError(f"methods: give at least one method name (or 'all'), got {text!r}")
    for name in names:
        try:
            get(name)
        except ValueError as exc:
            raise ValueError(f"methods: {str(exc).split(': ', 1)[-1]}") from None
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"methods: {', '.join(repeated)} listed twice (runs would share files)")
    return names


def parse_M(text: str) -> list[int]:
    """'10,20,40' -> [10, 20, 40]: each an integer in [1, 2^20], no repeats."""
    from theory import checks

    items = [x.strip() for x in text.split(",") if x.strip()]
    if not items:
        raise ValueError(f"tune-M must be a comma list of integers, got {text!r}")
    if len(items) > MAX_GRID:
        raise ValueError(f"tune-M: at most {MAX_GRID} values, got {len(items)}")
    values = [checks.count("tune-M", x, maximum=2**20) for x in items]
    return sorted(set(values))


def parse_grid(text: str) -> list[float]:
    """'2^-10..2^-1' -> [2^-10, ..., 2^-1]; '0.1,0.2' -> [0.1, 0.2].

    Values must be finite and > 0, at most :data:`MAX_GRID` of them (each is a tuning run
    per seed).
    """
    import math

    from theory import checks

    text = text.replace(" ", "")
    bad = ValueError(f"tune-grid must look like 2^-10..2^-1 or 0.1,0.2, got {text!r}")
    try:
        if ".." in text:
            a, b = text.split("..")
            base_a, exp_a = a.split("^")
            base_b, exp_b = b.split("^")
            if base_a != base_b:
                raise bad
            base = float(base_a)
            lo, hi = sorted((checks.count("tune-grid", exp_a, -1074, 1074),
                             checks.count("tune-grid", exp_b, -1074, 1074)))
            if not (math.isfinite(base) and base > 0 and base != 1):
                raise ValueError(f"tune-grid: the base must be a number > 0 other than 1, "
                                 f"got {base_a!r}")
            if hi - lo + 1 > MAX_GRID:
                raise ValueError(f"tune-grid: at most {MAX_GRID} values, got {hi - lo + 1}")
            values = [base**e for e in range(lo, hi + 1)]
        else:
            values = [float(x) for x in text.split(",") if x]
    except (ValueError, OverflowError) as exc:
        if str(exc).startswith("tune-grid:"):
            raise
        raise bad from None
    if not values:
        raise ValueError("tune-grid is empty")
    if len(values) > MAX_GRID:
        raise ValueError(f"tune-grid: at most {MAX_GRID} values, got {len(values)}")
    return [checks.positive("tune-grid", v) for v in values]
