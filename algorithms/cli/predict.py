"""``apga predict``: every method's predicted time on a cluster, ranked, with M and T."""

from __future__ import annotations

import argparse
import math

from algorithms.cli._cluster import add_seconds_arguments, seconds_requested

COMMAND = "predict"
ORDER = 10
HELP = "predict each method's time on a cluster (Tables 1/2 or full-constant theorems)"
DESCRIPTION = """Predict the wall-clock time of every method of Tables 1 and 2 on a cluster.

The cluster is given by per-step computation times (\\dot h_i of Assumption 2.5) as a comma
list (--h), a file of numbers (--h-file) or a profile (--profile equal|sqrt|quarter: h_i = 1,
sqrt(i), i^(1/4), with --n agents), plus the communication time --kappa (one number, or
per-agent kappa_i: the rows then use kappa = max_i kappa_i).

--form table uses the simplified Table 1/2 expressions (in eps, n, h_i, kappa only);
--form theorem uses the full-constant Theorems 4.4, 5.1 and G.1 (A.2/A.3 with --mu) with
problem constants --L-g --L-h --sigma --Delta --gamma, or Proposition 2.3's inputs
--r-max --M-g --M-h --l2 (with --gamma). The batch sizes M, M_init, step size, momentum,
horizon H and iteration count T always come from Theorems 4.1/4.2 (A.1 with --mu).

O-constants are taken as 1 and logarithmic factors are ignored: the numbers are the
paper's bounds with unit constants, good for comparing methods, not exact seconds.
Seconds: --cluster FILE (or --wallclock with the flags above) adds, from the simulated
clock, each method's seconds per iteration and per run (docs/wallclock.md).

Default (no arguments): the paper's Appendix H cluster n = 10, h_i = sqrt(i), with
kappa = 1, eps = 0.01, L_g = L_h = sigma = Delta = 1, gamma = 0.99, homogeneous setup."""

DEFAULTS = {
    "n": 10,
    "profile": "sqrt",
    "eps": 0.01,
    "kappa": 1.0,
    "L_g": 1.0,
    "L_h": 1.0,
    "sigma": 1.0,
    "Delta": 1.0,
    "gamma": 0.99,
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    c = p.add_argument_group("cluster (default: --profile sqrt --n 10)")
    src = c.add_mutually_exclusive_group()
    src.add_argument("--h", default=None,
                     help="comma list of per-step times, e.g. 1,2,4, or a profile name "
                     "equal | sqrt | quarter (with --n)")
    src.add_argument("--h-file", default=None, help="file of times (commas/whitespace/newlines)")
    src.add_argument("--profile", default=None, help="equal | sqrt | quarter")
    c.add_argument("--n", default=None, help="agents for --profile (default 10)")
    c.add_argument(
        "--kappa",
        default=None,
        help="communication time: a number, a comma list of kappa_i (rows use max_i kappa_i), "
        "equal | sqrt | quarter, or sqrt_d4 with --d (default 1: the paper's Section H "
        "cluster; train, compare and aggregate default to 0, computation alone)",
    )
    c.add_argument("--d", default=None, help="number of parameters, for --kappa sqrt_d4")
    c.add_argument("--eps", default=str(DEFAULTS["eps"]), help="accuracy (default %(default)s)")
    k = p.add_argument_group("problem constants (default: all 1, gamma = 0.99)")
    for flag, name in (
        ("--L-g", "L_g"),
        ("--L-h", "L_h"),
        ("--sigma", "sigma"),
        ("--Delta", "Delta"),
    ):
        k.add_argument(flag, dest=name, default=None, help=f"{name} (default 1)")
    k.add_argument("--gamma", default=None, help="discount factor in (0, 1) (default 0.99)")
    k.add_argument("--D-g", dest="D_g", default=None, help="D_g of Prop. 2.3-(3), for H")
    k.add_argument("--D-h", dest="D_h", default=None, help="D_h of Prop. 2.3-(3), for H")
    k.add_argument("--mu", default=None, help="gradient domination (Theorems A.1-A.3)")
    q = p.add_argument_group("or Proposition 2.3 inputs (instead of L_g, L_h, sigma)")
    for flag, name in (("--r-max", "r_max"), ("--M-g", "M_g"), ("--M-h", "M_h"), ("--l2", "l_2")):
        q.add_argument(flag, dest=name, default=None, help=name)
    o = p.add_argument_group("output")
    o.add_argument("--form", default="table", help="table | theorem (default %(default)s)")
    o.add_argument(
        "--setting", default="homogeneous", help="homogeneous (Table 1) | heterogeneous (Table 2)"
    )
    o.add_argument("--methods", default=None, help="comma list of method names (default all)")
    o.add_argument("--json", action="store_true", help="print one JSON object")
    add_seconds_arguments(p)


def _num(name: str, text: str | None, default: float | None = None) -> float | None:
    """The option ``name`` as a finite float (NaN, inf and 1e400 are refused here, with
    the text given, before any formula sees them)."""
    if text is None:
        return default
    try:
        x = float(text)
    except (ValueError, OverflowError):
        raise ValueError(f"{name} must be a number, got {text!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"{name} must be a finite number, got {text!r}")
    return x


def times(args: argparse.Namespace, n: int | None = None):
    """(h, kappa, ClusterSpec or None): h_i in the given order; kappa a float or per-agent.

    ``n`` extends a --profile cluster to n agents (sweeps over n)."""
    from algorithms.cli._cluster import cluster_from_args
    from theory import checks
    from theory.clusters import AGENTS_WHY, MAX_AGENTS, PROFILES, parse_times, profile, read_times

    if args.d is not None and (args.kappa or "").strip() != "sqrt_d4":
        raise ValueError("d: only used with --kappa sqrt_d4 (kappa_i = sqrt(i) d^(1/4))")
    spec = cluster_from_args(args)
    if spec is not None:
        return spec.h, spec.kappa, spec
    # --h takes a profile name as every other command does (--h sqrt == --profile sqrt)
    named = args.h is not None and args.h.strip() in PROFILES
    if args.n is not None and not named and (args.h is not None or args.h_file is not None):
        raise ValueError("n: only used with a profile (--profile or --h equal|sqrt|quarter; "
                         "a list or file fixes n)")
    if args.h is not None and not named:
        h = parse_times(args.h, "h")
    elif args.h_file is not None:
        h = read_times(args.h_file, "h_file")
    else:
        n = n or checks.count("n", args.n if args.n is not None else DEFAULTS["n"],
                              maximum=MAX_AGENTS, why=AGENTS_WHY)
        name = args.h.strip() if named else (
            DEFAULTS["profile"] if args.profile is None else args.profile.strip())
        h = profile(checks.choice("profile", name, PROFILES), n)
    if args.kappa is None:
        return h, DEFAULTS["kappa"], None
    try:
        return h, float(args.kappa), None
    except ValueError:  # a list or a profile name: per-agent kappa_i (Section H)
        from algorithms.sim.timing import resolve_kappa

        d = None if args.d is None else checks.count("d", args.d)
        return h, resolve_kappa(args.kappa, h.size, d), None


def build(args: argparse.Namespace, given=None):
    """Parse and validate the arguments into a :class:`theory.predict.Prediction`.

    ``given``: the (h, kappa, spec) of :func:`times`, if already read."""
    from theory.predict import Constants, constants_from_policy, predict

    h, kappa, _spec = times(args) if given is None else given
    if getattr(kappa, "size", 0) and float(kappa.min()) == float(kappa.max()):
        kappa = float(kappa[0])  # one kappa for every agent: Assumption 2.5's kappa
    gamma = _num("gamma", args.gamma, DEFAULTS["gamma"])
    Delta = _num("Delta", args.Delta, DEFAULTS["Delta"])
    mu = _num("mu", args.mu)
    policy_vals = {k: _num(k, getattr(args, k)) for k in ("r_max", "M_g", "M_h", "l_2")}
    policy = None
    if any(v is not None for v in policy_vals.values()):
        missing = [k for k, v in policy_vals.items() if v is None]
        if missing:
            raise ValueError(
                f"{missing[0]}: Proposition 2.3 needs --r-max, --M-g, --M-h and --l2 together"
            )
        clash = [k for k in ("L_g", "L_h", "sigma") if getattr(args, k) is not None]
        if clash:
            raise ValueError(
                f"{clash[0]}: give either L_g/L_h/sigma or the Proposition 2.3 inputs, not both"
            )
        consts = constants_from_policy(
            policy_vals["r_max"],
            policy_vals["M_g"],
            policy_vals["M_h"],
            policy_vals["l_2"],
            gamma,
            Delta,
            mu,
        )
        if args.D_g is not None or args.D_h is not None:
            raise ValueError("D_g: with Proposition 2.3 inputs D_g and D_h follow from H")
        policy = policy_vals
    else:
        consts = Constants(
            _num("L_g", args.L_g, DEFAULTS["L_g"]),
            _num("L_h", args.L_h, DEFAULTS["L_h"]),
            _num("sigma", args.sigma, DEFAULTS["sigma"]),
            Delta,
            gamma,
            _num("D_g", args.D_g),
            _num("D_h", args.D_h),
            mu,
        )
    methods = None
    if args.methods is not None:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        if not methods:
            raise ValueError(f"methods: give at least one method name, got {args.methods!r}")
    return predict(
        h,
        _num("eps", args.eps),
        kappa,
        consts,
        form=args.form,
        setting=args.setting,
        methods=methods,
        policy=policy,
        h_per_gradient=seconds_requested(args),
    )


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def render(pred, console=None) -> None:
    """Print the human-readable ranked table (it fits the terminal: algorithms.run.tables)."""
    from algorithms.run.tables import Column, fit
    from algorithms.run.tables import console as make_console
    from theory.complexity import LABELS, NOTE

    console = console or make_console()
    n = pred.h.size
    kappa = "" if pred.kappa_per_agent is None else "max_i kappa_i = "
    title = (
        f"{pred.setting} setup, {pred.form} form: n = {n}, eps = {pred.eps:g}, "
        f"kappa = {kappa}{pred.kappa:g}"
    )
    cols = [Column("#", priority=3), Column("method", "left", 10),
            Column("computation", priority=8), Column("communication", priority=7),
            Column("total", priority=9), Column("x LB", priority=6),
            Column("AllReduce", priority=4), Column("source", "left", 5, wrap=True)]
    ratios = pred.ratio_to_lower_bound()
    rank = 0
    rows = []
    names = pred.ranking + (["lower_bound"] if "lower_bound" in pred.methods else [])
    for name in names:
        v = pred.methods[name]
        label = LABELS[name].replace("(Synchronized)", "Sync.")
        if not v.supported:
            rows.append(["", label, "unsupported", "", "", "", "", v.note])
            continue
        if name != "lower_bound":
            rank += 1
        allreduce = {True: "yes", False: "no", None: "-"}[v.supports_allreduce]
        label += " [Omega]" if v.note.startswith("Omega") else ""
        rows.append([
            str(rank) if name != "lower_bound" else "",
            label,
            _fmt(v.computation),
            _fmt(v.communication),
            _fmt(v.total),
            _fmt(ratios[name]),
            allreduce,
            v.source,
        ])
    console.print(fit(console, title, cols, rows))
    p = pred.parameters
    H = "-" if p.H is None else str(p.H)
    console.print(
        f"parameters (Theorems 4.1/4.2{', A.1' if pred.constants.mu else ''}): "
        f"M = {p.M}, M_init = {p.M_init}, eta = {p.eta:.4g}, alpha = {p.alpha:.4g}, "
        f"H = {H}, T = {p.T:.4g} (O-expression), T_explicit = {p.T_explicit}, "
        f"m* = {pred.m_star} of {n} agents (one round: {pred.m_star_round})",
        highlight=False,
    )
    omega = any(v.note.startswith("Omega") for v in pred.methods.values())
    extra = " [Omega]: Table 1 states only a lower expression for this method." if omega else ""
    form = (
        " Theorem form: full constants, and totals use h_i = dot h_i / (1 - gamma) = "
        f"{1 / (1 - pred.constants.gamma):.4g} dot h_i (one gradient = a trajectory of "
        "~1/(1-gamma) steps), so they are not comparable with the table form."
        if pred.form == "theorem" and not pred.h_per_gradient else ""
    )
    console.print(f"note: {NOTE}{extra}{form} x LB: total / lower bound's total.",
                  highlight=False)
    from theory.predict import H_RULE, KAPPA_RULE

    if pred.kappa_per_agent is not None:
        console.print(f"kappa: {KAPPA_RULE}.", highlight=False)
    if pred.h_per_gradient:
        console.print(f"h: {H_RULE}.", highlight=False)


def run(args: argparse.Namespace) -> int:
    if not seconds_requested(args):
        pred = build(args)
        if args.json:
            from theory import jsonio

            print(jsonio.dumps(pred.to_json(), indent=2))
        else:
            render(pred)
        return 0
    from algorithms.cli import _wallclock

    return _wallclock.run(args, times, build, render)
