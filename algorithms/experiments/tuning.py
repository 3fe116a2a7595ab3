"""Tuning: which configurations (alpha, M = M_init) run on the tuning seeds, and which win.

Appendix H: "we tune alpha ... for every plot and algorithm" over {2^-10, ..., 2^-1}, and
M_init = M tuned over {20, 30, 50}; it does not say on how many seeds or by which score.
Here every candidate runs on the budget's tuning seeds (disjoint from the reported seeds),
its score is the mean over those seeds of the metric a claim judges (the time-averaged or
the final return: each metric has its own search), and the best score wins; the runner-up
(second best) is also run on the reported seeds so every verdict can be recomputed with it
(fragility, :mod:`algorithms.experiments.judging`).

Two searches (:attr:`algorithms.experiments.planning.Budget.search`):

* ``grid``: every point of alphas x Ms, in one stage;
* ``staged`` (coordinate search): (1) alpha over the coarse grid at M_0 (the paper's middle
  M, 30, or the adequate M closest to it); (2) every other M of the grid at the best alpha;
  (3) alpha x 2^(-r), alpha x 2^r around the best alpha at the best M (r = ``refine``);
  (4) while the best alpha at that M is the smallest or largest tried there, the next one
  past it (at most ``extend`` times). Winner and runner-up: the best two scores of all
  configurations run.

A configuration that makes fewer than the minimum number of server updates in T
(:func:`algorithms.experiments.judging.min_steps`, counted on the clock before any run)
is not a candidate: it could not be judged (unless no configuration can: then the search
runs unfiltered and the verdicts say the budget is too short).

Paper: Appendix H (tuning grids); the search and the scores are our choice.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from algorithms.experiments.planning import ETA

M_DEFAULT = 30


def config_key(hyper: Mapping[str, float]) -> str:
    """A file-name-safe key of a configuration: ``e-4_M30`` (alpha = 2^-4, M = 30),
    ``a0.05`` (alpha not a power of 2 in steps of 1/64)."""
    parts = []
    if "alpha" in hyper:
        a = float(hyper["alpha"])
        e = math.log2(a) if a > 0 else math.nan
        if math.isfinite(e) and abs(e * 64 - round(e * 64)) < 1e-9:
            parts.append(f"e{round(e * 64) / 64:g}")
        else:
            parts.append(f"a{a:.9g}")
    if "M" in hyper:
        parts.append(f"M{float(hyper['M']):g}")
    for k in sorted(hyper):
        if k not in ("alpha", "M", "M_init", "eta"):
            parts.append(f"{k}{float(hyper[k]):g}")
    return "_".join(parts) or "default"


def make_config(spec: Any, alpha: float | None, M: int | None) -> dict[str, float]:
    """The hyperparameters of ``spec`` for (alpha, M): eta = 0.1, M_init = M."""
    names = {h.name for h in spec.hyper}
    c: dict[str, float] = {}
    if "eta" in names:
        c["eta"] = ETA
    if alpha is not None and "alpha" in names:
        c["alpha"] = float(alpha)
    if M is not None and "M" in names:
        c["M"] = M
        if "M_init" in names:
            c["M_init"] = M
    return c


@dataclass
class Outcome:
    """A search's state: configurations still to run (``need``), or the finished table."""

    need: list[dict[str, float]]
    rows: list[dict[str, Any]]
    winner: str | None = None
    runner_up: str | None = None

    @property
    def done(self) -> bool:
        return not self.need


def search(
    spec: Any,
    alphas: Sequence[float],
    Ms: Sequence[int],
    staged: bool,
    score: Callable[[dict[str, float]], float | None],
    adequate: Callable[[dict[str, float]], int | None] | None = None,
    refine: float = 1.0,
    extend: int = 3,
) -> Outcome:
    """Replay the search of ``spec`` given the scores known so far.

    ``score(config)`` is the mean tuning score of a configuration (None while one of its
    tuning runs is missing); ``adequate(config)`` its server updates in T when that is
    below the minimum (None when adequate). Returns the configurations the next stage
    needs, or (``done``) every row with its stage and score, the winner and runner-up.
    """
    names = {h.name for h in spec.hyper}
    has_a, has_M = "alpha" in names, "M" in names
    rows: dict[str, dict[str, Any]] = {}
    order: list[str] = []

    def visit(stage: str, configs: list[dict[str, float]]) -> list[dict[str, float]]:
        """Record the stage's configurations; return those still missing a score."""
        missing = []
        for c in configs:
            k = config_key(c)
            if k in rows:
                continue
            short = adequate(c) if adequate else None
            s = None if short is not None else score(c)
            rows[k] = {"config": k, "hyper": dict(c), "stage": stage, "score": s,
                       "steps_below_minimum": short}
            order.append(k)
            if short is None and s is None:
                missing.append(c)
        return missing

    def best(keys: list[str]) -> str | None:
        ok = [k for k in keys if rows[k]["score"] is not None]
        return max(ok, key=lambda k: rows[k]["score"]) if ok else None  # ties: first

    alist = [float(a) for a in alphas] if has_a else [None]
    Mlist = list(Ms) if has_M else [None]
    if adequate is not None and all(adequate(make_config(spec, a, M)) is not None
                                    for a in alist for M in Mlist):
        adequate = None  # nothing could be judged: tune unfiltered (the verdicts say why)
    if not staged or len(alist) * len(Mlist) == 1:
        need = visit("grid", [make_config(spec, a, M) for a in alist for M in Mlist])
        if need:
            return Outcome(need, [])
        return _finish(rows, order)
    # (1) coarse alpha at M_0
    M0 = None
    if has_M:
        fits = [M for M in Mlist if adequate is None
                or adequate(make_config(spec, alist[0], M)) is None]
        M0 = min(fits or Mlist, key=lambda M: (abs(M - M_DEFAULT), M))
    need = visit("coarse", [make_config(spec, a, M0) for a in alist])
    if need:
        return Outcome(need, [])
    k1 = best(order)
    if k1 is None:  # nothing adequate
        return _finish(rows, order)
    a1 = rows[k1]["hyper"].get("alpha")
    # (2) M at the coarse winner
    M1 = M0
    if has_M:
        need = visit("M", [make_config(spec, a1, M) for M in Mlist if M != M0])
        if need:
            return Outcome(need, [])
        at_a1 = [k for k in order if rows[k]["hyper"].get("alpha") == a1]
        M1 = rows[best(at_a1) or k1]["hyper"].get("M")
    if not has_a:
        return _finish(rows, order)
    # (3) refine alpha around the winner at M1; (4) extend past an edge winner
    step = 2.0 ** refine
    need = visit("refine", [make_config(spec, a1 / step, M1), make_config(spec, a1 * step, M1)])
    if need:
        return Outcome(need, [])
    for ext in range(extend):
        at_M1 = [k for k in order if rows[k]["hyper"].get("M") == M1
                 and rows[k]["score"] is not None]
        kb = best(at_M1)
        if kb is None:
            break
        tried = sorted(rows[k]["hyper"]["alpha"] for k in at_M1)
        ab = rows[kb]["hyper"]["alpha"]
        if ab == tried[0]:
            nxt = ab / step
        elif ab == tried[-1]:
            nxt = ab * step
        else:
            break
        need = visit(f"extend-{ext + 1}", [make_config(spec, nxt, M1)])
        if need:
            return Outcome(need, [])
        if rows[config_key(make_config(spec, nxt, M1))]["steps_below_minimum"] is not None:
            break
    return _finish(rows, order)


def _finish(rows: dict[str, dict[str, Any]], order: list[str]) -> Outcome:
    ranked = sorted((k for k in order if rows[k]["score"] is not None),
                    key=lambda k: -rows[k]["score"])  # stable: ties keep the search order
    return Outcome([], [rows[k] for k in order],
                   ranked[0] if ranked else None, ranked[1] if len(ranked) > 1 else None)
