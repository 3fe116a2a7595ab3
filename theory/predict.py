"""One call that answers "how long will each method take on my cluster, with which M?".

:func:`predict` combines the tables (:mod:`theory.complexity`), the full-constant
theorems (:mod:`theory.theorems`) and the parameter choices (:mod:`theory.parameters`).
``apga predict`` is a thin wrapper around it.

Paper: Tables 1 and 2; Theorems 4.1, 4.2, 4.4, 5.1, A.1-A.3, G.1; Lemmas C.1, C.2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from theory import checks
from theory.complexity import LABELS, METHODS, NOTE, SETTINGS, Complexity, cluster, table
from theory.constants import lipschitz_gradient, lipschitz_hessian, variance_bound
from theory.harmonic import harmonic_min_sorted
from theory.parameters import (
    NIGTParameters,
    global_parameters,
    horizon_from_policy,
    nigt_parameters,
)
from theory.theorems import theorem_table

FORMS = ("table", "theorem")
KAPPA_RULE = ("kappa = max_i kappa_i in the Table 1/2 and theorem rows (one kappa in the "
              "paper's formulas); the simulated clock uses each kappa_i (kappa_per_agent is in the "
              "given agent order, h sorted ascending)")
H_RULE = ("h_i are seconds per stochastic gradient (h_i = dot h_i H): the theorem form uses "
          "them without the factor 1/(1-gamma)")


@dataclass(frozen=True)
class Constants:
    """Problem constants (defaults: a normalised problem with every constant 1).

    L_g, L_h: smoothness of J (Prop. 2.3-(1),(2)); sigma: gradient noise (Prop. 2.3-(4));
    Delta: initial gap J* - J(theta_0); gamma: discount (theorem form uses 1/(1-gamma));
    D_g, D_h: truncation constants (Prop. 2.3-(3)), optional, needed for H;
    mu: gradient-domination constant of Theorem A.1, optional.
    """

    L_g: float = 1.0
    L_h: float = 1.0
    sigma: float = 1.0
    Delta: float = 1.0
    gamma: float = 0.99
    D_g: float | None = None
    D_h: float | None = None
    mu: float | None = None
    source: str = "given"

    def __post_init__(self) -> None:
        for name in ("L_g", "L_h", "sigma", "Delta"):
            checks.positive(name, getattr(self, name))
        checks.open_unit("gamma", self.gamma)
        for name in ("D_g", "D_h", "mu"):
            if getattr(self, name) is not None:
                checks.positive(name, getattr(self, name))


@checks.finite_outputs
def constants_from_policy(r_max: float, M_g: float, M_h: float, l_2: float, gamma: float,
                          Delta: float = 1.0, mu: float | None = None) -> Constants:
    """Constants from Proposition 2.3's inputs; D_g, D_h are left to the horizon solver.

    Paper: Proposition 2.3.
    """
    L_g = lipschitz_gradient(r_max, M_g, M_h, gamma)
    L_h = lipschitz_hessian(r_max, M_g, M_h, l_2, gamma)
    sigma = math.sqrt(variance_bound(r_max, M_g, gamma))
    return Constants(L_g, L_h, sigma, Delta, gamma, None, None, mu, "Proposition 2.3")


@dataclass(frozen=True)
class Prediction:
    """Result of :func:`predict`: every method's terms, ranking and parameters."""

    form: str
    setting: str
    eps: float
    kappa: float
    h: np.ndarray
    constants: Constants
    methods: dict[str, Complexity]
    parameters: NIGTParameters
    m_star: int | None
    m_star_round: int
    policy: dict | None = field(default=None)
    kappa_per_agent: np.ndarray | None = field(default=None)
    h_per_gradient: bool = False

    @property
    def ranking(self) -> list[str]:
        """Supported methods by total time (lower bound excluded), then unsupported ones."""
        ok = [k for k, v in self.methods.items() if v.supported and k != "lower_bound"]
        ok.sort(key=lambda k: (self.methods[k].total, k))
        return ok + [k for k, v in self.methods.items() if not v.supported]

    def ratio_to_lower_bound(self) -> dict[str, float | None]:
        lb = self.methods.get("lower_bound")
        out: dict[str, float | None] = {}
        for k, v in self.methods.items():
            ok = lb is not None and lb.supported and v.supported and lb.total > 0
            out[k] = v.total / lb.total if ok else None
        return out

    def to_json(self) -> dict:
        """The JSON object of ``apga predict --json``."""
        p = self.parameters
        methods = {}
        for k, v in self.methods.items():
            methods[k] = {
                "computation": v.computation, "communication": v.communication,
                "total": v.total, "status": "ok" if v.supported else "unsupported",
                "supports_allreduce": v.supports_allreduce, "m_star": v.m_star,
                "source": v.source, "note": v.note, "label": LABELS[k],
            }
        c = self.constants
        inputs = {
            "n": int(self.h.size), "eps": self.eps, "kappa": self.kappa,
            "form": self.form, "setting": self.setting,
            "h_summary": {"min": float(self.h.min()), "max": float(self.h.max()),
                          "mean": float(self.h.mean())},
            "constants": {"L_g": c.L_g, "L_h": c.L_h, "sigma": c.sigma, "Delta": c.Delta,
                          "gamma": c.gamma, "D_g": c.D_g, "D_h": c.D_h, "mu": c.mu,
                          "source": c.source},
        }
        if self.h.size <= 1000:
            inputs["h"] = [float(x) for x in self.h]
        if self.kappa_per_agent is not None:
            inputs["kappa_rule"] = KAPPA_RULE
            if self.kappa_per_agent.size <= 1000:
                inputs["kappa_per_agent"] = [float(x) for x in self.kappa_per_agent]
        if self.h_per_gradient:
            inputs["h_rule"] = H_RULE
        if self.policy is not None:
            inputs["policy"] = self.policy
        return {
            "methods": methods,
            "parameters": {"M": p.M, "M_init": p.M_init, "T": p.T, "m_star": self.m_star,
                           "T_explicit": p.T_explicit, "eta": p.eta, "alpha": p.alpha,
                           "H": p.H, "m_star_round": self.m_star_round},
            "ranking": self.ranking,
            "ratio_to_lower_bound": self.ratio_to_lower_bound(),
            "note": NOTE + " Table form: L_g = L_h = sigma = Delta = 1 inside the formulas;"
                    " theorem form: full constants with h_i = dot h_i / (1 - gamma)."
                    " T is Theorem 4.1's O-expression; T_explicit the count with the"
                    " constants of its proof.",
            "inputs": inputs,
        }


@checks.finite_outputs
def predict(h, eps: float = 0.01, kappa=1.0, constants: Constants | None = None, *,
            form: str = "table", setting: str = "homogeneous",
            methods: list[str] | None = None, policy: dict | None = None,
            h_per_gradient: bool = False) -> Prediction:
    """Predict every method's time on cluster ``h`` (per-step times \\dot h_i).

    Parameters
    ----------
    h: per-step times \\dot h_i (> 0, finite); eps: target accuracy; kappa: communication
    time, or per-agent kappa_i (Section H; same order as h): the rows then use
    kappa = max_i kappa_i (:data:`KAPPA_RULE`); constants: problem constants (default all
    1, gamma = 0.99); form: ``table``
    (Tables 1/2) or ``theorem`` (Theorems 4.4, 5.1, G.1, or A.2/A.3 when mu is set);
    setting: ``homogeneous`` (Table 1) or ``heterogeneous`` (Table 2); methods: restrict
    to these names; policy: Proposition 2.3 inputs (r_max, M_g, M_h, l_2), used to solve
    for H when D_g, D_h are not given; h_per_gradient: h holds seconds per stochastic
    gradient h_i = \\dot h_i H (a cluster file), so the theorem form takes the factor
    H = 1 instead of 1/(1-gamma) (:data:`H_RULE`).

    Parameters M, M_init, eta, alpha, H and T come from Theorems 4.1/4.2 (or A.1 with mu).
    m_star is the number of fastest agents the minimum over m of the NIGT complexity picks
    (n for Malenia, which waits for every agent); m_star_round is Lemma C.1's m* for one
    round with batch M.
    """
    c = cluster(h)
    eps = checks.positive("eps", eps)
    kappa_i = None
    if np.ndim(kappa) == 0:
        kappa = checks.nonnegative("kappa", kappa)
    else:
        kappa_i = checks.times("kappa", kappa, allow_zero=True)
        if kappa_i.size > 1:
            checks.same_length(("kappa", "h"), kappa_i, c.h)
        kappa = float(kappa_i.max())
        kappa_i = kappa_i if kappa_i.size > 1 else None
    checks.choice("form", form, FORMS)
    checks.choice("setting", setting, SETTINGS)
    k = constants if constants is not None else Constants()
    if methods is not None:
        if not methods:
            raise ValueError("methods must not be empty")
        for name in methods:
            checks.choice("methods", name, METHODS)
    if form == "table":
        all_rows = table(setting, c, eps, kappa)
    else:
        all_rows = theorem_table(setting, c, eps, k.L_g, k.L_h, k.sigma, k.Delta, k.gamma,
                                 kappa, mu=k.mu, H=1.0 if h_per_gradient else None)
    rows = all_rows
    if methods is not None:
        missing = [name for name in methods if name not in all_rows]
        if missing:
            raise ValueError(f"methods: {', '.join(missing)} not in the {setting} "
                             f"{form} form; choose among {', '.join(all_rows)}")
        rows = {name: all_rows[name] for name in all_rows if name in methods}
    params = _parameters(eps, k, policy)
    homogeneous = setting == "homogeneous"
    m_star = all_rows["rennala_nigt"].m_star if homogeneous else c.n
    m_round = harmonic_min_sorted(c.h, c.S, 1.0, float(params.M)).m_star if homogeneous else c.n
    return Prediction(form, setting, eps, kappa, c.h, k, rows, params, m_star, m_round, policy,
                      kappa_i, bool(h_per_gradient))


def _parameters(eps: float, k: Constants, policy: dict | None) -> NIGTParameters:
    args = (eps, k.L_g, k.L_h, k.sigma, k.Delta)
    if k.mu is None:
        p = nigt_parameters(*args, D_g=k.D_g, D_h=k.D_h, gamma=k.gamma)
    else:
        p = global_parameters(eps, k.mu, k.L_g, k.L_h, k.sigma, k.Delta, D_g=k.D_g,
                              D_h=k.D_h, gamma=k.gamma)
    if p.H is None and policy is not None:
        H = horizon_from_policy(eps, p.eta, p.alpha, policy["r_max"], policy["M_g"],
                                policy["M_h"], k.gamma, mu=k.mu)
        p = p._replace(H=H)
    return p
