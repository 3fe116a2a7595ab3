"""From measured seconds to a cluster file: h_i, kappa_i and one timing model.

``apga calibrate`` times every agent's stochastic gradients and the run's communications
on the real backend (:mod:`algorithms.backends.distributed.calibrate`); this module turns those
samples into a :class:`theory.cluster_file.ClusterSpec`. Pure numpy (no torch).

Computation, agent i: ``h_i`` is the mean of its measured seconds per gradient (Assumption
2.5's h_i is the time of one g_H at the run's horizon; we report the mean, the quantity
the simulated clock's timing models are parametrised by). The timing model is one for the
whole file (the clock draws every agent from one model, :func:`algorithms.sim.clock.make_clock`),
fitted to the pooled ratios x = t / h_i, which all have mean 1:

- ``fixed`` when their coefficient of variation is below :data:`FIXED_CV` (5%): the
  spread is then too small to matter for a round;
- otherwise the model of largest likelihood among ``exponential`` (x ~ Exp(1)),
  ``lognormal`` (log x ~ N(-s^2/2, s^2), s the standard deviation of log x, the
  parametrisation of :func:`algorithms.sim.timing.durations` with mean 1) and ``uniform``
  (x ~ U[1 - w, 1 + w], w = max |x - 1|, capped below 1).

Communication: in AllReduce mode a round communicates once, by one all_reduce of the
round's buffer, while the clock charges kappa_i to receive the point and kappa to reduce
(Lemma C.1: t + 2 kappa). A real round also pays for its stop signal and its bookkeeping,
so kappa (the same for every agent) is half of what measured real AggregateRennala rounds
cost beyond their computation on the clock (:func:`kappa_from_rounds`); half the median
all_reduce alone (:func:`kappa_from_allreduce`) is the fallback without such rounds. In
server mode kappa_i is half agent i's median round trip of one d-vector to the server
and back.

Paper: Assumption 2.5 (h_i, kappa), Lemma C.1 (t + 2 kappa), Section H (per-agent kappa_i).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

#: Below this coefficient of variation of t / h_i the durations are called fixed.
FIXED_CV = 0.05
#: Uniform jitter must stay below 1 (durations > 0).
MAX_JITTER = 0.99


class TimingFit(NamedTuple):
    """The chosen model, its option, the coefficient of variation and every candidate's
    mean log-likelihood per sample (None for ``fixed``, which has no density)."""

    timing: str
    options: dict[str, float]
    cv: float
    loglik: dict[str, float]


def fit_timing(samples: Sequence[Sequence[float]]) -> TimingFit:
    """One timing model for all agents from their measured durations (see module doc).

    Notes
    -----
    With :math:`x = t/h_i`: exponential :math:`\\ell = \\overline{-x}`; lognormal
    :math:`\\ell = \\overline{-\\log x - \\log(s\\sqrt{2\\pi}) - (\\log x + s^2/2)^2/(2s^2)}`;
    uniform :math:`\\ell = -\\log(2w)` if every :math:`|x-1| \\le w` (else :math:`-\\infty`).
    """
    ratios = []
    for i, t in enumerate(samples):
        t = np.asarray(t, dtype=float)
        if t.size < 2 or not np.isfinite(t).all() or (t <= 0).any():
            raise ValueError(f"samples: agent {i} needs at least 2 positive finite durations")
        ratios.append(t / t.mean())
    x = np.concatenate(ratios)
    cv = float(x.std())
    if cv < FIXED_CV:
        return TimingFit("fixed", {}, cv, {})
    logx = np.log(x)
    s = max(float(logx.std()), 1e-12)
    w = min(float(np.abs(x - 1.0).max()), MAX_JITTER)
    loglik = {
        "exponential": float(np.mean(-x)),
        "lognormal": float(np.mean(-logx - math.log(s * math.sqrt(2 * math.pi))
                                   - (logx + s * s / 2) ** 2 / (2 * s * s))),
        "uniform": -math.log(2 * w) if np.all(np.abs(x - 1.0) <= w) else -math.inf,
    }
    best = max(loglik, key=lambda k: loglik[k])
    options = {"lognormal": {"log_sigma": s}, "uniform": {"jitter": w}}.get(best, {})
    return TimingFit(best, options, cv, loglik)


def kappa_from_allreduce(seconds: Sequence[float], n: int) -> np.ndarray:
    """kappa_i = half the median all_reduce time, every agent (see module doc)."""
    return np.full(n, 0.5 * float(np.median(np.asarray(seconds, dtype=float))))


def kappa_from_rounds(durations: Sequence[float], h: Sequence[float], M: int) -> float:
    r"""kappa from real AggregateRennala rounds: half of what a round costs beyond computing.

    Notes
    -----
    .. math:: \kappa = \tfrac12 \max\{\operatorname{median}_r D_r - t^*(h, M), 0\}

    with :math:`D_r` the measured rounds and :math:`t^*` the exit time of Algorithm 2 on
    the simulated clock with fixed times h and kappa = 0 (Lemma C.1's t); the clock then
    adds kappa to receive the point and kappa to reduce, which together give back the
    measured round at this M.

    Paper: Lemma C.1 (round = t + 2 kappa).
    """
    from algorithms.aggregation import plan_rennala
    from algorithms.sim.clock import make_clock

    record = plan_rennala(make_clock(np.asarray(h, dtype=float), 0.0), int(M))
    extra = float(np.median(np.asarray(durations, dtype=float))) - record.t_exit
    return 0.5 * max(extra, 0.0)


def kappa_from_round_trips(seconds: Sequence[Sequence[float]]) -> np.ndarray:
    """kappa_i = half agent i's median round trip to the server and back."""
    return np.array([0.5 * float(np.median(np.asarray(t, dtype=float))) for t in seconds])
