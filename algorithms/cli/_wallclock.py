"""``apga predict`` in seconds: the simulated clock on a described cluster (flags and output).

The flags are defined in :mod:`algorithms.cli._cluster` (``add_seconds_arguments``); when
one of them is given (``seconds_requested``), ``apga predict`` imports this module and adds
a section of predicted seconds (:mod:`algorithms.wallclock`) to its output. ``apga
predict`` with no arguments never imports it, nor the clock (numpy/scipy), nor matplotlib.
"""

from __future__ import annotations

import argparse
from typing import Any

SWEEP_VARIABLES = ("n", "eps")
DEFAULT_SWEEP_POINTS = {"n": 50, "eps": 13}

def options(args: argparse.Namespace) -> dict[str, Any]:
    """The validated numeric options of the section (M, M_init, ... as ints or None)."""
    from algorithms import wallclock as wc
    from theory import checks

    def opt(name, minimum=1):
        v = getattr(args, name)
        return None if v is None else checks.count(name, v, minimum=minimum)

    out = {"M": opt("M"), "M_init": opt("M_init"), "iterations": opt("iterations"),
           "batch": opt("batch") or 1, "seed": opt("seed", 0) or 0,
           "rounds": opt("rounds")}  # None: wallclock.default_rounds(n), set by run
    if out["rounds"] is not None and out["rounds"] > wc.MAX_ROUNDS:
        raise ValueError(f"rounds: {out['rounds']} exceeds the limit of {wc.MAX_ROUNDS}")
    for name in ("sweep_points", "out"):
        if getattr(args, name) is not None and args.sweep is None:
            raise ValueError(f"{name}: only used with --sweep")
    if out["iterations"] is not None and out["iterations"] > wc.MAX_ITERATIONS:
        raise ValueError(f"iterations: {out['iterations']} exceeds {wc.MAX_ITERATIONS:.0e}")
    return out


def run(args: argparse.Namespace, times, build, render) -> int:
    """``apga predict`` with the seconds section: the table, then the seconds (and sweep).

    ``times``, ``build``, ``render`` are those of :mod:`algorithms.cli.predict`."""

    opts = options(args)
    h, kappa, spec = times(args)
    if spec is None:  # validated before the tables: a bad time is named once, as seconds
        spec = flags_cluster(h, kappa, args)
    if opts["rounds"] is None:
        from algorithms.wallclock import default_rounds

        opts["rounds"] = default_rounds(spec.n)
    pred = build(args, (h, kappa, spec))
    names = None if args.methods is None else [m.strip() for m in args.methods.split(",")]
    methods = methods_for(names)
    results = compute(spec, pred, opts, methods)
    sweep = None
    if args.sweep is not None:
        var, values = parse_sweep(args.sweep, args.sweep_points)
        sweep_spec = spec
        from_profile = all(getattr(args, k) is None for k in ("cluster", "h", "h_file"))
        if var == "n" and from_profile and values[-1] > spec.n:  # extend the profile
            h2, kappa2, _ = times(args, n=values[-1])
            sweep_spec = flags_cluster(h2, kappa2, args)
        sweep = run_sweep(args, pred, sweep_spec, opts, methods)
    if args.json:
        obj = pred.to_json()
        obj.update(to_json(results, spec, opts))
        if sweep is not None:
            obj["sweep"] = sweep
        from theory import jsonio

        print(jsonio.dumps(obj, indent=2))
        return 0
    from algorithms.run.tables import console as make_console

    console = make_console()
    render(pred, console)
    render_seconds(results, spec, opts, console)
    if sweep is not None:
        console.print(f"sweep over {sweep['variable']} ({len(sweep['values'])} points): "
                      f"{sweep['csv']}, {sweep['png']}", highlight=False)
    return 0


def flags_cluster(h, kappa, args: argparse.Namespace):
    """The ClusterSpec of --h/--h-file/--profile, --kappa and --timing (and its options)."""
    from theory.cluster_file import ClusterSpec

    opts = {}
    for key in ("log_sigma", "jitter"):
        v = getattr(args, key)
        if v is not None:
            try:
                opts[key] = float(v)
            except ValueError:
                raise ValueError(f"{key} must be a number, got {v!r}") from None
    return ClusterSpec(h, kappa, args.timing or "fixed", opts)


def methods_for(pred_methods: list[str] | None) -> tuple[str, ...]:
    from algorithms.wallclock import WALLCLOCK_METHODS

    if pred_methods is None:
        return WALLCLOCK_METHODS
    return tuple(m for m in WALLCLOCK_METHODS if m in pred_methods)


def compute(spec, pred, opts: dict, methods) -> dict:
    """MethodWallclock per method for ``spec`` with the prediction's eps and constants."""
    from algorithms.wallclock import predict_wallclock

    c = pred.constants
    M = opts["M"] if opts["M"] is not None else pred.parameters.M
    M_init = opts["M_init"] if opts["M_init"] is not None else pred.parameters.M_init
    return predict_wallclock(spec, methods, eps=pred.eps, L_g=c.L_g, L_h=c.L_h,
                             sigma=c.sigma, Delta=c.Delta, mu=c.mu, M=M, M_init=M_init,
                             iterations=opts["iterations"], batch=opts["batch"],
                             seed=opts["seed"], rounds=opts["rounds"])


def to_json(results: dict, spec, opts: dict) -> dict[str, Any]:
    """The ``wallclock`` and ``wallclock_setup`` keys of ``apga predict --json``."""
    cluster = spec.to_dict()
    if spec.n > 1000:
        cluster["h"] = cluster["kappa"] = cluster["agents"] = None
    setup = {
        "cluster": cluster, "seed": opts["seed"], "rounds": opts["rounds"],
        "batch": opts["batch"],
        "round_seconds": "fixed times: one simulated round, exact (docs/clock.md); random: "
                         "mean over the simulated rounds. AFedPG: the long-run time between "
                         "server updates, (sum_i 1/(h_i + 2 kappa_i))^-1",
        "total_seconds": {m: r.total_rule for m, r in results.items()},
        "bound_seconds": "Lemma C.1 / C.2 with kappa = max_i kappa_i (fixed times only)",
    }
    return {"wallclock": {m: r.to_json() for m, r in results.items()}, "wallclock_setup": setup}


def render_seconds(results: dict, spec, opts: dict, console) -> None:
    """Print the seconds table under predict's table."""
    from algorithms.run.tables import Column, fit
    from theory.complexity import LABELS

    src = f"cluster {spec.source}" if spec.source else "cluster from the flags"
    fixed = spec.timing == "fixed"
    timing = "fixed times (exact)" if fixed else (
        f"{spec.timing} times, mean ± std over {opts['rounds']} simulated rounds, seed "
        f"{opts['seed']}")
    cols = [Column("method", "left", 10), Column("grads/round", priority=5),
            Column("round s", priority=9), Column("± std", priority=6),
            Column("bound s", priority=4), Column("first round s", priority=3),
            Column("K = T", priority=7), Column("total s", priority=8),
            Column("K = T_explicit", priority=1), Column("total s (explicit)", priority=2)]
    rows = [[LABELS[m].replace("(Synchronized)", "Sync."), str(r.M),
             _g(r.round_seconds), _g(r.round_seconds_std), _g(r.bound_seconds),
             _g(r.init_seconds) if m in ("rennala_nigt", "malenia_nigt") else "-",
             _k(r.iterations), _g(r.total_seconds), _k(r.iterations_explicit),
             _g(r.total_seconds_explicit)]
            for m, r in results.items()]
    console.print(fit(console, f"predicted seconds on the simulated clock: {src}, n = "
                      f"{spec.n}, {timing}", cols, rows))
    kappa = "one kappa" if spec.kappa.min() == spec.kappa.max() else (
        f"per-agent kappa_i (the rows above use kappa = max_i kappa_i = {spec.kappa.max():g})")
    lines = [
        f"h_i = seconds per stochastic gradient, {kappa}; bounds: Lemma C.1/C.2 with "
        "kappa = max_i kappa_i" + ("" if fixed else " (hold for fixed times only)"),
        "total: Rennala/Malenia NIGT = first round (M_init) + K rounds (M) (Algorithm 1 "
        "lines 2, 6); Sync. NIGT = (K + 1) rounds of b gradients per agent; AFedPG = time "
        "of the K-th server update" + (" (exact)" if fixed else " = K x round") + ", round = "
        "long-run gap (sum_i 1/(h_i + 2 kappa_i))^-1",
    ]
    nigt = [r for m, r in results.items() if m in ("rennala_nigt", "malenia_nigt")]
    if nigt:
        src = {k: "given" if opts[k] is not None else "Theorem 4.2" for k in ("M", "M_init")}
        lines.append(f"batches: M = {nigt[0].M} ({src['M']}), M_init = {nigt[0].M_init} "
                     f"({src['M_init']}); Sync. NIGT: b = {opts['batch']} per agent")
    if any(r.iterations_source == "given" for r in results.values()):
        lines.append("K = T column: K given by --iterations")
    for line in lines:
        console.print(line, highlight=False)


def _g(x) -> str:
    return "-" if x is None else f"{x:.6g}"


def _k(x) -> str:
    return "-" if x is None else f"{x:.6g}" if x >= 1e7 else str(x)


# --- sweeps ------------------------------------------------------------------------------
def parse_sweep(text: str, points: str | None) -> tuple[str, list]:
    """``n=A..B`` -> integers, ``eps=A..B`` -> log-spaced floats; ValueError naming sweep."""
    import numpy as np

    from theory import checks

    var, sep, rng = text.partition("=")
    var = var.strip()
    if not sep or var not in SWEEP_VARIABLES or ".." not in rng:
        raise ValueError(f"sweep must look like n=1..20 or eps=1e-3..1e-1, got {text!r}")
    a_text, b_text = (x.strip() for x in rng.split("..", 1))
    P = DEFAULT_SWEEP_POINTS[var] if points is None else checks.count("sweep-points", points)
    if P > 1000:
        raise ValueError(f"sweep-points: {P} exceeds the limit of 1000")
    if var == "n":
        from theory.clusters import AGENTS_WHY, MAX_AGENTS

        a, b = (checks.count("sweep", x, maximum=MAX_AGENTS, why=AGENTS_WHY)
                for x in (a_text, b_text))
        if b < a:
            raise ValueError(f"sweep: n=A..B needs A <= B, got {text!r}")
        if b - a + 1 <= P:
            return var, list(range(a, b + 1))
        return var, sorted({int(round(x)) for x in np.geomspace(a, b, P)})
    a, b = checks.positive("sweep", a_text), checks.positive("sweep", b_text)
    lo, hi = min(a, b), max(a, b)
    return var, [float(x) for x in np.geomspace(lo, hi, P if hi > lo else 1)]


def new_folder(out: str | None, var: str):
    """A fresh folder under ``out`` (default runs/predict) that no other run uses."""
    import time
    from pathlib import Path

    base = Path(out or "runs/predict")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for k in range(1, 1000):
        path = base / (f"sweep_{var}_{stamp}" + (f"_{k}" if k > 1 else ""))
        try:
            path.mkdir(parents=True, exist_ok=False)
            return path
        except FileExistsError:
            continue
        except OSError as exc:
            raise ValueError(f"out: cannot create {str(path)!r} ({exc.strerror or exc})") from None
    raise ValueError(f"out: no free folder name under {str(base)!r}")


def run_sweep(args, pred, spec, opts: dict, methods) -> dict[str, Any]:
    """Predicted run seconds against n or eps; writes sweep.csv and sweep.png; returns a
    JSON-ready summary (folder, files, rows)."""
    from theory.predict import predict

    var, values = parse_sweep(args.sweep, args.sweep_points)
    if var == "n" and values[-1] > spec.n:
        raise ValueError(f"sweep: n goes to {values[-1]} but the cluster has {spec.n} agents "
                         "(a --profile cluster is extended; a list or file is not)")
    rows = []
    for v in values:
        if var == "n":
            sub, p = spec.first(v), pred
        else:  # M, M_init and T follow eps (Theorem 4.2) unless given
            sub = spec
            try:
                p = predict(spec.h, v, spec.kappa, pred.constants, form=pred.form,
                            setting=pred.setting, h_per_gradient=True)
            except ValueError as exc:  # name the option that asked for this eps
                raise ValueError(f"sweep: at eps = {v:g}: {exc}") from None
        for m, r in compute(sub, p, opts, methods).items():
            rows.append({"variable": var, "value": v, "method": m, "M": r.M,
                         "M_init": r.M_init, "round_seconds": r.round_seconds,
                         "round_seconds_std": r.round_seconds_std,
                         "iterations": r.iterations, "total_seconds": r.total_seconds,
                         "iterations_explicit": r.iterations_explicit,
                         "total_seconds_explicit": r.total_seconds_explicit})
    folder = new_folder(args.out, var)
    csv_path = _write_csv(folder / "sweep.csv", rows)
    png_path = _plot(folder / "sweep.png", rows, var, spec)
    return {"variable": var, "values": values, "folder": str(folder), "csv": str(csv_path),
            "png": str(png_path), "rows": rows}


def _write_csv(path, rows: list[dict]):
    import csv

    with open(path, "x", newline="") as fh:  # "x": never overwrite
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        for row in rows:
            w.writerow({k: "" if v is None else v for k, v in row.items()})
    return path


def _plot(path, rows: list[dict], var: str, spec):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from theory.complexity import LABELS

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), squeeze=False)
    for ax, key, title in ((axes[0][0], "total_seconds", "K = T (O-form, constant 1)"),
                           (axes[0][1], "total_seconds_explicit", "K = T_explicit")):
        for m in dict.fromkeys(r["method"] for r in rows):
            pts = [(r["value"], r[key]) for r in rows if r["method"] == m and r[key] is not None]
            if pts:
                x, y = zip(*pts, strict=True)
                ax.plot(x, y, marker="o", markersize=3, label=LABELS[m])
        ax.set_yscale("log")
        if var == "eps":
            ax.set_xscale("log")
        ax.set_xlabel("n (first n agents)" if var == "n" else "eps")
        ax.set_ylabel("predicted seconds for the run")
        ax.set_title(title, fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    src = spec.source or "flags"
    fig.suptitle(f"predicted run seconds on the simulated clock ({src}, {spec.timing} times)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
