"""Every check by its stable name, and a runner that never lets one check stop the others.

Names are stable (CLI ``--only``, JSON keys, docs): lemma_c1, lemma_c2, unbiased_rennala,
unbiased_malenia, rennala_bias_heterogeneous, variance_rennala, variance_malenia, prop_2_3,
theorem_4_1, straggler, time_complexity_shape, wallclock, wallclock_real.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from validation.checks import (
    lemmas,
    prop23,
    shape,
    straggler,
    theorem41,
    unbiased,
    variance,
    wallclock,
)
from validation.result import Budget, CheckResult


@dataclass(frozen=True)
class CheckSpec:
    """A registry entry: the claim, where it is in the paper, and the function that checks it."""

    name: str
    claim: str
    paper: str
    run: Callable[[Budget], CheckResult]


CHECKS: dict[str, CheckSpec] = {
    s.name: s
    for s in (
        CheckSpec(
            "lemma_c1",
            "AggregateRennala returns within the Lemma C.1 bound",
            "Lemma C.1",
            lemmas.check_lemma_c1,
        ),
        CheckSpec(
            "lemma_c2",
            "AggregateMalenia returns within the Lemma C.2 bound",
            "Lemma C.2",
            lemmas.check_lemma_c2,
        ),
        CheckSpec(
            "unbiased_rennala",
            "E[AggregateRennala] = grad J_H (homogeneous)",
            "Proof of Theorem 4.1",
            unbiased.check_unbiased_rennala,
        ),
        CheckSpec(
            "unbiased_malenia",
            "E[AggregateMalenia] = 1/n sum_i grad J_{i,H} (heterogeneous)",
            "Section 5; proof of Theorem 4.1",
            unbiased.check_unbiased_malenia,
        ),
        CheckSpec(
            "rennala_bias_heterogeneous",
            "AggregateRennala is biased toward fast agents on heterogeneous agents",
            "Section 5",
            unbiased.check_rennala_bias_heterogeneous,
        ),
        CheckSpec(
            "variance_rennala",
            "E||g - grad J_H||^2 <= sigma^2/M (Algorithm 2)",
            "Proof of Theorem 4.1",
            variance.check_variance_rennala,
        ),
        CheckSpec(
            "variance_malenia",
            "E||g - grad J_H||^2 <= sigma^2/M via the exit condition",
            "Proof of Theorem 4.1",
            variance.check_variance_malenia,
        ),
        CheckSpec(
            "prop_2_3",
            "M_g, M_h, L_g, L_h, D_g gamma^H, sigma^2 bound measured values",
            "Proposition 2.3",
            prop23.check_prop_2_3,
        ),
        CheckSpec(
            "theorem_4_1",
            "E||grad J(theta_bar_T)|| <= eps after T_explicit iterations",
            "Theorem 4.1",
            theorem41.check_theorem_4_1,
        ),
        CheckSpec(
            "straggler",
            "an agent with h = inf leaves Rennala NIGT unchanged",
            "Theorems 4.2/4.4, Algorithm 2",
            straggler.check_straggler,
        ),
        CheckSpec(
            "time_complexity_shape",
            "time to eps vs eps and n: slopes against Theorem 4.2",
            "Theorem 4.2, Table 1",
            shape.check_time_complexity_shape,
        ),
        CheckSpec(
            "wallclock",
            "predicted seconds per round and per run match real runs (apga launch)",
            "Lemmas C.1, C.2; Algorithm 1",
            wallclock.check_wallclock,
        ),
        CheckSpec(
            "wallclock_real",
            "a prediction from apga calibrate holds on a real-speed run (within 10%, inside "
            "its interval)",
            "Assumption 2.5; Algorithms 1-3; Lemmas C.1, C.2",
            wallclock.check_wallclock_real,
        ),
    )
}


def names() -> list[str]:
    return list(CHECKS)


def select(only: str | Sequence[str] | None = None) -> list[CheckSpec]:
    """The checks named in ``only`` (comma list or sequence; None: all), in registry order.

    Unknown names raise ValueError naming ``only`` and listing the known names.
    """
    if only is None:
        return list(CHECKS.values())
    wanted = [s.strip() for s in (only.split(",") if isinstance(only, str) else only)]
    wanted = [w for w in wanted if w]
    if not wanted:
        raise ValueError("only: give at least one check name")
    unknown = [w for w in wanted if w not in CHECKS]
    if unknown:
        raise ValueError(f"only: unknown check {unknown[0]!r}; choose from {', '.join(CHECKS)}")
    return [spec for name, spec in CHECKS.items() if name in wanted]


def run_check(spec: CheckSpec, budget: Budget) -> CheckResult:
    """Run one check; an exception becomes a failed result carrying the error (never raised)."""
    t0 = time.perf_counter()
    try:
        return spec.run(budget)
    except Exception as exc:  # noqa: BLE001 - a crashing check is a failed check, reported
        return CheckResult(
            name=spec.name,
            claim=spec.claim,
            paper=spec.paper,
            measured={},
            threshold={},
            verdict="fail",
            summary=f"error: {type(exc).__name__}: {exc}",
            details={"traceback": traceback.format_exc()},
            seconds=time.perf_counter() - t0,
        )


def run_checks(
    specs: Iterable[CheckSpec],
    budget: Budget,
    on_result: Callable[[CheckResult], None] | None = None,
) -> list[CheckResult]:
    """Run the checks in order; ``on_result`` is called after each one (progress display)."""
    results = []
    for spec in specs:
        res = run_check(spec, budget)
        results.append(res)
        if on_result is not None:
            on_result(res)
    return results
