"""Problem constants of Proposition 2.3 from the policy and reward bounds.

Paper: Proposition 2.3 (Assumptions 2.1 and 2.2); Proposition 2.4 (same constants in the
heterogeneous setting).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from theory import checks


class ProblemConstants(NamedTuple):
    """The constants of Proposition 2.3.

    L_g:    Lipschitz constant of grad J                         (Prop. 2.3-(1))
    L_h:    Lipschitz constant of the Hessian of J               (Prop. 2.3-(2))
    D_g:    truncation constant, ||grad J_H - grad J|| <= D_g gamma^H   (Prop. 2.3-(3))
    D_h:    truncation constant of the Hessians                  (Prop. 2.3-(3))
    sigma2: variance bound of g_H, E||g_H - grad J_H||^2 <= sigma2 (Prop. 2.3-(4))
    sigma:  sqrt(sigma2), the symbol the theorems use
    """

    L_g: float
    L_h: float
    D_g: float
    D_h: float
    sigma2: float
    sigma: float


@checks.finite_outputs
def lipschitz_gradient(r_max: float, M_g: float, M_h: float, gamma: float) -> float:
    """L_g of Proposition 2.3-(1).

    Notes
    -----
    .. math:: L_g = \\frac{r_{\\max}(M_g^2 + M_h)}{(1-\\gamma)^2}

    Paper: Proposition 2.3-(1).
    """
    r_max, M_g, M_h, gamma = _validate(r_max, M_g, M_h, gamma)
    return r_max * (M_g**2 + M_h) / (1 - gamma) ** 2


@checks.finite_outputs
def lipschitz_hessian(r_max: float, M_g: float, M_h: float, l_2: float, gamma: float) -> float:
    """L_h of Proposition 2.3-(2).

    Notes
    -----
    .. math:: L_h = \\frac{r_{\\max} M_g M_h}{(1-\\gamma)^2}
              + \\frac{r_{\\max} M_g^3 (1+\\gamma)}{(1-\\gamma)^3}
              + \\frac{r_{\\max} M_g}{1-\\gamma}\\max\\Big\\{M_h, \\frac{\\gamma M_g^2}{1-\\gamma},
              \\frac{l_2}{M_g}, \\frac{M_h\\gamma}{1-\\gamma},
              \\frac{M_g(1+\\gamma) + M_h\\gamma(1-\\gamma)}{1-\\gamma^2}\\Big\\}

    Paper: Proposition 2.3-(2).
    """
    r_max, M_g, M_h, gamma = _validate(r_max, M_g, M_h, gamma)
    l_2 = checks.positive("l_2", l_2)
    g = gamma
    inner = max(
        M_h,
        g * M_g**2 / (1 - g),
        l_2 / M_g,
        M_h * g / (1 - g),
        (M_g * (1 + g) + M_h * g * (1 - g)) / (1 - g**2),
    )
    return (
        r_max * M_g * M_h / (1 - g) ** 2
        + r_max * M_g**3 * (1 + g) / (1 - g) ** 3
        + r_max * M_g / (1 - g) * inner
    )


@checks.finite_outputs
def truncation_constants(r_max: float, M_g: float, M_h: float, gamma: float,
                         H: float) -> tuple[float, float]:
    """(D_g, D_h) of Proposition 2.3-(3) for trajectory length H.

    Notes
    -----
    .. math:: D_g = \\frac{M_g r_{\\max}}{1-\\gamma}\\sqrt{\\frac{1}{1-\\gamma} + H}, \\qquad
              D_h = \\frac{(M_h + M_g^2) r_{\\max}}{1-\\gamma}\\Big(\\frac{1}{1-\\gamma} + H\\Big)

    Paper: Proposition 2.3-(3).
    """
    r_max, M_g, M_h, gamma = _validate(r_max, M_g, M_h, gamma)
    D_g, D_h = _truncation(r_max, M_g, M_h, gamma, checks.positive("H", H))
    return float(D_g), float(D_h)


def _truncation(r_max, M_g, M_h, gamma, H):
    """Proposition 2.3-(3) without validation; ``H`` may be an array (the horizon solver
    of :mod:`theory.parameters` evaluates it for many H at once)."""
    base = 1 / (1 - gamma) + H
    return M_g * r_max / (1 - gamma) * np.sqrt(base), (M_h + M_g**2) * r_max / (1 - gamma) * base


@checks.finite_outputs
def variance_bound(r_max: float, M_g: float, gamma: float) -> float:
    """sigma^2 of Proposition 2.3-(4).

    Notes
    -----
    .. math:: \\sigma^2 = \\frac{r_{\\max}^2 M_g^2}{(1-\\gamma)^3}

    Paper: Proposition 2.3-(4).
    """
    r_max = checks.positive("r_max", r_max)
    M_g = checks.positive("M_g", M_g)
    gamma = checks.open_unit("gamma", gamma)
    return r_max**2 * M_g**2 / (1 - gamma) ** 3


@checks.finite_outputs
def proposition_2_3(r_max: float, M_g: float, M_h: float, l_2: float, gamma: float,
                    H: float) -> ProblemConstants:
    """All constants of Proposition 2.3 (also valid for Proposition 2.4, heterogeneous).

    Parameters
    ----------
    r_max: reward bound |r| <= r_max (> 0).
    M_g, M_h: bounds on ||grad log pi|| and ||Hess log pi|| (Assumption 2.1, > 0).
    l_2: Lipschitz constant of Hess log pi (Assumption 2.2, > 0).
    gamma: discount factor in (0, 1).
    H: trajectory length (> 0); only D_g and D_h depend on it.

    Paper: Proposition 2.3-(1)-(4).
    """
    L_g = lipschitz_gradient(r_max, M_g, M_h, gamma)
    L_h = lipschitz_hessian(r_max, M_g, M_h, l_2, gamma)
    D_g, D_h = truncation_constants(r_max, M_g, M_h, gamma, H)
    s2 = variance_bound(r_max, M_g, gamma)
    return ProblemConstants(L_g, L_h, D_g, D_h, s2, math.sqrt(s2))


def _validate(r_max: float, M_g: float, M_h: float, gamma: float) -> tuple[float, ...]:
    return (
        checks.positive("r_max", r_max),
        checks.positive("M_g", M_g),
        checks.positive("M_h", M_h),
        checks.open_unit("gamma", gamma),
    )
