"""Full-constant time complexities: Theorems 4.2, 4.3, 4.4, 5.1, A.2, A.3 and G.1.

Conventions. ``h_dot`` is the per-step time \\dot h_i of Assumption 2.5; one stochastic
gradient costs h_i = \\dot h_i H seconds. The theorems replace H by \\tilde O(1/(1-gamma));
here the factor is ``1/(1-gamma)`` unless an explicit trajectory length ``H`` is passed,
in which case it is H. O-constants are taken as 1 and logarithmic factors are ignored
(in particular the log(Delta/eps) of Theorem A.1's T is not in Theorems A.2/A.3).

Paper: Theorems 4.2-4.4 (Appendix E.1), 5.1 (E.2), A.2-A.3 (F.1-F.2), G.1 (Appendix G).
"""

from __future__ import annotations

import math

import numpy as np

from theory import checks
from theory.complexity import Cluster, Complexity, cluster, complexity_row, unsupported
from theory.harmonic import harmonic_min, harmonic_min_sorted
from theory.parameters import batch_sizes, global_time_terms, time_terms, validated_constants


@checks.finite_outputs
def horizon_factor(gamma: float, H: float | None = None) -> float:
    """The factor that turns \\dot h_i into h_i: H if given, else 1/(1-gamma).

    Paper: Assumption 2.5 (h_i = \\dot h_i H) and H = \\tilde O(1/(1-gamma)) (Theorem 4.1).
    """
    gamma = checks.open_unit("gamma", gamma)
    return 1 / (1 - gamma) if H is None else checks.positive("H", H)


@checks.finite_outputs
def rennala_nigt_time(h_dot, eps: float, L_g: float, L_h: float, sigma: float, Delta: float,
                      gamma: float, kappa: float = 0.0, *, H: float | None = None) -> Complexity:
    """Time of Rennala NIGT, Theorem 4.4 (Theorem 4.2 when kappa = 0).

    Notes
    -----
    .. math:: \\kappa A + \\frac{1}{1-\\gamma}\\min_{m\\in[n]}\\Big[\\Big(\\frac1m\\sum_{i=1}^m
              \\frac{1}{\\dot h_i}\\Big)^{-1}\\Big(A + \\frac{B}{m}\\Big)\\Big],\\quad
              A = \\frac{L_g\\Delta}{\\varepsilon^2}
              + \\frac{\\sqrt{L_h}\\Delta}{\\varepsilon^{3/2}},
              \\ B = \\frac{\\sigma^2}{\\varepsilon^2}
              + \\frac{\\sigma^2\\sqrt{L_h}\\Delta}{\\varepsilon^{7/2}}

    Paper: Theorem 4.4 (and (6) of Theorem 4.2).
    """
    c = cluster(h_dot)
    A, B = time_terms(eps, L_g, L_h, sigma, Delta)
    kappa = checks.nonnegative("kappa", kappa)
    src = "Theorem 4.4" if kappa > 0 else "Theorem 4.2 (kappa = 0) / 4.4"
    return _rennala_row(c, A, B, kappa, horizon_factor(gamma, H), src)


@checks.finite_outputs
def rennala_nigt_time_varying(h_dot, eps: float, L_g: float, L_h: float, sigma: float,
                              Delta: float, gamma: float, *, h_dot_init=None,
                              H: float | None = None) -> Complexity:
    """Time of Rennala NIGT with time-varying per-step times, Theorem 4.3.

    ``h_dot`` has shape (T, n): row t-1 holds \\dot h_{t,i} for iteration t = 1..T;
    ``h_dot_init`` (n,) is used for the M_init collection before the loop (default: row 0;
    the statement writes \\dot h_{t,\\pi_{0,i}}, meaning the times at t = 0).
    Each row is sorted independently (the permutations pi_t). M and M_init as in
    Theorem 4.2. m_star is the one of the last iteration.

    Notes
    -----
    .. math:: \\frac{1}{1-\\gamma}\\Big(\\sum_{t=1}^T\\min_{m\\in[n]}\\Big[\\Big(\\frac1m
              \\sum_{i=1}^m\\frac{1}{\\dot h_{t,\\pi_{t,i}}}\\Big)^{-1}\\Big(\\frac Mm+1\\Big)\\Big]
              + \\min_{m\\in[n]}\\Big[\\Big(\\frac1m\\sum_{i=1}^m\\frac{1}{\\dot h_{0,\\pi_{0,i}}}
              \\Big)^{-1}\\Big(\\frac{M_{\\mathrm{init}}}{m}+1\\Big)\\Big]\\Big)

    Paper: Theorem 4.3 (Appendix E.1).
    """
    try:
        arr = np.asarray(h_dot, dtype=float)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"h_dot must be a (T, n) array of finite numbers, got "
                         f"{str(h_dot)[:40]}") from None
    if arr.ndim != 2 or arr.shape[0] < 1:
        raise ValueError(f"h_dot must have shape (T, n) with T >= 1, got shape {arr.shape}")
    flat = checks.times("h_dot", arr.ravel())
    arr = flat.reshape(arr.shape)
    init = arr[0] if h_dot_init is None else checks.times("h_dot_init", h_dot_init)
    checks.same_length(("h_dot_init", "h_dot rows"), init, arr[0])
    M, M_init = batch_sizes(eps, L_g, L_h, sigma, Delta)
    f = horizon_factor(gamma, H)
    S = np.cumsum(1.0 / np.sort(arr, axis=1), axis=1)
    m = np.arange(1, arr.shape[1] + 1, dtype=float)
    curves = (M + m) / S  # (1/m S_m)^{-1}(M/m + 1) = (M + m)/S_m
    k = np.argmin(curves, axis=1)
    per_iteration = curves[np.arange(arr.shape[0]), k]
    first = harmonic_min(init, 1.0, float(M_init))
    comp = f * (math.fsum(per_iteration) + first.value)
    return complexity_row("rennala_nigt", comp, 0.0, int(k[-1]) + 1, "Theorem 4.3")


@checks.finite_outputs
def malenia_nigt_time(h_dot, eps: float, L_g: float, L_h: float, sigma: float, Delta: float,
                      gamma: float, kappa: float = 0.0, *, H: float | None = None) -> Complexity:
    """Time of Malenia NIGT, Theorem 5.1.

    Notes
    -----
    .. math:: \\kappa A + \\frac{1}{1-\\gamma}\\Big[\\dot h_n A
              + \\Big(\\frac1n\\sum_{i=1}^n\\dot h_i\\Big)\\frac{B}{n}\\Big]

    Paper: Theorem 5.1 (A, B as in Theorem 4.2).
    """
    c = cluster(h_dot)
    A, B = time_terms(eps, L_g, L_h, sigma, Delta)
    kappa = checks.nonnegative("kappa", kappa)
    return _malenia_row(c, A, B, kappa, horizon_factor(gamma, H), "Theorem 5.1")


@checks.finite_outputs
def sync_nigt_time(h_dot, eps: float, L_g: float, L_h: float, sigma: float, Delta: float,
                   gamma: float, kappa: float = 0.0, *, H: float | None = None) -> Complexity:
    """Synchronized NIGT with full constants (text after Theorem 4.2).

    Every iteration waits for one gradient from each agent (M = n), so an iteration costs
    max_i h_i plus one communication. Computation: max_i h_i (A + B/n) as in the text;
    communication: kappa (A + B/n), one AllReduce per iteration (our derivation with the
    same T = A + B/M bookkeeping; the paper states no communication term in this form).

    Notes
    -----
    .. math:: \\frac{1}{1-\\gamma}\\max_i\\dot h_i\\Big(A + \\frac Bn\\Big)
              + \\kappa\\Big(A + \\frac Bn\\Big)

    Paper: Section 4, property ii) after Theorem 4.2.
    """
    c = cluster(h_dot)
    A, B = time_terms(eps, L_g, L_h, sigma, Delta)
    kappa = checks.nonnegative("kappa", kappa)
    iters = A + B / c.n
    comp = horizon_factor(gamma, H) * c.h_max * iters
    return complexity_row("sync_nigt", comp, kappa * iters, None, "text after Theorem 4.2",
                          note="communication term derived, not in the paper")


@checks.finite_outputs
def rennala_nigt_global_time(h_dot, eps: float, mu: float, L_g: float, L_h: float,
                             sigma: float, gamma: float, kappa: float = 0.0, *,
                             H: float | None = None) -> Complexity:
    """Time of Rennala NIGT to an eps-solution (global convergence), Theorem A.2.

    Notes
    -----
    .. math:: \\kappa A_\\mu + \\frac{1}{1-\\gamma}\\min_{m\\in[n]}\\Big[\\Big(\\frac1m
              \\sum_{i=1}^m\\frac{1}{\\dot h_i}\\Big)^{-1}
              \\Big(A_\\mu + \\frac{B_\\mu}{m}\\Big)\\Big]

    with A_mu, B_mu of :func:`theory.parameters.global_time_terms`.

    Paper: Theorem A.2.
    """
    c = cluster(h_dot)
    A, B = global_time_terms(eps, mu, L_g, L_h, sigma)
    kappa = checks.nonnegative("kappa", kappa)
    return _rennala_row(c, A, B, kappa, horizon_factor(gamma, H), "Theorem A.2")


@checks.finite_outputs
def malenia_nigt_global_time(h_dot, eps: float, mu: float, L_g: float, L_h: float,
                             sigma: float, gamma: float, kappa: float = 0.0, *,
                             H: float | None = None) -> Complexity:
    """Time of Malenia NIGT to an eps-solution (global convergence), Theorem A.3.

    Notes
    -----
    .. math:: \\kappa A_\\mu + \\frac{1}{1-\\gamma}\\Big[\\dot h_n A_\\mu
              + \\Big(\\frac1n\\sum_{i=1}^n\\dot h_i\\Big)\\frac{B_\\mu}{n}\\Big]

    Paper: Theorem A.3.
    """
    c = cluster(h_dot)
    A, B = global_time_terms(eps, mu, L_g, L_h, sigma)
    kappa = checks.nonnegative("kappa", kappa)
    return _malenia_row(c, A, B, kappa, horizon_factor(gamma, H), "Theorem A.3")


@checks.finite_outputs
def lower_bound_time(h_dot, eps: float, L_g: float, L_h: float, sigma: float, Delta: float,
                     gamma: float, kappa: float = 0.0, *, H: float | None = None) -> Complexity:
    """The lower bound of Theorem G.1 with constants 1 (L_1 = L_g, L_2 = L_h).

    Notes
    -----
    .. math:: \\kappa\\frac{L_g^{3/7}L_h^{2/7}\\Delta}{\\varepsilon^{12/7}}
              + H\\min_{m\\in[n]}\\Big[\\Big(\\frac1m\\sum_{i=1}^m\\frac{1}{\\dot h_i}\\Big)^{-1}
              \\Big(\\frac{\\sigma^2}{m\\varepsilon^2} + 1\\Big)\\Big]
              \\min\\Big\\{\\frac{L_g\\Delta}{\\varepsilon^2},
              \\frac{\\sqrt{L_h}\\Delta}{\\varepsilon^{3/2}}\\Big\\}

    H is 1/(1-gamma) unless given, as in the upper bounds.

    Paper: Theorem G.1.
    """
    c = cluster(h_dot)
    eps, L_g, L_h, sigma, Delta = validated_constants(eps, L_g, L_h, sigma, Delta)
    kappa = checks.nonnegative("kappa", kappa)
    r = harmonic_min_sorted(c.h, c.S, 1.0, sigma**2 / eps**2)
    T_lb = min(L_g * Delta / eps**2, math.sqrt(L_h) * Delta / eps**1.5)
    comp = horizon_factor(gamma, H) * r.value * T_lb
    comm = kappa * L_g ** (3 / 7) * L_h ** (2 / 7) * Delta / eps ** (12 / 7)
    return complexity_row("lower_bound", comp, comm, r.m_star, "Theorem G.1",
                          note="lower bound (Omega)")


def _rennala_row(c: Cluster, A: float, B: float, kappa: float, f: float,
                 source: str) -> Complexity:
    """kappa A + f min_m[(1/m sum_{i<=m} 1/h_(i))^{-1}(A + B/m)]: Theorems 4.4 and A.2."""
    r = harmonic_min_sorted(c.h, c.S, A, B)
    comp = f * r.value
    return complexity_row("rennala_nigt", comp, kappa * A, r.m_star, source)


def _malenia_row(c: Cluster, A: float, B: float, kappa: float, f: float,
                 source: str) -> Complexity:
    """kappa A + f [h_(n) A + (1/n sum_i h_i) B/n]: Theorems 5.1 and A.3."""
    comp = f * (c.h_max * A + c.h_mean * B / c.n)
    return complexity_row("malenia_nigt", comp, kappa * A, None, source)


_NO_THEOREM = "no full-constant theorem in the paper (use the table form)"


@checks.finite_outputs
def theorem_table(setting: str, h_dot, eps: float, L_g: float, L_h: float, sigma: float,
                  Delta: float, gamma: float, kappa: float = 0.0, *, mu: float | None = None,
                  H: float | None = None) -> dict[str, Complexity]:
    """All methods in the full-constant form for ``setting`` (homogeneous/heterogeneous).

    Methods without a full-constant theorem in the paper (vanilla_pg, rennala_pg,
    malenia_pg, and afedpg) are returned unsupported. With ``mu`` the NIGT rows use
    Theorems A.2/A.3 (eps-solution under gradient domination); the lower bound is still
    Theorem G.1 (stationarity) and is then omitted, and sync_nigt is unsupported.

    Paper: Theorems 4.4, 5.1, A.2, A.3, G.1; text after Theorem 4.2.
    """
    checks.choice("setting", setting, ("homogeneous", "heterogeneous"))
    args = (h_dot, eps, L_g, L_h, sigma, Delta, gamma, kappa)
    rows: dict[str, Complexity] = {}
    if setting == "homogeneous":
        rows["vanilla_pg"] = unsupported("vanilla_pg", "Table 1", _NO_THEOREM)
        rows["sync_nigt"] = (sync_nigt_time(*args, H=H) if mu is None else unsupported(
            "sync_nigt", "text after Theorem 4.2", "no global-convergence (mu) form"))
        rows["rennala_pg"] = unsupported("rennala_pg", "Table 1", _NO_THEOREM)
        rows["afedpg"] = unsupported("afedpg", "Table 1", _NO_THEOREM)
        if mu is None:
            rows["rennala_nigt"] = rennala_nigt_time(*args, H=H)
        else:
            rows["rennala_nigt"] = rennala_nigt_global_time(
                h_dot, eps, mu, L_g, L_h, sigma, gamma, kappa, H=H)
    else:
        rows["vanilla_pg"] = unsupported("vanilla_pg", "Table 2", _NO_THEOREM)
        rows["malenia_pg"] = unsupported("malenia_pg", "Table 2", _NO_THEOREM)
        rows["afedpg"] = unsupported("afedpg", "Table 2",
                                     "does not support the heterogeneous setup")
        if mu is None:
            rows["malenia_nigt"] = malenia_nigt_time(*args, H=H)
        else:
            rows["malenia_nigt"] = malenia_nigt_global_time(
                h_dot, eps, mu, L_g, L_h, sigma, gamma, kappa, H=H)
    if mu is None:
        rows["lower_bound"] = lower_bound_time(*args, H=H)
    return rows
