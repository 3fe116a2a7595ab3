"""Hyperparameters derived from ``theory`` for a tabular setting (issue: "given or derived").

For the NIGT family the values are Theorem 4.1's eta and alpha with Theorem 4.2's M and
M_init, computed from the constants of Proposition 2.3 for the softmax tabular policy
(M_g, M_h, l_2 from :mod:`algorithms.tabular.mdp`, r_max and gamma from the MDP) and
Delta = J* - J(theta_0), computed exactly by value iteration. For PG methods the step
is 1/L_g (the classical step for an L_g-smooth objective) and M is Theorem 4.2's M.
The theoretical values are conservative by design (worst-case constants); they are
reported with their source so that a user can see which theorem produced them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theory import checks
from theory.constants import proposition_2_3
from theory.parameters import nigt_parameters


def optimal_q(mdp: Any, tol: float = 1e-12, max_iter: int = 100_000) -> np.ndarray:
    r"""Q* by value iteration (the Bellman optimality operator is a gamma-contraction).

    Notes
    -----
    .. math:: Q_{k+1}(s, a) = r(s, a) + \gamma \sum_{s'} P(s'|s, a) \max_b Q_k(s', b)

    Stops when successive V = max_a Q differ by < ``tol`` in sup norm; raises if that
    does not happen within ``max_iter`` iterations.

    Paper: Delta = J* - J(theta_0) of Theorems 4.1-4.2 (Puterman, 2014, for the method).
    """
    V = np.zeros(mdp.S)
    for _ in range(max(int(max_iter), 1)):
        Q = mdp.r + mdp.gamma * mdp.P @ V
        V_new = Q.max(axis=1)
        if np.max(np.abs(V_new - V)) < tol:
            return Q
        V = V_new
    raise ValueError(f"max_iter: value iteration did not reach tol = {tol:g} in {max_iter} steps")


def optimal_value(mdp: Any, tol: float = 1e-12, max_iter: int = 100_000) -> float:
    """J* = rho . max_a Q*(., a)."""
    return float(mdp.rho @ optimal_q(mdp, tol, max_iter).max(axis=1))


def theory_hyperparameters(
    spec: Any, oracle: Any, eps: float, theta0: np.ndarray
) -> tuple[dict[str, float], dict[str, str], dict[str, float]]:
    """(values, sources, constants) for ``spec`` on a tabular oracle at accuracy ``eps``."""
    eps = checks.positive("eps", eps)
    mdps = list(getattr(oracle, "envs", None) or [oracle.mdp])
    mdp = mdps[0]
    r_max = max(m.r_max for m in mdps)
    consts = proposition_2_3(r_max, mdp.M_g, mdp.M_h, mdp.l_2, mdp.gamma, oracle.H)
    J_star = float(np.mean([optimal_value(m) for m in mdps]))
    Delta = max(J_star - float(oracle.J(theta0)), 1e-12)
    p = nigt_parameters(
        eps,
        consts.L_g,
        consts.L_h,
        consts.sigma,
        Delta,
        D_g=consts.D_g,
        D_h=consts.D_h,
        gamma=mdp.gamma,
    )
    available = {
        "eta": (p.eta, "theory: Theorem 4.1 (eta = min{M eps^2/(64 sigma^2), 1/2})"),
        "alpha": (
            p.alpha,
            "theory: Theorem 4.1 (alpha = min{eps/(8 L_g), eta sqrt(eps)/(4 sqrt(L_h))})",
        ),
        "M": (p.M, "theory: Theorem 4.2 (M)"),
        "M_init": (p.M_init, "theory: Theorem 4.2 (M_init = max{ceil(sigma^2/eps^2), 1})"),
    }
    names = {h.name for h in spec.hyper}
    if "eta" not in names and "alpha" in names:  # PG methods: classical 1/L_g step
        available["alpha"] = (1.0 / consts.L_g, "theory: 1/L_g with L_g of Proposition 2.3-(1)")
    values = {k: v for k, (v, _) in available.items() if k in names}
    sources = {k: s for k, (_, s) in available.items() if k in names}
    info = {
        "L_g": consts.L_g,
        "L_h": consts.L_h,
        "sigma": consts.sigma,
        "D_g": consts.D_g,
        "D_h": consts.D_h,
        "Delta": Delta,
        "eps": eps,
        "T": p.T,
        "T_explicit": p.T_explicit,
        "H_theory": p.H if p.H is not None else float("nan"),
    }
    return values, sources, info
