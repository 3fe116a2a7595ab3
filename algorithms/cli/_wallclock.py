"""``apga predict`` in seconds: the simulated clock on a described cluster (flags and output).

The flags are defined in :mod:`algorithms.cli._cluster` (``add_seconds_arguments``); when
one of them is given (``seconds_requested``), ``apga predict`` imports this module and adds
a section of predicted seconds (:mod:`algorithms.wallclock`) to its output. ``apga
predict`` with no arguments never imports it, nor the clock (numpy/scipy), nor matplotlib.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

SWEEP_VARIABLES = ("n", "eps")
DEFAULT_SWEEP_POINTS = {"n": 50, "eps": 13}
#: The inputs of a 'theory' value on the commands that start runs (as apga predict's).
THEORY_FLAGS = (("--eps", "eps"), ("--L-g", "L_g"), ("--L-h", "L_h"), ("--sigma", "sigma"),
                ("--Delta", "Delta"), ("--mu", "mu"))


def add_theory_arguments(p) -> None:
    """The flags a 'theory' value (``--M theory``, ...) is computed from, on ``apga launch``
    and ``apga calibrate``: the same names and defaults as ``apga predict``'s."""
    from algorithms.cli import _types as ty

    g = p.add_argument_group(
        "theory values (--M theory, --M-init theory, --eta theory, --alpha theory: Theorems "
        "4.1/4.2 from these, as apga predict computes them)")
    for flag, dest in THEORY_FLAGS:
        g.add_argument(flag, dest=f"theory_{dest}", type=ty.real(0, low_open=True),
                       default=None, help=f"{dest} (default "
                       f"{'none' if dest == 'mu' else _theory_default(dest)})")


def _theory_default(name: str) -> str:
    from algorithms.wallclock.defaults import DEFAULTS

    return f"{DEFAULTS[name]:g}"


def run_hyper(args: argparse.Namespace, methods, n: int):
    """(the given hyperparameters as numbers, their sources) of a launch or a calibration
    of ``methods`` (a name or a list; every flag must belong to one of them): ``theory``
    values replaced by Theorems 4.1/4.2's (:func:`algorithms.wallclock.defaults.resolve`,
    for the first method that has the flag)."""
    from algorithms.cli import _hyper
    from algorithms.methods.registry import get
    from algorithms.wallclock.defaults import THEORY, TheoryInputs, resolve

    methods = [methods] if isinstance(methods, str) else list(methods)
    given = _hyper.given(args)
    if len(methods) == 1:
        _hyper.refuse_foreign(given, get(methods[0]))
    known = {h.name for m in methods for h in get(m).hyper}
    for name in given:
        if name not in known:
            raise ValueError(f"{name}: not a hyperparameter of {', '.join(methods)}")
    inputs = {dest: getattr(args, f"theory_{dest}", None) for _, dest in THEORY_FLAGS}
    if THEORY not in given.values():
        used = [flag for flag, dest in THEORY_FLAGS if inputs[dest] is not None]
        if used:
            raise ValueError(f"{used[0].lstrip('-')}: only used with a 'theory' value "
                             "(--M theory, --M-init theory, --eta theory, --alpha theory)")
    theory = TheoryInputs(**{k: v for k, v in inputs.items() if v is not None})
    values: dict[str, float] = {}
    sources: dict[str, str] = {}
    for m in methods:
        mine = {k: v for k, v in given.items() if get(m).hyperparameter(k) is not None}
        vals, srcs = resolve(m, mine, theory, n)
        for k in mine:
            values.setdefault(k, vals[k])
            sources.setdefault(k, srcs[k])
    return values, sources


def options(args: argparse.Namespace) -> dict[str, Any]:
    """The validated numeric options of the section (M, M_init, ... as ints or None)."""
    from algorithms import wallclock as wc
    from algorithms.wallclock.defaults import parse
    from theory import checks

    def opt(name, minimum=1):
        v = getattr(args, name)
        return None if v is None else checks.count(name, v, minimum=minimum)

    out = {"M": parse("M", args.M, True), "M_init": parse("M_init", args.M_init, True),
           "iterations": opt("iterations"), "batch": opt("batch"),
           "seed": opt("seed", 0) or 0,
           "rounds": opt("rounds"),  # None: wallclock.default_rounds(n), set by run
           "rounds_given": args.rounds is not None,
           "alpha": parse("alpha", getattr(args, "alpha", None), False),
           "eta": parse("eta", getattr(args, "eta", None), False),
           "mode": None if getattr(args, "mode", None) is None
           else checks.choice("mode", args.mode.strip(), ("allreduce", "server"))}
    if out["eta"] is not None and out["eta"] != "theory" and out["eta"] > 1:
        raise ValueError(f"eta must lie in (0, 1], got {args.eta!r}")
    if out["rounds"] is not None and out["rounds"] > wc.MAX_ROUNDS:
        raise ValueError(f"rounds: {out['rounds']} exceeds the limit of {wc.MAX_ROUNDS}")
    for name in ("sweep_points", "out"):
        if getattr(args, name) is not None and args.sweep is None:
            raise ValueError(f"{name}: only used with --sweep")
    if out["iterations"] is not None and out["iterations"] > wc.MAX_ITERATIONS:
        raise ValueError(f"iterations: {out['iterations']} exceeds {wc.MAX_ITERATIONS:.0e}")
    return out


def cost_model_for(spec):
    """The cost model beside the cluster file (``--cluster F`` with ``F``'s .cost.json),
    or None (flags, or a file without one)."""
    if spec is None or spec.source is None:
        return None
    from theory.cluster_file import cost_path

    if not cost_path(spec.source).exists():
        return None
    from algorithms.wallclock.cost import CostModel

    model = CostModel.from_file(spec.source)
    if model.n != spec.n:
        raise ValueError(f"cluster: {str(cost_path(spec.source))!r} describes {model.n} "
                         f"agents, {spec.source!r} {spec.n}")
    return model


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
    model = cost_model_for(spec)
    if model is None and opts["mode"] is not None:
        raise ValueError("mode: only with a cluster file measured by apga calibrate (its "
                         ".cost.json beside it)")
    pred = build(args, (h, kappa, spec))
    names = None if args.methods is None else [m.strip() for m in args.methods.split(",")]
    methods = methods_for(names)
    if model is None:
        results = {m: entry(r, spec) for m, r in compute(spec, pred, opts, methods).items()}
        for m, r in results.items():
            r["hyper"], r["hyper_source"] = hyper_of(m, opts, pred, spec.n)
    else:
        results = compute_cost(model, pred, opts, methods)
    rec = recommendation(spec, model, pred, opts, methods, results)
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
        obj.update(to_json(results, spec, opts, model, pred))
        obj["recommendation"] = rec["recommendation"]
        obj["ranking"] = {k: rec[k] for k in ("ranking_gradients", "ranking_eps", "excluded",
                                               "straggler_ratio", "message_over_gradient",
                                               "rows", "gradients_budget")}
        if sweep is not None:
            obj["sweep"] = sweep
        from theory import jsonio

        print(jsonio.dumps(obj, indent=2))
        return 0
    from algorithms.run.tables import console as make_console

    console = make_console()
    render(pred, console)
    render_seconds(results, spec, opts, console, model, pred)
    render_recommendation(rec, console)
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


def theory_inputs(pred):
    """The inputs of 'theory' values: the prediction's eps and constants."""
    from algorithms.wallclock.defaults import TheoryInputs

    c = pred.constants
    return TheoryInputs(pred.eps, c.L_g, c.L_h, c.sigma, c.Delta, c.mu)


def hyper_of(method: str, opts: dict, pred, n: int) -> tuple[dict[str, float], dict[str, str]]:
    """(values, sources) of a method's hyperparameters from predict's flags, decided as
    apga launch decides them (:func:`algorithms.wallclock.defaults.resolve`)."""
    from algorithms.wallclock.defaults import resolve

    given = {k: opts[k] for k in ("M", "M_init", "alpha", "eta", "batch")}
    return resolve(method, given, theory_inputs(pred), n, strict=False)


def batches(pred, opts: dict, n: int = 1) -> tuple[int, int, dict[str, str]]:
    """(M, M_init, where each came from) of Rennala NIGT: the batches every method with an
    M shares (given, 'theory', else the registry default)."""
    values, sources = hyper_of("rennala_nigt", opts, pred, n)
    return int(values["M"]), int(values["M_init"]), sources


def compute(spec, pred, opts: dict, methods) -> dict:
    """MethodWallclock per method for ``spec`` with the prediction's eps and constants."""
    from algorithms.wallclock import predict_wallclock

    c = pred.constants
    M, M_init, _ = batches(pred, opts, spec.n)
    return predict_wallclock(spec, methods, eps=pred.eps, L_g=c.L_g, L_h=c.L_h,
                             sigma=c.sigma, Delta=c.Delta, mu=c.mu, M=M, M_init=M_init,
                             iterations=opts["iterations"], batch=opts["batch"] or 1,
                             seed=opts["seed"], rounds=opts["rounds"])


def entry(r, spec) -> dict[str, Any]:
    """A MethodWallclock as a ``wallclock`` entry, with its interval: fixed times exact;
    random times the total +- 2 std of the simulated rounds (AFedPG without a std: the
    total itself)."""
    out = r.to_json()
    std = r.total_seconds_std
    if std is None:  # AFedPG with random times: K gaps, each with the gaps' spread
        std = math.sqrt(r.iterations) * (r.round_seconds_std or 0.0)
    out["total_seconds_low"] = max(r.total_seconds - 2 * std, 0.0)
    out["total_seconds_high"] = r.total_seconds + 2 * std
    out["interval_source"] = ("fixed times: exact" if spec.timing == "fixed" else
                              "total +- 2 std of the simulated rounds (independent rounds)")
    out["point_source"] = "simulated clock on the cluster's h, kappa and timing model"
    from algorithms.wallclock import pattern_of

    out["mode"] = None
    out["pattern"] = pattern_of(r.method)
    return out


def compute_cost(model, pred, opts: dict, methods) -> dict[str, dict[str, Any]]:
    """Per method, the cost model's prediction (algorithms.wallclock.cost.predict_run) at
    K = --iterations (else T of Theorem 4.1 for the method) and at T_explicit."""
    from algorithms.wallclock import COUNTED_PATTERNS, _iterations, pattern_of
    from algorithms.wallclock.cost import ROUNDS, predict_run

    c = pred.constants
    M, M_init, _ = batches(pred, opts, model.n)
    batch = opts["batch"] or 1
    out = {}
    for m in methods:
        pattern = pattern_of(m)
        counts = _iterations(pattern, model.n, batch, pred.eps, c.L_g, c.L_h,
                             c.sigma, c.Delta, c.mu, M, M_init)
        K = counts.T if opts["iterations"] is None else opts["iterations"]
        values, sources = hyper_of(m, opts, pred, model.n)
        alpha = values.get("alpha")
        kw = {"M": M, "M_init": M_init, "batch": batch, "alpha": alpha,
              "mode": mode_for(m, opts["mode"]), "seed": opts["seed"],
              "rounds": opts["rounds"] if opts["rounds_given"] else ROUNDS}
        p = predict_run(model, m, K, **kw)
        exp = None if counts.T_explicit is None else predict_run(model, m, counts.T_explicit,
                                                                   **kw)
        out[m] = {
            "mode": p.mode, "pattern": pattern, "M": p.gradients,
            "M_init": M_init if pattern in COUNTED_PATTERNS else None,
            "round_seconds": p.round_seconds, "round_seconds_std": p.round_seconds_std,
            "round_terms": p.terms, "gap_seconds": p.gap_seconds,
            "init_seconds": p.init_seconds, "bound_seconds": None,
            "bound_source": "none (a measured cost model, not Assumption 2.5's bounds)",
            "iterations": K,
            "iterations_source": ("given" if opts["iterations"] is not None else
                                  f"T ({counts.source}, O-form, constant 1)"),
            "total_seconds": p.total_seconds, "total_seconds_low": p.total_seconds_low,
            "total_seconds_high": p.total_seconds_high,
            "point_source": p.point_source,
            "interval_source": ("low: lengths as measured, high: every trajectory at H "
                                f"= {model.horizon} steps, each widened by the drift "
                                f"({100 * p.drift:.1f}%, {p.drift_source}) and 2 std"),
            "drift": p.drift, "residual_source": p.residual_source,
            "residual_other_batch": p.residual_other_batch,
            "lengths": p.lengths, "samples": p.source,
            "iterations_explicit": counts.T_explicit,
            "total_seconds_explicit": None if exp is None else exp.total_seconds,
            "total_seconds_explicit_low": None if exp is None else exp.total_seconds_low,
            "total_seconds_explicit_high": None if exp is None else exp.total_seconds_high,
            "alpha": alpha, "rounds_simulated": kw["rounds"],
            "hyper": values, "hyper_source": sources,
            "total_rule": _rule(pattern),
        }
    return out


def mode_for(method: str, mode: str | None) -> str | None:
    """``--mode`` for a method that runs in it, else None (the method's own mode: AFedPG
    runs in server mode only)."""
    from algorithms.methods.registry import get

    return mode if mode is not None and mode in get(method).modes else None


def _rule(pattern: str) -> str:
    if pattern == "greedy":
        return "K server updates x the long-run time between two"
    if pattern == "synchronized":
        return "K + 1 rounds, each followed by the measured gap (Algorithm 1 lines 2, 6)"
    return ("first round with M_init, then K rounds with M, each followed by the measured "
            "gap (Algorithm 1 lines 2, 6)")


def recommendation(spec, model, pred, opts: dict, methods, results) -> dict[str, Any]:
    """The ranking and the recommendation (:mod:`algorithms.wallclock.recommend`)."""
    import numpy as np

    from algorithms.wallclock import (
        COUNTED_PATTERNS,
        _iterations,
        pattern_of,
        predict_method,
    )
    from algorithms.wallclock.recommend import gradients_iterations, recommend

    c = pred.constants
    M, M_init, _ = batches(pred, opts, spec.n)
    batch = opts["batch"] or 1
    if model is not None:
        h = np.array([float(np.mean(x)) for x in model.samples("rennala")[0]])
        message = float(np.median(2 * model.send + 2 * model.kappa))
    else:
        h = np.asarray(spec.h, dtype=float)
        message = float(np.median(2 * spec.kappa))
    order = np.argsort(h, kind="stable")
    K_ref = (opts["iterations"] if opts["iterations"] is not None else
             _iterations("rennala", spec.n, batch, pred.eps, c.L_g, c.L_h, c.sigma, c.Delta,
                         c.mu, M, M_init).T)
    G = M_init + K_ref * M
    cache: dict = {}

    def seconds(method: str, m: int, K: int) -> float:
        key = (method, m, K)
        if key not in cache:
            agents = order[:m]
            if model is not None:
                from algorithms.wallclock.cost import ROUNDS, predict_run

                alpha = hyper_of(method, opts, pred, m)[0].get("alpha")
                cache[key] = predict_run(
                    model, method, K, M=M, M_init=M_init, batch=batch, alpha=alpha,
                    mode=mode_for(method, opts["mode"]), seed=opts["seed"],
                    rounds=opts["rounds"] if opts["rounds_given"] else ROUNDS,
                    agents=agents).total_seconds
            else:
                cache[key] = predict_method(
                    method, spec.subset(agents), eps=pred.eps, L_g=c.L_g, L_h=c.L_h,
                    sigma=c.sigma, Delta=c.Delta, mu=c.mu, M=M, M_init=M_init,
                    iterations=K, batch=batch, seed=opts["seed"],
                    rounds=opts["rounds"]).total_seconds
        return cache[key]

    def eps_iterations(method: str, m: int):
        return _iterations(pattern_of(method), m, batch, pred.eps, c.L_g, c.L_h, c.sigma,
                           c.Delta, c.mu, M, M_init).T_explicit

    def gradients(method: str, m: int) -> int:
        return gradients_iterations(pattern_of(method), G, M, M_init, m, batch)

    def batch_of(method: str):
        p = pattern_of(method)
        return M if p in COUNTED_PATTERNS else None

    rec = recommend(methods, h=h, message_seconds=message, seconds=seconds,
                    eps_iterations=eps_iterations, gradients=gradients,
                    settings=pred.setting, M=batch_of)
    rec["gradients_budget"] = {"G": G, "rule": f"G = M_init + K M = {M_init} + {K_ref} x {M}, "
                               "the gradients of a Rennala NIGT run of K iterations"}
    return rec


def to_json(results: dict, spec, opts: dict, model=None, pred=None) -> dict[str, Any]:
    """The ``wallclock`` and ``wallclock_setup`` keys of ``apga predict --json``."""
    cluster = spec.to_dict()
    if spec.n > 1000:
        cluster["h"] = cluster["kappa"] = cluster["agents"] = None
    setup = {
        "cluster": cluster, "seed": opts["seed"], "rounds": opts["rounds"],
        "batch": opts["batch"],
        "cost_model": None if model is None else {"source": model.source,
                                                  "primitives": model.primitives()},
        "round_seconds": ("cost model: a round composed from the measured primitives its "
                          "pattern and mode use (docs/wallclock.md)" if model is not None else
                          "fixed times: one simulated round, exact (docs/clock.md); random: "
                          "mean over the simulated rounds. AFedPG: the long-run time between "
                          "server updates, (sum_i 1/(h_i + 2 kappa_i))^-1"),
        "total_seconds": {m: r["total_rule"] for m, r in results.items()},
        "bound_seconds": "Lemma C.1 / C.2 with kappa = max_i kappa_i (fixed times only)",
    }
    if pred is not None:
        M, M_init, src = batches(pred, opts, spec.n)
        setup["batches"] = {"M": M, "M_init": M_init, "M_source": src["M"],
                            "M_init_source": src["M_init"]}
    return {"wallclock": results, "wallclock_setup": setup}


def render_seconds(results: dict, spec, opts: dict, console, model=None, pred=None) -> None:
    """Print the seconds table under predict's table (it fits the terminal:
    algorithms.run.tables)."""
    from algorithms.run.tables import Column, fit
    from theory.complexity import LABELS

    src = f"cluster {spec.source}" if spec.source else "cluster from the flags"
    if model is not None:
        how = "cost model (docs/wallclock.md)"
    elif spec.timing == "fixed":
        how = "fixed times (exact)"
    else:
        how = f"{spec.timing} times, {opts['rounds']} simulated rounds, seed {opts['seed']}"
    modes = {r.get("mode") for r in results.values()}
    cols = [Column("method", "left", 10), Column("mode", "left", 4),
            Column("grads", priority=5), Column("round s", priority=7),
            Column("K", priority=6), Column("run s", priority=9),
            Column("low-high s", priority=8)]
    rows = []
    for m, r in results.items():
        rows.append([_label(m, LABELS), r.get("mode") or "-", str(r["M"]),
                     _g(r["round_seconds"], 3), _k(r["iterations"]),
                     _g(r["total_seconds"], 4),
                     f"{_g(r['total_seconds_low'], 3)}-{_g(r['total_seconds_high'], 3)}"])
    if modes == {None}:
        cols.pop(1)
        rows = [row[:1] + row[2:] for row in rows]
    console.print(fit(console, f"predicted seconds: {src}, n = {spec.n}, {how}", cols, rows))
    lines = []
    if pred is not None:
        M, M_init, src_b = batches(pred, opts, spec.n)
        lines.append(f"batches: M = {M} ({src_b['M']}), M_init = {M_init} "
                     f"({src_b['M_init']}), Sync. NIGT b = {opts['batch'] or 1} per agent: "
                     "what apga launch runs with the same flags")
    if any(r["iterations_source"] == "given" for r in results.values()):
        lines.append("K: given by --iterations")
    else:
        lines.append("K: T of Theorem 4.1 for each method (O-form, constant 1)")
    if model is not None:
        first = next(iter(results.values()))
        lines.append(f"run s: the point ({first['point_source']}); low-high: "
                     f"{first['interval_source']}")
        lines.append("round: computation on the clock (measured samples) + the pattern's "
                     "communication + the calibration residual; run: rounds + gaps")
        for m, r in results.items():
            if r.get("residual_other_batch"):
                lines.append(f"residual of {_label(m, LABELS)}: {r['residual_source']} "
                             "(calibrate at the run's --M to narrow it)")
    else:
        lines.append("total: Rennala/Malenia NIGT = first round (M_init) + K rounds (M); "
                     "Sync. NIGT = (K + 1) rounds; AFedPG = time of the K-th server update")
    for line in lines:
        console.print(line, highlight=False)


def render_recommendation(rec: dict, console) -> None:
    """The ranking at the same progress, and the recommended method (fits the terminal)."""
    from algorithms.methods.registry import get
    from algorithms.run.tables import Column, fit
    from theory.complexity import LABELS

    cols = [Column("method", "left", 10), Column("(a) K", priority=3),
            Column("(a) s", priority=8), Column("(b) K", priority=4),
            Column("(b) s", priority=9), Column("note", "left", 5, wrap=True)]
    rows = []
    for r in sorted(rec["rows"], key=lambda r: (r["seconds_eps"] is None,
                                                r["seconds_eps"] or 0,
                                                r["seconds_gradients"] or 0)):
        note = "excluded" if r["excluded"] else (
            "no explicit T" if r["iterations_eps"] is None else "")
        rows.append([_label(r["method"], LABELS), _k(r["iterations_gradients"]),
                     _g(r["seconds_gradients"], 4), _k(r["iterations_eps"]),
                     _g(r["seconds_eps"], 4), note])
    console.print(fit(console, "seconds to the same progress: (a) the same gradients, (b) "
                      "the theory's eps", cols, rows))
    console.print(f"(a): {rec['gradients_budget']['rule']}; (b): T_explicit iterations "
                  "(Theorem 4.1's proof; AFedPG has no explicit constants)", highlight=False)
    for m, why in rec["excluded"].items():
        console.print(f"not {get(m).title}: {why}", highlight=False)
    r = rec["recommendation"]
    if r is None:
        console.print(f"recommended: none ({rec.get('recommendation_reason')})",
                      highlight=False)
        return
    M = f", M = {r['M']}" if r["M"] is not None else ""
    console.print(f"recommended: {get(r['method']).title}{M}, the fastest {r['agents']} "
                  f"agent(s), {_g(r['seconds'], 4)} s: {r['reason']}", highlight=False)


def _label(m: str, labels: dict) -> str:
    return labels.get(m, m).replace("(Synchronized)", "Sync.")


def _g(x, digits: int = 6) -> str:
    return "-" if x is None else f"{x:.{digits}g}"


def _k(x) -> str:
    return "-" if x is None else f"{x:.4g}" if x >= 1e7 else str(x)


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
