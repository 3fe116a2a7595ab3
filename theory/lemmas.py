"""Aggregation-time bounds of Algorithms 2 and 3 with the constants of their proofs.

Paper: Appendix C, Lemmas C.1 and C.2.
"""

from __future__ import annotations

from typing import NamedTuple

from theory import checks
from theory.harmonic import harmonic_min


class CollectTimeBound(NamedTuple):
    """A bound on the wall-clock time of one aggregation round, split into its terms.

    communication: broadcast + one reduce (2 kappa)
    computation:   time until the loop exits, counted from the end of the broadcast
    total:         communication + computation
    m_star:        number of fastest agents the bound uses (Lemma C.1); n for Lemma C.2
    """

    communication: float
    computation: float
    total: float
    m_star: int


@checks.finite_outputs
def rennala_collect_time_bound(h, M: int, kappa: float = 0.0) -> CollectTimeBound:
    """Upper bound on the time AggregateRennala (Algorithm 2) needs to return.

    With t = min_{m in [n]} (sum_{i<=m} 1/h_(i))^{-1} (M + m), the proof of Lemma C.1
    shows sum_i floor(t / h_i) >= M, so the loop exits by t after the broadcast;
    broadcast and the single reduce take at most kappa each.

    Notes
    -----
    .. math:: T_{C.1} = 2\\kappa + \\min_{m\\in[n]}
              \\Big(\\sum_{i=1}^m \\frac{1}{h_{(i)}}\\Big)^{-1}(M + m)

    Paper: Lemma C.1 (constant 1 as in its proof: t + 2 kappa).
    """
    M = checks.count("M", M)
    kappa = checks.nonnegative("kappa", kappa)
    # (sum_{i<=m} 1/h)^{-1} (M + m) = (1/m sum 1/h)^{-1} (1 + M/m): A = 1, B = M.
    res = harmonic_min(h, 1.0, float(M))
    return CollectTimeBound(2 * kappa, res.value, 2 * kappa + res.value, res.m_star)


@checks.finite_outputs
def malenia_collect_time_bound(h, M: int, kappa: float = 0.0) -> CollectTimeBound:
    """Upper bound on the time AggregateMalenia (Algorithm 3) needs to return.

    After the broadcast every agent has >= 1 gradient by h_(n) = max_i h_i; after a
    further t = (1/n sum_i h_i) M/n the loop condition (1/n sum 1/M_i)^{-1} < M/n is
    false. Broadcast and reduce take at most kappa each.

    Notes
    -----
    .. math:: T_{C.2} = 2\\kappa + h_{(n)} + \\Big(\\frac{1}{n}\\sum_{i=1}^n h_i\\Big)\\frac{M}{n}

    Paper: Lemma C.2 (constant 1 as in its proof). Requires every h_i finite: with an
    agent that never returns, Algorithm 3 never exits.
    """
    M = checks.count("M", M)
    kappa = checks.nonnegative("kappa", kappa)
    h = checks.times("h", h)
    n = h.size
    comp = float(h.max() + h.mean() * M / n)
    return CollectTimeBound(2 * kappa, comp, 2 * kappa + comp, n)
