"""What every method shares: its context, hyperparameters with provenance, records.

A method is a composition (docs/architecture.md, idea 3): an aggregation pattern
(:mod:`algorithms.methods.patterns`, run by the backend) plus an update rule from
:mod:`algorithms.updates`.
It exposes ``init(theta0, ctx) -> state`` (the work before the loop, e.g. Algorithm 1
lines 2-3) and ``step(state, ctx) -> state`` (one global iteration). The state is a
small picklable dataclass whose ``theta`` is the iterate that is evaluated and
recorded. Rounds report what they did through ``ctx.rounds`` (a list of the
aggregation procedures' ``RoundRecord``s), which the runner folds into per-iteration
records.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from algorithms.backends.protocol import Backend
from algorithms.oracle import GradientOracle

Setting = Literal["homogeneous", "heterogeneous"]


@dataclass
class Context:
    """Everything a method touches while it runs.

    oracle:   batched gradients (:class:`algorithms.oracle.GradientOracle`)
    backend:  where rounds run (:class:`algorithms.backends.protocol.Backend`): the
              simulated clock or real processes
    rng:      the oracle's Generator (trajectory randomness)
    hyper:    resolved hyperparameters (name -> value)
    rounds:   records appended by the rounds of the current iteration (RoundRecords and
              AFedPG's Transfers); the run loop folds them into the totals
    """

    oracle: GradientOracle
    backend: Backend
    rng: np.random.Generator
    hyper: Mapping[str, float]
    rounds: list = field(default_factory=list)


class Method(Protocol):
    """A method: ``init`` before the loop, ``step`` per global iteration."""

    def init(self, theta0: np.ndarray, ctx: Context) -> Any: ...

    def step(self, state: Any, ctx: Context) -> Any: ...


@dataclass(frozen=True)
class Hyperparameter:
    """One hyperparameter of a method: its meaning, default value and range.

    Values must be > 0 (integers >= 1 when ``integer``) and <= ``maximum`` when given
    (eta in (0, 1]).
    """

    name: str
    default: float
    doc: str
    integer: bool = False
    maximum: float | None = None


@dataclass(frozen=True)
class MethodSpec:
    """A registry entry.

    name:        stable identifier (CLI, JSON keys; the theory tables use the same names)
    title:       display name
    settings:    settings the method is designed for (homogeneous and/or heterogeneous)
    allreduce:   whether its communication pattern can be an AllReduce (Tables 1-2)
    hyper:       its hyperparameters with defaults (every command's flags come from these)
    build:       hyperparameter values -> a Method
    paper:       what it implements (algorithm and line numbers)
    pattern:     its aggregation pattern: ``rennala`` | ``malenia`` | ``synchronized``
                 (rounds of :meth:`Backend.aggregate`), ``greedy`` (AFedPG's scheduler),
                 ``lazy`` (LAPG) or ``local_steps`` (Fast-FedPG)
    modes:       where it runs: ``simulated`` (the simulated clock), ``allreduce`` and
                 ``server`` (real processes, :mod:`algorithms.backends.distributed`)
    """

    name: str
    title: str
    settings: tuple[Setting, ...]
    allreduce: bool
    hyper: tuple[Hyperparameter, ...]
    build: Callable[[Mapping[str, float]], Method]
    paper: str
    pattern: str = "rennala"
    modes: tuple[str, ...] = ("simulated",)

    def gradients_per_round(self, M: int, n: int, batch: int = 1) -> int:
        """Gradients one iteration of the method aggregates: M for the counted patterns
        (Algorithm 1 line 6), n b for a synchronized round (every agent its batch), 1 for
        AFedPG's server update (one arrival)."""
        return {"synchronized": int(n) * int(batch), "greedy": 1}.get(self.pattern, int(M))

    def hyperparameter(self, name: str) -> Hyperparameter | None:
        """The hyperparameter ``name`` of this method, or None if it has none of that name."""
        return next((h for h in self.hyper if h.name == name), None)

    def resolve(
        self,
        given: Mapping[str, float] | None = None,
        sources: Mapping[str, str] | None = None,
    ) -> tuple[dict[str, float], dict[str, str]]:
        """Merge given values over defaults; return (values, source of each value).

        ``sources`` labels where given values came from (e.g. ``"theory: Theorem 4.1"``);
        unlabelled given values are ``"given"``, the rest ``"default"``. Unknown names
        raise ValueError naming them; integer hyperparameters (M, M_init, batch, K) must
        be integers >= 1.
        """
        from theory import checks

        given = {k: v for k, v in (given or {}).items() if v is not None}
        sources = dict(sources or {})
        known = {h.name: h for h in self.hyper}
        for key in given:
            if key not in known:
                raise ValueError(
                    f"{key}: not a hyperparameter of {self.name}; "
                    f"it has {', '.join(known) or 'none'}"
                )
        values: dict[str, float] = {}
        source: dict[str, str] = {}
        for name, hp in known.items():
            if name in given:
                raw, src = given[name], sources.get(name, "given")
            else:
                raw, src = hp.default, "default"
            values[name] = checks.count(name, raw) if hp.integer else checks.positive(name, raw)
            if hp.maximum is not None and values[name] > hp.maximum:
                raise ValueError(f"{name} must lie in (0, {hp.maximum:g}], got {raw!r}")
            source[name] = src
        return values, source


#: Tuning runs use seeds TUNE_SEED_OFFSET, TUNE_SEED_OFFSET + 1, ...: disjoint from the
#: reported seeds 0, 1, ..., so reported curves are not selected on their own noise.
TUNE_SEED_OFFSET = 1000


def tuning_grid(
    spec: MethodSpec, alphas, Ms=(None,), fixed: Mapping[str, float] | None = None
) -> list[dict[str, float]]:
    """Candidate hyperparameters of ``spec`` for tuning, as Section H tunes them.

    Every alpha in ``alphas`` crossed with every M in ``Ms`` (with M_init = M, "We take
    M_init = M"), restricted to the hyperparameters ``spec`` has; ``fixed`` values (e.g.
    eta = 0.1) are added where the method has them.
    """
    names = {h.name for h in spec.hyper}
    alphas = list(alphas) if "alpha" in names else [None]
    Ms = list(Ms) if "M" in names else [None]
    out = []
    for a in alphas:
        for M in Ms:
            c = {k: v for k, v in (fixed or {}).items() if k in names}
            if a is not None:
                c["alpha"] = a
            if M is not None:
                c["M"] = M
                if "M_init" in names:
                    c["M_init"] = M
            out.append(c)
    return out
