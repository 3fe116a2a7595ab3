"""``apga aggregate``: one AggregateRennala / AggregateMalenia round on the simulated clock.

Prints the simulated time of the round (broadcast + collection + reduce), the Lemma C.1
(Rennala) or Lemma C.2 (Malenia) bound with kappa = max_i kappa_i (Section H), m*, and
the gradients each agent contributed. No gradient is computed: the round's plan is all
the clock needs.
"""

from __future__ import annotations

import argparse
import json
import sys

from algorithms.cli._cluster import add_cluster_argument, cluster_from_args

COMMAND = "aggregate"
ORDER = 30
HELP = "simulate one AggregateRennala/AggregateMalenia round; compare with Lemma C.1/C.2"
DESCRIPTION = __doc__
MAX_LISTED = 20


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", default="rennala", help="rennala | malenia (default %(default)s)")
    p.add_argument(
        "--h",
        default=None,
        help="computation times: comma list (1,2,4) or profile equal|sqrt|quarter "
        "(this or --cluster is required)",
    )
    p.add_argument("--n", type=int, default=None, help="number of agents (with a profile --h)")
    p.add_argument("--M", required=True, type=int, help="batch size M of the round")
    p.add_argument(
        "--kappa",
        default=None,
        help="communication time: number, comma list (kappa_i) or profile name (default 0)",
    )
    p.add_argument(
        "--timing",
        default=None,
        help="fixed | exponential | lognormal | uniform (default fixed)",
    )
    p.add_argument("--log-sigma", type=float, default=None, help="lognormal spread (0.5)")
    p.add_argument("--jitter", type=float, default=None, help="uniform jitter in [0, 1) (0.5)")
    add_cluster_argument(p)
    p.add_argument("--seed", type=int, default=0, help="seed of the clock (default 0)")
    p.add_argument(
        "--json",
        action="store_true",
        help="print JSON with keys time, bound, m_star, counts (and the record)",
    )


def run(args: argparse.Namespace) -> int:
    from algorithms.aggregation import plan_malenia, plan_rennala
    from algorithms.clock import AgentFailedError, make_clock
    from theory import checks
    from theory.lemmas import malenia_collect_time_bound, rennala_collect_time_bound

    method = checks.choice("method", args.method, ("rennala", "malenia"))
    spec = cluster_from_args(args)
    if spec is not None:
        clock = make_clock(**spec.clock_kwargs(), seed=args.seed)
    elif args.h is None:
        raise ValueError("h: give the computation times --h or a --cluster file")
    else:
        options = {
            k: v
            for k, v in (("log_sigma", args.log_sigma), ("jitter", args.jitter))
            if v is not None
        }
        timing = args.timing or "fixed"
        kappa = "0" if args.kappa is None else args.kappa
        clock = make_clock(args.h, kappa, timing=timing, seed=args.seed, n=args.n, **options)
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
        json.dump(out, sys.stdout)
        sys.stdout.write("\n")
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
