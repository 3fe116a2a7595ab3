"""How many iterations a run of each method takes: the T that turns seconds per iteration
into seconds per run.

- Rennala / Malenia NIGT: T of Theorem 4.1 (or A.1 with mu) at the run's (M, M_init), in
  two forms: the O-expression with constant 1 (rounded up) and T_explicit, the count the
  last displays of the proof guarantee (:func:`theory.parameters.explicit_iterations`).
  eta and alpha are Theorem 4.1's for that M, so a user-chosen M changes T_explicit too.
- Synchronized NIGT: the same theorem with M = M_init = n b, since a synchronized round
  averages b gradients from each of the n agents (Theorem 4.1 holds for any M, M_init;
  the text after Theorem 4.2 uses M = n).
- AFedPG: one iteration is one server update (one gradient). Table 1's row, read in
  updates: its computation time (1/n sum_i 1/h_i)^{-1} (n^{4/3}/eps^{7/3} +
  1/(n eps^{7/2})) with n agents busy all the time is that time times sum_i 1/h_i
  gradients, i.e. n^{7/3}/eps^{7/3} + 1/eps^{7/2} updates (O-constant 1; no explicit form:
  the paper gives no constants for AFedPG).

Paper: Theorem 4.1 (T for any M, M_init), Theorem A.1, text after Theorem 4.2
(synchronized NIGT), Table 1 row "AFedPG" and footnote 4 (Lan et al. 2025, Theorem 5.2).
"""

from __future__ import annotations

import math
from typing import NamedTuple

from theory import checks
from theory.parameters import (
    _ceil,
    explicit_iterations,
    global_explicit_iterations,
    global_iterations_bound,
    global_momentum,
    global_step_size,
    iterations_bound,
    momentum,
    step_size,
)


class IterationCounts(NamedTuple):
    """Iterations of one run.

    T:          the O-expression with constant 1, rounded up (an integer >= 1)
    T_explicit: the proof's explicit count (None when the paper gives no constants)
    source:     where T comes from
    """

    T: int
    T_explicit: int | None
    source: str


def nigt_iterations(eps: float, L_g: float, L_h: float, sigma: float, Delta: float, M: int,
                    M_init: int, *, mu: float | None = None) -> IterationCounts:
    """T and T_explicit of Algorithm 1 run with batches (M, M_init).

    Notes
    -----
    .. math:: T = \\Big\\lceil \\frac{L_g\\Delta}{\\varepsilon^2}
              + \\frac{\\sqrt{L_h}\\Delta}{\\varepsilon^{3/2}}
              + \\frac{\\sigma}{\\sqrt{M_{\\mathrm{init}}}\\varepsilon}
              + \\frac{\\sigma^3}{M\\sqrt{M_{\\mathrm{init}}}\\varepsilon^3}
              + \\frac{\\sigma^2\\sqrt{L_h}\\Delta}{M\\varepsilon^{7/2}} \\Big\\rceil

    and T_explicit of :func:`theory.parameters.explicit_iterations` with
    eta = min{M eps^2/(64 sigma^2), 1/2}, alpha = min{eps/(8 L_g), eta sqrt(eps)/(4 sqrt(L_h))}.
    With ``mu``: Theorem A.1's T and its explicit count (eta, alpha of Theorem A.1).

    Paper: Theorem 4.1 (any M, M_init) and its proof; Theorem A.1.
    """
    M = checks.count("M", M)
    M_init = checks.count("M_init", M_init)
    if mu is None:
        T = iterations_bound(eps, L_g, L_h, sigma, Delta, M, M_init).T
        eta = momentum(M, eps, sigma)
        alpha = step_size(eps, eta, L_g, L_h)
        T_exp = explicit_iterations(eps, Delta, alpha, eta, sigma, M_init)
        source = "Theorem 4.1"
    else:
        T = global_iterations_bound(eps, mu, L_g, L_h, Delta)
        eta = global_momentum(M, eps, mu, sigma)
        alpha = global_step_size(eps, eta, mu, L_g, L_h, sigma, M_init)
        T_exp = global_explicit_iterations(eps, Delta, alpha, mu)
        source = "Theorem A.1"
    return IterationCounts(max(_ceil(T), 1), T_exp, source)


def sync_iterations(n: int, batch: int, eps: float, L_g: float, L_h: float, sigma: float,
                    Delta: float, *, mu: float | None = None) -> IterationCounts:
    """Synchronized NIGT: :func:`nigt_iterations` with M = M_init = n b.

    Paper: Theorem 4.1 with the synchronized batch; text after Theorem 4.2 (M = n for b = 1).
    """
    nb = checks.count("n", n) * checks.count("batch", batch)
    counts = nigt_iterations(eps, L_g, L_h, sigma, Delta, nb, nb, mu=mu)
    return counts._replace(source=f"{counts.source} with M = M_init = n b = {nb}")


def afedpg_updates(n: int, eps: float) -> IterationCounts:
    """AFedPG's server updates to eps from Table 1's row (O-constant 1).

    Notes
    -----
    .. math:: T = \\Big\\lceil n\\Big(\\frac{n^{4/3}}{\\varepsilon^{7/3}}
              + \\frac{1}{n\\varepsilon^{7/2}}\\Big)\\Big\\rceil
              = \\Big\\lceil\\frac{n^{7/3}}{\\varepsilon^{7/3}}
              + \\frac{1}{\\varepsilon^{7/2}}\\Big\\rceil

    (the row's time divided by the time per gradient of the whole cluster,
    (sum_i 1/h_i)^{-1} = (1/n sum_i 1/h_i)^{-1} / n).

    Paper: Table 1 row "AFedPG" (Lan et al. 2025, Theorem 5.2), footnote 4.
    """
    n = checks.count("n", n)
    eps = checks.positive("eps", eps)
    T = n ** (7 / 3) / eps ** (7 / 3) + 1 / eps**3.5
    if not math.isfinite(T):
        raise ValueError(f"eps: AFedPG's update count overflows at eps = {eps!r}")
    return IterationCounts(max(_ceil(T), 1), None,
                           "Table 1 row AFedPG in updates: n^(7/3)/eps^(7/3) + 1/eps^(7/2)")
