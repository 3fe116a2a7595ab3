"""Parameter choices of Theorems 4.1, 4.2/4.4/5.1 and A.1: M, M_init, eta, alpha, H, T.

All O-constants are taken as 1. Paper symbols are used as argument names.

Paper: Theorem 4.1 and its proof (Appendix D); Theorems 4.2, 4.4, 5.1 (M, M_init);
Theorem A.1 and its proof (Appendix F).
"""

from __future__ import annotations

import contextlib
import decimal
import math
from typing import NamedTuple

import numpy as np

from theory import checks
from theory.constants import _truncation, truncation_constants


class TimeTerms(NamedTuple):
    """A and B of the harmonic-like dependency (text after Theorem 4.2).

    A = L_g Delta/eps^2 + sqrt(L_h) Delta/eps^{3/2}   (iterations T of Theorem 4.2)
    B = sigma^2/eps^2 + sigma^2 sqrt(L_h) Delta/eps^{7/2}  (so that M = ceil(B/A))
    """

    A: float
    B: float


class BatchSizes(NamedTuple):
    """M and M_init of Theorems 4.2/4.4/5.1 (or of Theorem A.1 when ``mu`` is given)."""

    M: int
    M_init: int


class IterationTerms(NamedTuple):
    """The five terms of T in Theorem 4.1 (O-constant 1) and their sum ``T``."""

    smooth: float          # L_g Delta / eps^2
    hessian: float         # sqrt(L_h) Delta / eps^{3/2}
    init_noise: float      # sigma / (sqrt(M_init) eps)
    noise: float           # sigma^3 / (M sqrt(M_init) eps^3)
    hessian_noise: float   # sigma^2 sqrt(L_h) Delta / (M eps^{7/2})
    T: float


class NIGTParameters(NamedTuple):
    """Every parameter of Rennala/Malenia NIGT from the problem constants.

    M, M_init: batch sizes; eta, alpha: momentum and step size (Theorem 4.1 or A.1);
    H: trajectory length (None when D_g, D_h or gamma are unknown);
    T: the O-expression of T with constants 1; T_explicit: the iteration count that the
    last displays of the proof guarantee (see :func:`explicit_iterations`).
    """

    M: int
    M_init: int
    eta: float
    alpha: float
    H: int | None
    T: float
    T_explicit: int


@checks.finite_outputs
def time_terms(eps: float, L_g: float, L_h: float, sigma: float, Delta: float) -> TimeTerms:
    """A and B of the harmonic-like dependency of Theorem 4.2.

    Notes
    -----
    .. math:: A = \\frac{L_g\\Delta}{\\varepsilon^2}
              + \\frac{\\sqrt{L_h}\\Delta}{\\varepsilon^{3/2}},
              \\qquad B = \\frac{\\sigma^2}{\\varepsilon^2}
              + \\frac{\\sigma^2\\sqrt{L_h}\\Delta}{\\varepsilon^{7/2}}

    Paper: paragraph after Theorem 4.2. (Appendix E prints sqrt(L_h Delta) in Theorems 4.4
    and 5.1; we follow the main text, sqrt(L_h) Delta, which is what Theorem 4.1's T gives.)
    """
    eps, L_g, L_h, sigma, Delta = validated_constants(eps, L_g, L_h, sigma, Delta)
    A = L_g * Delta / eps**2 + math.sqrt(L_h) * Delta / eps**1.5
    B = sigma**2 / eps**2 + sigma**2 * math.sqrt(L_h) * Delta / eps**3.5
    return TimeTerms(A, B)


@checks.finite_outputs
def batch_sizes(eps: float, L_g: float, L_h: float, sigma: float, Delta: float) -> BatchSizes:
    """M and M_init of Theorems 4.2, 4.3, 4.4 and 5.1.

    Notes
    -----
    .. math:: M_{\\mathrm{init}} = \\max\\{\\lceil \\sigma^2/\\varepsilon^2\\rceil, 1\\}, \\qquad
              M = \\max\\Big\\{\\Big\\lceil \\frac{\\sigma^2/\\varepsilon^2
              + \\sigma^2\\sqrt{L_h}\\Delta/\\varepsilon^{7/2}}
              {L_g\\Delta/\\varepsilon^2 + \\sqrt{L_h}\\Delta/\\varepsilon^{3/2}}
              \\Big\\rceil, 1\\Big\\}
              = \\max\\{\\lceil B/A\\rceil, 1\\}

    Paper: Theorem 4.2 (same choice in Theorems 4.3, 4.4, 5.1; Theorem 4.3's statement
    misplaces the ceiling, we use Theorem 4.2's).
    """
    eps, L_g, L_h, sigma, Delta = validated_constants(eps, L_g, L_h, sigma, Delta)
    time_terms(eps, L_g, L_h, sigma, Delta)  # A and B must be finite floats too
    with _exact() as D:
        e, s2, rt_h = D(eps), D(sigma) ** 2, D(L_h).sqrt()
        A = D(L_g) * D(Delta) / e**2 + rt_h * D(Delta) / (e * e.sqrt())
        B = s2 / e**2 + s2 * rt_h * D(Delta) / (e**3 * e.sqrt())
        return BatchSizes(max(_ceil_exact(B / A), 1), max(_ceil_exact(s2 / e**2), 1))


@checks.finite_outputs
def momentum(M: int, eps: float, sigma: float) -> float:
    """eta of Theorem 4.1.

    Notes
    -----
    .. math:: \\eta = \\min\\Big\\{\\frac{M\\varepsilon^2}{64\\sigma^2}, \\frac12\\Big\\}

    Paper: Theorem 4.1.
    """
    M = checks.count("M", M)
    eps = checks.positive("eps", eps)
    sigma = checks.positive("sigma", sigma)
    return min(M * eps**2 / (64 * sigma**2), 0.5)


@checks.finite_outputs
def step_size(eps: float, eta: float, L_g: float, L_h: float) -> float:
    """alpha of Theorem 4.1.

    Notes
    -----
    .. math:: \\alpha = \\min\\Big\\{\\frac{\\varepsilon}{8L_g},
              \\frac{\\eta\\sqrt{\\varepsilon}}{4\\sqrt{L_h}}\\Big\\}

    Paper: Theorem 4.1.
    """
    eps = checks.positive("eps", eps)
    eta = checks.open_unit("eta", eta)
    L_g = checks.positive("L_g", L_g)
    L_h = checks.positive("L_h", L_h)
    return min(eps / (8 * L_g), eta * math.sqrt(eps) / (4 * math.sqrt(L_h)))


@checks.finite_outputs
def horizon(eps: float, eta: float, alpha: float, D_g: float, D_h: float, gamma: float) -> int:
    """Trajectory length H of Theorem 4.1, rounded up to an integer.

    Notes
    -----
    .. math:: H = \\max\\Big\\{\\Big\\lceil\\log_\\gamma \\frac{\\varepsilon\\eta}
              {64\\max\\{D_g, \\alpha D_h\\}}\\Big\\rceil, 1\\Big\\}

    The paper writes no ceiling; a trajectory length is an integer and rounding up keeps
    gamma^H <= eps eta / (64 max{D_g, alpha D_h}), which is all the proof uses.

    Paper: Theorem 4.1 (H), proof of Theorem 4.1 (use of gamma^H).
    """
    eps = checks.positive("eps", eps)
    eta = checks.open_unit("eta", eta)
    alpha = checks.positive("alpha", alpha)
    D_g = checks.positive("D_g", D_g)
    D_h = checks.positive("D_h", D_h)
    gamma = checks.open_unit("gamma", gamma)
    return _horizon(eps * eta, max(D_g, alpha * D_h), gamma)


@checks.finite_outputs
def horizon_from_policy(eps: float, eta: float, alpha: float, r_max: float, M_g: float,
                        M_h: float, gamma: float, *, mu: float | None = None) -> int:
    """Smallest integer H >= 1 with gamma^H <= c eta / (64 max{D_g(H), alpha D_h(H)}).

    D_g and D_h of Proposition 2.3-(3) grow with H, so Theorem 4.1's H is a fixed point;
    this solves it exactly by scanning H = 1, 2, ... (vectorised, doubling the range).
    c = eps (Theorem 4.1) or sqrt(mu eps) (Theorem A.1, when ``mu`` is given).

    Paper: Theorem 4.1 / A.1 (H) with Proposition 2.3-(3) (D_g, D_h).
    """
    eps = checks.positive("eps", eps)
    eta = checks.open_unit("eta", eta)
    alpha = checks.positive("alpha", alpha)
    truncation_constants(r_max, M_g, M_h, gamma, 1.0)  # validates r_max, M_g, M_h, gamma
    c = eps if mu is None else math.sqrt(checks.positive("mu", mu) * eps)
    lg = math.log(gamma)
    target = math.log(c * eta)
    hi = 64
    while True:
        H = np.arange(1, hi + 1, dtype=float)
        D_g, D_h = _truncation(r_max, M_g, M_h, gamma, H)
        with np.errstate(over="ignore", divide="ignore"):
            lhs = H * lg + np.log(64 * np.maximum(D_g, alpha * D_h))
        if not np.isfinite(lhs[0]) or not math.isfinite(target):
            # 64 max{D_g, alpha D_h} overflowed: the decorator names the input to blame.
            raise ValueError("horizon: gamma^H <= c eta / (64 max{D_g, alpha D_h}) cannot be "
                             "evaluated in floating point")
        ok = lhs <= target
        if ok.any():
            return int(np.argmax(ok)) + 1
        if hi >= MAX_HORIZON:
            raise ValueError(f"gamma: the horizon H exceeds {MAX_HORIZON} steps "
                             f"(gamma = {gamma!r} is too close to 1 for these constants)")
        hi = min(4 * hi, MAX_HORIZON)


@checks.finite_outputs
def iterations_bound(eps: float, L_g: float, L_h: float, sigma: float, Delta: float,
                     M: int, M_init: int) -> IterationTerms:
    """The number of iterations T of Theorem 4.1 with O-constant 1, term by term.

    Notes
    -----
    .. math:: T = \\frac{L_g\\Delta}{\\varepsilon^2}
              + \\frac{\\sqrt{L_h}\\Delta}{\\varepsilon^{3/2}}
              + \\frac{\\sigma}{\\sqrt{M_{\\mathrm{init}}}\\,\\varepsilon}
              + \\frac{\\sigma^3}{M\\sqrt{M_{\\mathrm{init}}}\\,\\varepsilon^3}
              + \\frac{\\sigma^2\\sqrt{L_h}\\Delta}{M\\varepsilon^{7/2}}

    Paper: Theorem 4.1, main-text statement (Appendix D prints sqrt(M_init eps) and
    sqrt(M_init eps^3) in the last two noise terms; the proof's own last displays are
    loose here, so for a count with exact constants use :func:`explicit_iterations`).
    """
    eps, L_g, L_h, sigma, Delta = validated_constants(eps, L_g, L_h, sigma, Delta)
    M = checks.count("M", M)
    M_init = checks.count("M_init", M_init)
    terms = (
        L_g * Delta / eps**2,
        math.sqrt(L_h) * Delta / eps**1.5,
        sigma / (math.sqrt(M_init) * eps),
        sigma**3 / (M * math.sqrt(M_init) * eps**3),
        sigma**2 * math.sqrt(L_h) * Delta / (M * eps**3.5),
    )
    return IterationTerms(*terms, T=math.fsum(terms))


@checks.finite_outputs
def explicit_iterations(eps: float, Delta: float, alpha: float, eta: float, sigma: float,
                        M_init: int) -> int:
    """Smallest T for which the last display of the proof of Theorem 4.1 gives eps.

    Derivation. The proof ends with (after choosing H, alpha, eta)

    .. math:: \\frac1T\\sum_{t=0}^{T-1}\\mathbb E\\|\\nabla J(\\theta_t)\\|
              \\le \\frac{\\Delta}{\\alpha T} + \\frac{2\\sigma}{\\sqrt{M_{\\mathrm{init}} T\\eta}}
              + \\frac{3\\varepsilon}{4}.

    (The 3 eps/4 collects 8 D_g gamma^H/eta + 4 alpha D_h gamma^H/eta <= 3 eps/16 by H,
    L_g alpha/2 <= eps/16 and 4 alpha^2 L_h/eta^2 <= eps/4 by alpha, and
    2 sqrt(eta) sigma/sqrt(M) <= eps/4 by eta: 3/16 + 1/16 + 4/16 + 4/16 = 3/4.)
    E||grad J(theta_bar_T)|| <= eps therefore holds as soon as the two remaining terms are
    at most eps/4. With x = 1/sqrt(T), a = Delta/alpha and b = 2 sigma/sqrt(M_init eta)
    this is a x^2 + b x <= eps/4, whose positive root is

    .. math:: x^* = \\frac{-b + \\sqrt{b^2 + a\\varepsilon}}{2a}
              = \\frac{\\varepsilon}{2\\,(b + \\sqrt{b^2 + a\\varepsilon})},

    so the smallest admissible integer is

    .. math:: T = \\Big\\lceil \\frac{4\\,(b + \\sqrt{b^2 + a\\varepsilon})^2}{\\varepsilon^2}
              \\Big\\rceil .

    (A simpler sufficient choice splits eps/4 evenly:
    T >= max{8 Delta/(alpha eps), 256 sigma^2/(M_init eta eps^2)}; ours is never larger.)

    Paper: proof of Theorem 4.1, last displays (Appendix D).
    """
    eps = checks.positive("eps", eps)
    Delta = checks.positive("Delta", Delta)
    alpha = checks.positive("alpha", alpha)
    eta = checks.open_unit("eta", eta)
    sigma = checks.positive("sigma", sigma)
    M_init = checks.count("M_init", M_init)
    a = Delta / alpha
    b = 2 * sigma / math.sqrt(M_init * eta)
    T = 4 * (b + math.sqrt(b * b + a * eps)) ** 2 / eps**2
    return max(math.ceil(T), 1)


@checks.finite_outputs
def nigt_parameters(eps: float, L_g: float, L_h: float, sigma: float, Delta: float, *,
                    D_g: float | None = None, D_h: float | None = None,
                    gamma: float | None = None) -> NIGTParameters:
    """All parameters of Rennala/Malenia NIGT from the constants (Theorems 4.1, 4.2).

    H is computed only when D_g, D_h and gamma are all given; otherwise it is None.

    Paper: Theorem 4.1 (eta, alpha, H, T), Theorem 4.2 (M, M_init).
    """
    M, M_init = batch_sizes(eps, L_g, L_h, sigma, Delta)
    eta = momentum(M, eps, sigma)
    alpha = step_size(eps, eta, L_g, L_h)
    H = None
    if D_g is not None and D_h is not None and gamma is not None:
        H = horizon(eps, eta, alpha, D_g, D_h, gamma)
    T = iterations_bound(eps, L_g, L_h, sigma, Delta, M, M_init).T
    T_explicit = explicit_iterations(eps, Delta, alpha, eta, sigma, M_init)
    return NIGTParameters(M, M_init, eta, alpha, H, T, T_explicit)


# --- Theorem A.1: global convergence under gradient domination (mu) -------------------

@checks.finite_outputs
def global_time_terms(eps: float, mu: float, L_g: float, L_h: float, sigma: float) -> TimeTerms:
    """A_mu and B_mu of Theorems A.1-A.3 (the analogues of A and B).

    Notes
    -----
    .. math:: A_\\mu = \\frac{L_g}{\\mu\\varepsilon}
              + \\frac{\\sqrt{L_h}}{\\mu^{3/4}\\sqrt{\\varepsilon}},
              \\qquad B_\\mu = \\frac{\\sigma^2}{\\mu\\varepsilon^2}
              + \\frac{\\sigma^2\\sqrt{L_h}}{\\mu^{7/4}\\varepsilon^{5/2}}

    Paper: Theorem A.1 (M), Theorems A.2 and A.3.
    """
    eps = checks.positive("eps", eps)
    mu = checks.positive("mu", mu)
    L_g = checks.positive("L_g", L_g)
    L_h = checks.positive("L_h", L_h)
    sigma = checks.positive("sigma", sigma)
    A = L_g / (mu * eps) + math.sqrt(L_h) / (mu**0.75 * math.sqrt(eps))
    B = sigma**2 / (mu * eps**2) + sigma**2 * math.sqrt(L_h) / (mu**1.75 * eps**2.5)
    return TimeTerms(A, B)


@checks.finite_outputs
def global_batch_sizes(eps: float, mu: float, L_g: float, L_h: float,
                       sigma: float) -> BatchSizes:
    """M and M_init of Theorem A.1.

    Notes
    -----
    .. math:: M_{\\mathrm{init}} = \\max\\{\\lceil\\sigma^2/(\\mu\\varepsilon^2)\\rceil, 1\\},
              \\qquad
              M = \\max\\{\\lceil B_\\mu / A_\\mu\\rceil, 1\\}

    Paper: Theorem A.1.
    """
    global_time_terms(eps, mu, L_g, L_h, sigma)  # checks; A_mu and B_mu finite floats
    with _exact() as D:
        e, m, s2, rt_h = D(eps), D(mu), D(sigma) ** 2, D(L_h).sqrt()
        m4 = m.sqrt().sqrt()  # mu^(1/4)
        A = D(L_g) / (m * e) + rt_h / (m4**3 * e.sqrt())
        B = s2 / (m * e**2) + s2 * rt_h / (m * m4**3 * e**2 * e.sqrt())
        return BatchSizes(max(_ceil_exact(B / A), 1), max(_ceil_exact(s2 / (m * e**2)), 1))


@checks.finite_outputs
def global_momentum(M: int, eps: float, mu: float, sigma: float) -> float:
    """eta of Theorem A.1: min{M mu eps^2 / (64 sigma^2), 1/2}.

    Notes
    -----
    .. math:: \\eta = \\min\\Big\\{\\frac{M\\mu\\varepsilon^2}{64\\sigma^2}, \\frac12\\Big\\}

    Paper: Theorem A.1.
    """
    M = checks.count("M", M)
    eps = checks.positive("eps", eps)
    mu = checks.positive("mu", mu)
    sigma = checks.positive("sigma", sigma)
    return min(M * mu * eps**2 / (64 * sigma**2), 0.5)


@checks.finite_outputs
def global_step_size(eps: float, eta: float, mu: float, L_g: float, L_h: float, sigma: float,
                     M_init: int) -> float:
    """alpha of Theorem A.1.

    Notes
    -----
    .. math:: \\alpha = \\min\\Big\\{\\frac{\\sqrt{\\mu\\varepsilon}}{8L_g},
              \\frac{\\eta\\mu^{1/4}\\sqrt{\\varepsilon}}{4\\sqrt{L_h}}, \\frac{1}{\\sqrt{2\\mu}},
              \\frac{\\varepsilon\\eta\\sqrt{M_{\\mathrm{init}}}}{8\\sigma}\\Big\\}

    Paper: Theorem A.1.
    """
    eps = checks.positive("eps", eps)
    eta = checks.open_unit("eta", eta)
    mu = checks.positive("mu", mu)
    L_g = checks.positive("L_g", L_g)
    L_h = checks.positive("L_h", L_h)
    sigma = checks.positive("sigma", sigma)
    M_init = checks.count("M_init", M_init)
    return min(
        math.sqrt(mu * eps) / (8 * L_g),
        eta * mu**0.25 * math.sqrt(eps) / (4 * math.sqrt(L_h)),
        1 / math.sqrt(2 * mu),
        eps * eta * math.sqrt(M_init) / (8 * sigma),
    )


@checks.finite_outputs
def global_horizon(eps: float, eta: float, alpha: float, mu: float, D_g: float, D_h: float,
                   gamma: float) -> int:
    """H of Theorem A.1, rounded up (see :func:`horizon`).

    Notes
    -----
    .. math:: H = \\max\\Big\\{\\Big\\lceil\\log_\\gamma\\frac{\\sqrt{\\mu\\varepsilon}\\,\\eta}
              {64\\max\\{D_g, \\alpha D_h\\}}\\Big\\rceil, 1\\Big\\}

    Paper: Theorem A.1.
    """
    mu = checks.positive("mu", mu)
    eps = checks.positive("eps", eps)
    return horizon(math.sqrt(mu * eps), eta, alpha, D_g, D_h, gamma)


@checks.finite_outputs
def global_iterations_bound(eps: float, mu: float, L_g: float, L_h: float,
                            Delta: float) -> float:
    """T of Theorem A.1 with O-constant 1; the log factor is max{ln(Delta/eps), 1}.

    Notes
    -----
    .. math:: T = \\Big(\\frac{L_g}{\\mu\\varepsilon}
              + \\frac{\\sqrt{L_h}}{\\mu^{3/4}\\sqrt{\\varepsilon}}\\Big)
              \\max\\Big\\{\\log\\frac{\\Delta}{\\varepsilon}, 1\\Big\\}

    Paper: Theorem A.1 (the max with 1 keeps T positive when Delta <= e eps).
    """
    A, _ = global_time_terms(eps, mu, L_g, L_h, 1.0)
    Delta = checks.positive("Delta", Delta)
    return A * max(math.log(Delta / float(eps)), 1.0)


@checks.finite_outputs
def global_explicit_iterations(eps: float, Delta: float, alpha: float, mu: float) -> int:
    """Smallest T with (1 - alpha sqrt(2 mu))^T Delta <= eps/4 (last display of Thm A.1).

    Derivation. The proof of Theorem A.1 ends with
    E[J* - J(theta_T)] <= (1 - alpha sqrt(2mu))^T Delta + 3eps/4 + sqrt(2) eps'/sqrt(mu),
    so the claim <= eps + sqrt(2) eps'/sqrt(mu) needs (1 - alpha sqrt(2 mu))^T Delta <= eps/4:

    .. math:: T = \\max\\Big\\{\\Big\\lceil \\frac{\\ln(4\\Delta/\\varepsilon)}
              {-\\ln(1 - \\alpha\\sqrt{2\\mu})}\\Big\\rceil, 1\\Big\\}

    (alpha <= 1/sqrt(2 mu) by Theorem A.1; at equality one step suffices.)

    Paper: proof of Theorem A.1, last display (Appendix F).
    """
    eps = checks.positive("eps", eps)
    Delta = checks.positive("Delta", Delta)
    alpha = checks.positive("alpha", alpha)
    mu = checks.positive("mu", mu)
    rate = alpha * math.sqrt(2 * mu)
    if rate > 1 + 1e-12:
        raise ValueError(f"alpha, mu: alpha must be <= 1/sqrt(2 mu) (Theorem A.1), got "
                         f"alpha = {alpha!r}, mu = {mu!r}")
    if rate >= 1 or 4 * Delta <= eps:
        return 1
    return max(math.ceil(math.log(4 * Delta / eps) / -math.log1p(-rate)), 1)


@checks.finite_outputs
def global_parameters(eps: float, mu: float, L_g: float, L_h: float, sigma: float,
                      Delta: float, *, D_g: float | None = None, D_h: float | None = None,
                      gamma: float | None = None) -> NIGTParameters:
    """All parameters of Theorem A.1 (global convergence with gradient domination mu).

    Paper: Theorem A.1.
    """
    M, M_init = global_batch_sizes(eps, mu, L_g, L_h, sigma)
    eta = global_momentum(M, eps, mu, sigma)
    alpha = global_step_size(eps, eta, mu, L_g, L_h, sigma, M_init)
    H = None
    if D_g is not None and D_h is not None and gamma is not None:
        H = global_horizon(eps, eta, alpha, mu, D_g, D_h, gamma)
    T = global_iterations_bound(eps, mu, L_g, L_h, Delta)
    return NIGTParameters(M, M_init, eta, alpha, H, T,
                          global_explicit_iterations(eps, Delta, alpha, mu))


def _horizon(numerator: float, denom_max: float, gamma: float) -> int:
    ratio = numerator / (64 * denom_max)
    if ratio >= 1:
        return 1
    return max(_ceil(math.log(ratio) / math.log(gamma)), 1)


#: Longest horizon :func:`horizon_from_policy` scans for (its arrays have H entries).
MAX_HORIZON = 2**24
#: Round-off allowance of :func:`_ceil`, in units of float spacing at x (ulps).
CEIL_ULPS = 4


def _ceil(x: float) -> int:
    """ceil(x), except that x at most :data:`CEIL_ULPS` ulps above an integer r gives r.

    B/A and sigma^2/eps^2 are computed in floats with a few roundings each, so an exact
    integer such as 3 can come out as 3.0000000000000004 (one ulp above); its ceiling must
    stay 3. The allowance is counted in ulps of x (``math.ulp``), not relative to |x|: a
    relative 1e-13 is >= 0.5 above x = 5e12 and would round to nearest instead of up
    (M one below the paper's ceiling from about 1e10 on). Above 2^52 every float is an
    integer and is returned as is.
    """
    r = math.floor(x)
    if x == r:
        return int(r)
    if x - r <= CEIL_ULPS * math.ulp(x):
        return int(r)
    return int(r) + 1


#: Digits of the decimal arithmetic of the batch sizes.
EXACT_DIGITS = 80
#: Cap of :func:`_ceil_exact`'s allowance: a real fractional part above it is rounded up,
#: however large the batch.
CEIL_ABS = 0.01


@contextlib.contextmanager
def _exact():
    """Decimal arithmetic with :data:`EXACT_DIGITS` digits: yields float -> Decimal (exact:
    every float is a binary fraction) for computing batch sizes.

    In floats, sigma^2/eps^2 carries ~1.5 ulps of rounding: above 2^52 it can no longer be
    rounded up reliably (M_init = 3259905037662042 where the exact value is ...042.886).
    With 80 digits the only inexact steps are the square roots (sqrt(L_h), sqrt(eps),
    mu^(1/4)), each correctly rounded to 80 digits.
    """
    with decimal.localcontext() as ctx:
        ctx.prec = EXACT_DIGITS
        ctx.traps[decimal.FloatOperation] = False
        yield decimal.Decimal


def _ceil_exact(x: decimal.Decimal) -> int:
    """ceil(x) of a value computed exactly (:func:`_exact`) from float inputs, except that
    x at most min(:data:`CEIL_ULPS` ulps of x, :data:`CEIL_ABS`) above an integer r gives r.

    The inputs are floats, some computed upstream in floats (Proposition 2.3's sigma from
    gamma = 0.9, where 1 - gamma is not exactly 0.1): a few ulps of error must not push a
    batch that is an integer in exact arithmetic up by one (sigma^2 = 1000 + 1 ulp with
    eps = 0.1 is M_init = 100000, not 100001). The allowance never exceeds 0.01: above
    2^51, where 4 ulps are 2 or more, a real fractional part is still rounded up
    (...042.886 gives ...043).
    """
    r = int(x.to_integral_value(rounding=decimal.ROUND_FLOOR))
    slack = min(CEIL_ULPS * math.ulp(float(x)), CEIL_ABS)
    return r if x - r <= decimal.Decimal(slack) else r + 1


def validated_constants(eps: float, L_g: float, L_h: float, sigma: float,
                        Delta: float) -> tuple[float, float, float, float, float]:
    """(eps, L_g, L_h, sigma, Delta) as floats, each checked > 0 and finite (in that order)."""
    return (
        checks.positive("eps", eps),
        checks.positive("L_g", L_g),
        checks.positive("L_h", L_h),
        checks.positive("sigma", sigma),
        checks.positive("Delta", Delta),
    )
