"""Verdicts on the paper's claims: paired bootstrap confidence intervals over seeds.

Every method of a panel runs on the same seeds with common random numbers (same theta_0,
same evaluation generators), so two methods are compared seed by seed: the statistic is the
mean over seeds of a per-seed difference, and its confidence interval is the percentile
bootstrap over seeds (seed indices resampled with replacement, the same indices for every
method and panel, so the pairing is kept). The bootstrap Generator is seeded.

Verdict rules (for each metric: final return, time-averaged return):

* ``better`` (subject beats each of ``others``): reproduced if every interval of
  subject - other lies above 0; contradicted if one lies below 0; else inconclusive.
* ``similar`` (all methods almost the same): the margin is ``SIMILAR_MARGIN`` of the panel's
  gain (best method's mean minus the mean initial return). Reproduced if every pairwise
  interval lies inside (-margin, margin); contradicted if one lies entirely outside it;
  else inconclusive.
* ``gap_grows``: the interval of (lead on panel) - (lead on reference panel), lead = subject
  minus the best other by mean, above 0 / below 0 / else.
* ``gap_smaller``: the same with each lead divided by its panel's gain (computed once on all
  seeds), reversed sign: reproduced if the interval of (normalised lead on reference) -
  (normalised lead on panel) lies above 0; inconclusive if a panel has no gain.

Paper: none (our method of checking Section 6 and Appendix H); the percentile bootstrap is
Efron & Tibshirani (1993), ch. 13.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

LEVEL = 0.95
REPLICATES = 10000
BOOT_SEED = 20250101
SIMILAR_MARGIN = 0.2


def bootstrap_ci(
    stat: Callable[[np.ndarray], float],
    n: int,
    level: float = LEVEL,
    replicates: int = REPLICATES,
    seed: int = BOOT_SEED,
) -> tuple[float, float, float]:
    """(estimate, low, high): ``stat(arange(n))`` and its percentile bootstrap interval.

    ``stat(idx)`` evaluates the statistic on each row of ``idx`` (rows are resamples of
    0..n-1, shape (R, n)) and returns R values; the ``replicates`` resamples are drawn in one
    batch from ``default_rng(seed)``, so the interval is reproducible bit for bit.

    Notes
    -----
    .. math:: [\\hat q_{(1-\\ell)/2},\\ \\hat q_{(1+\\ell)/2}] \\text{ of }
              \\{ s(I_b) \\}_{b=1}^{B},\\ I_b \\sim \\mathrm{Unif}\\{0..n-1\\}^n

    Paper: none (Efron & Tibshirani 1993, percentile interval).
    """
    if n < 2:
        raise ValueError(f"n: a bootstrap needs at least 2 seeds, got {n}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    idx = np.random.default_rng(seed).integers(0, n, size=(replicates, n))
    reps = np.asarray(stat(idx), dtype=float)
    lo, hi = np.quantile(reps, [(1 - level) / 2, (1 + level) / 2])
    return float(stat(np.arange(n)[None, :])[0]), float(lo), float(hi)


def _sign_verdict(lo: float, hi: float) -> str:
    if lo > 0:
        return "reproduced"
    if hi < 0:
        return "contradicted"
    return "inconclusive"


def _combine(verdicts: Sequence[str]) -> str:
    if "contradicted" in verdicts:
        return "contradicted"
    if verdicts and all(v == "reproduced" for v in verdicts):
        return "reproduced"
    return "inconclusive"


def judge(
    claim: Any,
    per_seed: Mapping[str, Mapping[str, np.ndarray]],
    initial: Mapping[str, float],
    metric: str,
    level: float = LEVEL,
) -> dict[str, Any]:
    """Verdict of ``claim`` on ``metric`` (``final`` or ``average``).

    ``per_seed[panel_key][method]`` is the metric of every reported seed (same seed order for
    every method and panel); ``initial[panel_key]`` the mean initial return. Returns the
    verdict and every comparison (estimate and interval) it rests on.
    """
    panels = list(per_seed)
    P = _match(claim.panel, panels)
    data = per_seed[P]
    n = len(next(iter(data.values())))
    comps: list[dict[str, Any]] = []
    if claim.kind == "better":
        others = [m for m in claim.others if m in data]
        for o in others:
            x, y = np.asarray(data[claim.subject]), np.asarray(data[o])
            est, lo, hi = bootstrap_ci(lambda i, x=x, y=y: np.mean(x[i] - y[i], axis=1), n, level)
            comps.append(_comp(f"{claim.subject} - {o}", est, lo, hi, _sign_verdict(lo, hi)))
        verdict = _combine([c["verdict"] for c in comps])
    elif claim.kind == "similar":
        methods = [m for m in (claim.subject, *claim.others) if m in data]
        gain = max(float(np.mean(data[m])) for m in methods) - initial[P]
        margin = SIMILAR_MARGIN * gain
        for a_i, a in enumerate(methods):
            for b in methods[a_i + 1 :]:
                x, y = np.asarray(data[a]), np.asarray(data[b])
                est, lo, hi = bootstrap_ci(
                    lambda i, x=x, y=y: np.mean(x[i] - y[i], axis=1), n, level
                )
                if not margin > 0:
                    v = "inconclusive"
                elif -margin < lo and hi < margin:
                    v = "reproduced"
                elif lo >= margin or hi <= -margin:
                    v = "contradicted"
                else:
                    v = "inconclusive"
                comps.append(_comp(f"{a} - {b}", est, lo, hi, v))
        verdict = _combine([c["verdict"] for c in comps])
        return {"verdict": verdict, "margin": margin if margin > 0 else None,
                "comparisons": comps}  # fmt: skip
    elif claim.kind in ("gap_grows", "gap_smaller"):
        R = _match(claim.ref_panel, panels)
        norm = claim.kind == "gap_smaller"

        def gain(pk: str) -> float:
            """The panel's gain on all seeds (a constant: resampling it too would divide by
            near-zero gains in some resamples)."""
            return max(float(np.mean(v)) for v in per_seed[pk].values()) - initial[pk]

        def lead(pk: str, i: np.ndarray) -> np.ndarray:
            d = {m: np.mean(np.asarray(v)[i], axis=1) for m, v in per_seed[pk].items()}
            best = np.max([d[m] for m in claim.others if m in d], axis=0)
            g = d[claim.subject] - best
            if norm:
                scale = gain(pk)
                return g / scale if scale > 0 else np.full(g.shape, np.nan)
            return g

        if norm:
            est, lo, hi = bootstrap_ci(lambda i: lead(R, i) - lead(P, i), n, level)
            label = f"lead/gain on {R} - lead/gain on {P}"
        else:
            est, lo, hi = bootstrap_ci(lambda i: lead(P, i) - lead(R, i), n, level)
            label = f"lead on {P} - lead on {R}"
        if not all(map(math.isfinite, (est, lo, hi))):
            comps.append(_comp(label, est, lo, hi, "inconclusive"))
        else:
            comps.append(_comp(label, est, lo, hi, _sign_verdict(lo, hi)))
        verdict = comps[0]["verdict"]
    else:
        raise ValueError(f"claim kind: unknown {claim.kind!r}")
    return {"verdict": verdict, "comparisons": comps}


def _comp(label: str, est: float, lo: float, hi: float, verdict: str) -> dict[str, Any]:
    f = lambda v: v if math.isfinite(v) else None  # noqa: E731 - strict JSON
    return {"difference": label, "estimate": f(est), "low": f(lo), "high": f(hi),
            "verdict": verdict}  # fmt: skip


def _match(key: str, panels: Sequence[str]) -> str:
    """The panel whose key is ``key`` or ends with / starts with it (scenario key, env id)."""
    hits = [p for p in panels if p == key or p.endswith("_" + key) or p.startswith(key + "_")]
    if len(hits) != 1:
        raise KeyError(key)
    return hits[0]
