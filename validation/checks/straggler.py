"""An agent that never returns (h -> infinity) does not slow Rennala NIGT down.

Algorithm 2 waits for the *first* M gradients, so an agent slower than the whole round
contributes nothing and changes nothing: with the same seeds, the run with the extra
agent must give the same iterates, the same simulated times and the same time to eps,
bit for bit. (It still receives the broadcast and its computation in flight is cancelled,
so the counters of communications and simulated computations differ; we report by how
much.) We test h = inf and h = 1e12, fixed and exponential timing, kappa = 0 and > 0.

Paper: Section 4.1 (the harmonic-like time of Theorems 4.2/4.4 ignores agents with
h_i -> inf: the minimum over m picks the fast ones), Algorithm 2.
"""

from __future__ import annotations

import time

import numpy as np

from algorithms.methods.registry import get as method_spec
from algorithms.run import run_method
from algorithms.run.report import time_to_reach
from algorithms.tabular import garnet
from algorithms.tabular.oracle import TabularOracle
from validation.result import Budget, CheckResult, verdict
from validation.runs import grad_norm_evaluator, seeded_clock

H_BASE = np.sqrt(np.arange(1, 5, dtype=float))
HYPER = {"eta": 0.1, "alpha": 0.05, "M": 20, "M_init": 20}
SAME = ("time", "gradients_evaluated", "J", "grad_norm")


def _run(h: np.ndarray, kappa: float, timing: str, seed: int, iters: int, oracle, theta0):
    clock, rng = seeded_clock(h, kappa, seed, timing=timing)
    return run_method(
        method_spec("rennala_nigt"),
        oracle,
        clock,
        rng,
        theta0,
        hyper=HYPER,
        max_iters=iters,
        evaluate=lambda th: (float(oracle.J(th)), grad_norm_evaluator(oracle)(th)[1]),
    )


def check_straggler(budget: Budget) -> CheckResult:
    """Same records (time, gradients, J, ||grad J||) with and without an infinitely slow agent."""
    t0 = time.perf_counter()
    iters = budget.pick(150, 1500)
    mdp = garnet(S=4, A=2, b=2, gamma=0.8, seed=budget.seed)
    oracle = TabularOracle(mdp, 10)
    theta0 = np.zeros(oracle.dim)
    eps = 0.3 * float(np.linalg.norm(mdp.grad_J(theta0)))
    cases, all_same = [], True
    for timing in ("fixed", "exponential"):
        for kappa in (0.0, 0.5):
            seed = budget.seed * 100 + len(cases)
            base = _run(H_BASE, kappa, timing, seed, iters, oracle, theta0)
            t_base = time_to_reach(base.records, "grad_norm", eps)
            for slow in (np.inf, 1e12):
                other = _run(np.append(H_BASE, slow), kappa, timing, seed, iters, oracle, theta0)
                same = all(
                    getattr(a, f) == getattr(b, f)
                    for a, b in zip(base.records, other.records, strict=True)
                    for f in SAME
                ) and np.array_equal(base.theta, other.theta)
                t_other = time_to_reach(other.records, "grad_norm", eps)
                all_same &= same and t_base == t_other
                cases.append(
                    {
                        "timing": timing,
                        "kappa": kappa,
                        "h_extra": slow,
                        "identical": same,
                        "time_to_eps": t_base,
                        "time_to_eps_with_straggler": t_other,
                        "extra_communications": other.records[-1].communications
                        - base.records[-1].communications,
                        "extra_simulated": other.records[-1].gradients_simulated
                        - base.records[-1].gradients_simulated,
                    }
                )
    reached = [c["time_to_eps"] for c in cases if np.isfinite(c["time_to_eps"])]
    return CheckResult(
        name="straggler",
        claim=(
            "Adding an agent with h = inf (or 1e12) leaves Rennala NIGT's iterates, simulated "
            "times and time to eps unchanged"
        ),
        paper="Theorems 4.2/4.4 (harmonic-like minimum over m), Algorithm 2",
        measured={
            "cases": len(cases),
            "identical_cases": sum(c["identical"] for c in cases),
            "time_to_eps_min": min(reached) if reached else float("inf"),
        },
        threshold={"identical_cases": len(cases)},
        verdict=verdict(all_same),
        summary=(
            f"{sum(c['identical'] for c in cases)}/{len(cases)} runs bit-identical "
            f"({iters} iterations; fixed/exponential timing, kappa 0/0.5, h = inf/1e12); "
            f"time to eps = {eps:.3g}: " + ", ".join(f"{c['time_to_eps']:.4g}" for c in cases[::2])
        ),
        details={
            "cases": cases,
            "h": H_BASE,
            "hyper": HYPER,
            "eps": eps,
            "mdp": f"garnet(S=4, A=2, gamma=0.8, seed={budget.seed}), H=10",
            "compared_fields": SAME + ("theta",),
            "note": "communications and simulated computations differ: the straggler "
            "receives each broadcast and its computation in flight is cancelled",
        },
        seconds=time.perf_counter() - t0,
    )
