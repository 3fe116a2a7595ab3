"""``apga aggregate``: one AggregateRennala / AggregateMalenia round on the simulated clock.

Prints the simulated time of the round (broadcast + collection + reduce), the Lemma C.1
(Rennala) or Lemma C.2 (Malenia) bound with kappa = max_i kappa_i (Section H), m*, and
the gradients each agent contributed. No gradient is computed: the round's plan is all
the clock needs, so batches and spreads far beyond what a training round could evaluate
are answered (fixed timing counts arrivals instead of listing them).

Default (no arguments): the Section H cluster, n = 10 agents with h_i = sqrt(i),
kappa = 0, fixed timing, and M = 20 (the NIGT methods' default batch).
"""

from __future__ import annotations

import argparse
import sys

from algorithms.cli import _types as ty
from algorithms.cli._cluster import add_cluster_argument, cluster_from_args

COMMAND = "aggregate"
ORDER = 30
HELP = "simulate one AggregateRennala/AggregateMalenia round; compare with Lemma C.1/C.2"
DESCRIPTION = __doc__
MAX_LISTED = 20
DEFAULT_H = "sqrt"
DEFAULT_N = 10


def _round_methods() -> dict[str, str]:
    """Registry names whose rounds this command simulates -> their pattern."""
    from algorithms.methods.registry import REGISTRY

    return {name: s.pattern for name, s in REGISTRY.items()
            if s.pattern in ("rennala", "malenia")}


def add_arguments(p: argparse.ArgumentParser) -> None:
    from algorithms.methods.registry import get

    named = _round_methods()
    p.add_argument("--method", default="rennala",
                   help="the round: rennala | malenia, or a method of the registry that uses "
                   f"it ({', '.join(named)}) (default %(default)s)")
    p.add_argument(
        "--h",
        default=None,
        help="computation times: comma list (1,2,4) or profile equal|sqrt|quarter "
        f"(default {DEFAULT_H} with --n {DEFAULT_N}; or --cluster)",
    )
    p.add_argument(
        "--n", type=ty.integer(1), default=None,
        help=f"number of agents (with a profile --h; default {DEFAULT_N})"
    )
    M = get("rennala_nigt").hyperparameter("M")
    p.add_argument("--M", type=ty.integer(1), default=int(M.default),
                   help=f"batch size M of the round (default %(default)s: {M.doc})")
    p.add_argument(
        "--kappa",
        default=None,
        help="communication time: number, comma list (kappa_i) or profile name (default 0: "
        "the round's computation alone; predict's default 1 is Section H's)",
    )
    p.add_argument(
        "--timing",
        default=None,
        help="fixed | exponential | lognormal | uniform (default fixed)",
    )
    p.add_argument("--log-sigma", type=ty.real(0.0), default=None,
                   help="lognormal spread (0.5)")
    p.add_argument("--jitter", type=ty.real(0.0, 1.0, high_open=True), default=None,
                   help="uniform jitter in [0, 1) (0.5)")
    add_cluster_argument(p)
    p.add_argument("--seed", type=ty.integer(0), default=0, help="seed of the clock (default 0)")
    p.add_argument(
        "--json",
        action="store_true",
        help="print JSON with keys time, bound, m_star, counts (and the record)",
    )


def run(args: argparse.Namespace) -> int:
    from algorithms.aggregation import plan_malenia, plan_rennala
    from algorithms.sim.clock import AgentFailedError, make_clock
    from theory import checks
    from theory.clusters import PROFILES
    from theory.lemmas import malenia_collect_time_bound, rennala_collect_time_bound

    named = _round_methods()
    method = checks.choice("method", args.method, ("rennala", "malenia", *named))
    method = named.get(method, method)
    spec = cluster_from_args(args)
    if spec is not None:
        clock = make_clock(**spec.clock_kwargs(), seed=args.seed)
    else:
        options = {
            k: v
            for k, v in (("log_sigma", args.log_sigma), ("jitter", args.jitter))
            if v is not None
        }
        timing = args.timing or "fixed"
        kappa = "0" if args.kappa is None else args.kappa
        h = DEFAULT_H if args.h is None else args.h
        n = args.n
        if n is None and h.strip() in PROFILES:
            n = DEFAULT_N
        clock = make_clock(h, kappa, timing=timing, seed=args.seed, n=n, **options)
    M = checks.count("M", args.M)
    h = clock.h_at()
    kappa = float(clock.kappa.max())
    if method == "rennala":
        bound = rennala_collect_time_bound(h, M, kappa)
        plan = plan_rennala
    else:  # Lemma C.2 rejects h = inf (Algorithm 3 waits for every agent) naming h
        bound = malenia_collect_time_bound(h, M, kappa)
        plan = plan_malenia
    try:
        record = plan(clock, M)
    except AgentFailedError as exc:
        raise ValueError(str(exc)) from None
    time = record.end - record.start
    if args.json:
        from theory import jsonio

        out = {
            "time": time,
            "bound": bound.total,
            "m_star": bound.m_star,
            "counts": record.counts.tolist(),
            "method": method,
            "timing": clock.timing,
            "bound_terms": bound._asdict(),
            "record": record.to_dict(),
        }
        sys.stdout.write(jsonio.dumps(out) + "\n")
        return 0
    lemma = "C.1" if method == "rennala" else "C.2"
    note = "" if clock.timing == "fixed" else "  (bound assumes fixed times h_i)"
    print(
        f"method            Aggregate{method.capitalize()}  (n = {clock.n}, M = {M}, "
        f"timing = {clock.timing})"
    )
    print(
        f"simulated time    {time:.6g}  (computation {record.computation_time:.6g}, "
        f"communication {record.communication_time:.6g})"
    )
    print(
        f"Lemma {lemma} bound   {bound.total:.6g}  (computation {bound.computation:.6g}, "
        f"communication {bound.communication:.6g}){note}"
    )
    print(f"m*                {bound.m_star}")
    print(
        f"gradients used    {int(record.counts.sum())}; cancelled {record.cancelled}; "
        f"communications {record.n_communications}"
    )
    counts = record.counts
    shown = ", ".join(str(int(c)) for c in counts[:MAX_LISTED])
    more = f", ... ({counts.size - MAX_LISTED} more agents)" if counts.size > MAX_LISTED else ""
    print(f"per-agent counts  [{shown}{more}]")
    return 0
