"""Rows of Table 1 (homogeneous) and Table 2 (heterogeneous) in their simplified form.

The tables express every time complexity in eps, n, the per-step times \\dot h_i and the
communication time kappa only: L_g, L_h, sigma, Delta are set to 1, logarithmic factors
are dropped and every O-constant is taken as 1. Here ``h`` always means the tables'
\\dot h_i (time of one environment step of agent i); the theorems' h_i = \\dot h_i H and
their 1/(1-gamma) factor live in :mod:`theory.theorems`.

Paper: Table 1, Table 2, footnotes 2-4; Theorems 4.4, 5.1, G.1.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from theory import checks
from theory.harmonic import harmonic_min_sorted, sorted_prefix

NOTE = "O-constants are taken as 1; logarithmic factors are ignored."

TABLE1_METHODS = ("vanilla_pg", "sync_nigt", "rennala_pg", "afedpg", "rennala_nigt",
                  "lower_bound")
TABLE2_METHODS = ("vanilla_pg", "malenia_pg", "afedpg", "malenia_nigt")
METHODS = ("vanilla_pg", "sync_nigt", "rennala_pg", "afedpg", "rennala_nigt", "malenia_pg",
           "malenia_nigt", "lower_bound")
SETTINGS = ("homogeneous", "heterogeneous")
#: The tables' "AllReduce" column: True / False, None for the lower bound (a dash).
ALLREDUCE = {"vanilla_pg": True, "sync_nigt": True, "rennala_pg": True, "afedpg": False,
             "rennala_nigt": True, "malenia_pg": True, "malenia_nigt": True, "lower_bound": None}
LABELS = {
    "vanilla_pg": "(Synchronized) Vanilla PG",
    "sync_nigt": "(Synchronized) NIGT",
    "rennala_pg": "Rennala PG/SGD",
    "afedpg": "AFedPG",
    "rennala_nigt": "Rennala NIGT",
    "malenia_pg": "Malenia PG/SGD",
    "malenia_nigt": "Malenia NIGT",
    "lower_bound": "Lower bound",
}


class Complexity(NamedTuple):
    """One method's time complexity, split into its terms (a row of a table).

    method:             key among :data:`METHODS`
    computation:        computation term in seconds (None when unsupported)
    communication:      communication term in seconds (None when unsupported)
    total:              computation + communication (None when unsupported)
    supports_allreduce: True / False, None for the lower bound (the table's dash)
    m_star:             number of fastest agents the minimum over m picks (None if no min)
    source:             where the formula comes from in the paper
    supported:          False when the method does not apply (AFedPG in Table 2)
    note:               e.g. "Omega" for Table 1's Synchronized NIGT row, or why unsupported
    """

    method: str
    computation: float | None
    communication: float | None
    total: float | None
    supports_allreduce: bool | None
    m_star: int | None
    source: str
    supported: bool = True
    note: str = ""


class Cluster(NamedTuple):
    """A validated cluster: sorted times and the statistics every row needs.

    h: per-step times sorted ascending; S: prefix sums of 1/h; n; h_max; h_mean;
    h_harmonic = (1/n sum 1/h_i)^{-1}.
    """

    h: np.ndarray
    S: np.ndarray
    n: int
    h_max: float
    h_mean: float
    h_harmonic: float


def cluster(h) -> Cluster:
    """Validate ``h`` (finite, > 0, non-empty) and precompute its sorted statistics.

    One sort for all rows: this is what keeps Table 1 for n = 10^6 near one np.sort.
    """
    if isinstance(h, Cluster):
        return h
    hs, S = sorted_prefix(h, allow_inf=False)
    n = hs.size
    return Cluster(hs, S, n, float(hs[-1]), float(hs.mean()), float(n / S[-1]))


def complexity_row(method: str, computation: float, communication: float, m_star: int | None,
                   source: str, note: str = "") -> Complexity:
    """A supported row: total = computation + communication, AllReduce from :data:`ALLREDUCE`."""
    return Complexity(method, computation, communication, computation + communication,
                      ALLREDUCE[method], m_star, source, True, note)


def _args(h, eps, kappa) -> tuple[Cluster, float, float]:
    return cluster(h), checks.positive("eps", eps), checks.nonnegative("kappa", kappa)


@checks.finite_outputs
def vanilla_pg(h, eps: float, kappa: float = 0.0) -> Complexity:
    """(Synchronized) Vanilla PG, Tables 1 and 2 (the two rows coincide).

    Notes
    -----
    .. math:: \\max_i \\dot h_i\\Big(\\frac{1}{\\varepsilon^2} + \\frac{1}{n\\varepsilon^4}\\Big)
              + \\kappa\\Big(\\frac{1}{\\varepsilon^2} + \\frac{1}{n\\varepsilon^4}\\Big)

    Paper: Table 1 and Table 2, row "(Synchronized) Vanilla PG".
    """
    c, eps, kappa = _args(h, eps, kappa)
    K = 1 / eps**2 + 1 / (c.n * eps**4)
    return complexity_row("vanilla_pg", c.h_max * K, kappa * K, None,
                          "Table 1/2 (Yuan et al. 2022)")


@checks.finite_outputs
def sync_nigt(h, eps: float, kappa: float = 0.0) -> Complexity:
    """(Synchronized) NIGT as Table 1 prints it: an Omega (lower) expression.

    The text after Theorem 4.2 gives the synchronized NIGT time max_i h_i (A + B/n); the
    theorem form (:func:`theory.theorems.sync_nigt_time`) uses that one.

    Notes
    -----
    .. math:: \\Omega\\Big(\\max_i \\dot h_i \\frac{1}{n\\varepsilon^{7/2}}\\Big)
              + \\kappa\\frac{1}{\\varepsilon^{7/2}}

    Paper: Table 1, row "(Synchronized) NIGT" (Fatkhullin et al. 2023).
    """
    c, eps, kappa = _args(h, eps, kappa)
    return complexity_row("sync_nigt", c.h_max / (c.n * eps**3.5), kappa / eps**3.5, None,
                          "Table 1 (Fatkhullin et al. 2023)",
                          "Omega: Table 1 gives a lower expression")


@checks.finite_outputs
def rennala_pg(h, eps: float, kappa: float = 0.0) -> Complexity:
    """Rennala PG/SGD, Table 1.

    Notes
    -----
    .. math:: \\min_{m\\in[n]}\\Big[\\Big(\\frac1m\\sum_{i=1}^m\\frac{1}{\\dot h_i}\\Big)^{-1}
              \\Big(\\frac{1}{\\varepsilon^2} + \\frac{1}{m\\varepsilon^4}\\Big)\\Big]
              + \\kappa\\frac{1}{\\varepsilon^2}

    Paper: Table 1, row "Rennala PG/SGD" (Tyurin & Richtarik 2023).
    """
    c, eps, kappa = _args(h, eps, kappa)
    r = harmonic_min_sorted(c.h, c.S, 1 / eps**2, 1 / eps**4)
    return complexity_row("rennala_pg", r.value, kappa / eps**2, r.m_star,
                          "Table 1 (Tyurin & Richtarik 2023)")


@checks.finite_outputs
def afedpg(h, eps: float, kappa: float = 0.0) -> Complexity:
    """AFedPG, Table 1 (homogeneous only).

    Notes
    -----
    .. math:: \\Big(\\frac1n\\sum_{i=1}^n\\frac{1}{\\dot h_i}\\Big)^{-1}
              \\Big(\\frac{n^{4/3}}{\\varepsilon^{7/3}} + \\frac{1}{n\\varepsilon^{7/2}}\\Big)
              + \\kappa\\frac{1}{\\varepsilon^3}

    Paper: Table 1, row "AFedPG" (Lan et al. 2025); communication: footnote 4.
    """
    c, eps, kappa = _args(h, eps, kappa)
    comp = c.h_harmonic * sum(_afedpg_brackets(c.n, eps))
    return complexity_row("afedpg", comp, kappa / eps**3, None, "Table 1 (Lan et al. 2025)")


@checks.finite_outputs
def afedpg_terms(h, eps: float) -> tuple[float, float]:
    """AFedPG's two computation terms separately (footnote 3 compares them).

    The first dominates iff n^{7/3} > eps^{-7/6}, i.e. n > eps^{-1/2}: for eps = 1e-4 the
    two are equal at n = 100 and the first dominates for every larger n.

    Notes
    -----
    .. math:: T_1 = \\Big(\\frac1n\\sum_i\\frac{1}{\\dot h_i}\\Big)^{-1}
              \\frac{n^{4/3}}{\\varepsilon^{7/3}},\\qquad
              T_2 = \\Big(\\frac1n\\sum_i\\frac{1}{\\dot h_i}\\Big)^{-1}
              \\frac{1}{n\\varepsilon^{7/2}}

    Paper: Table 1 row "AFedPG", footnote 3.
    """
    c, eps, _ = _args(h, eps, 0.0)
    b1, b2 = _afedpg_brackets(c.n, eps)
    return c.h_harmonic * b1, c.h_harmonic * b2


def _afedpg_brackets(n: int, eps: float) -> tuple[float, float]:
    """n^{4/3}/eps^{7/3} and 1/(n eps^{7/2}): the bracket of AFedPG's row, term by term."""
    return n ** (4 / 3) / eps ** (7 / 3), 1 / (n * eps**3.5)


@checks.finite_outputs
def rennala_nigt(h, eps: float, kappa: float = 0.0) -> Complexity:
    """Rennala NIGT, Table 1 (simplified Theorem 4.4).

    Notes
    -----
    .. math:: \\min_{m\\in[n]}\\Big[\\Big(\\frac1m\\sum_{i=1}^m\\frac{1}{\\dot h_i}\\Big)^{-1}
              \\Big(\\frac{1}{\\varepsilon^2} + \\frac{1}{m\\varepsilon^{7/2}}\\Big)\\Big]
              + \\kappa\\frac{1}{\\varepsilon^2}

    Paper: Table 1, row "Rennala NIGT" (Theorem 4.4).
    """
    c, eps, kappa = _args(h, eps, kappa)
    r = harmonic_min_sorted(c.h, c.S, 1 / eps**2, 1 / eps**3.5)
    return complexity_row("rennala_nigt", r.value, kappa / eps**2, r.m_star,
                          "Table 1, Theorem 4.4")


@checks.finite_outputs
def lower_bound(h, eps: float, kappa: float = 0.0) -> Complexity:
    """The lower bound of Table 1 (simplified Theorem G.1).

    Notes
    -----
    .. math:: \\min_{m\\in[n]}\\Big[\\Big(\\frac1m\\sum_{i=1}^m\\frac{1}{\\dot h_i}\\Big)^{-1}
              \\Big(\\frac{1}{\\varepsilon^{3/2}} + \\frac{1}{m\\varepsilon^{7/2}}\\Big)\\Big]
              + \\kappa\\frac{1}{\\varepsilon^{12/7}}

    Paper: Table 1, row "Lower bound" (Theorem G.1). Being a bound for the homogeneous
    class, it is also a lower bound for the (larger) heterogeneous class of Table 2.
    """
    c, eps, kappa = _args(h, eps, kappa)
    r = harmonic_min_sorted(c.h, c.S, 1 / eps**1.5, 1 / eps**3.5)
    return complexity_row("lower_bound", r.value, kappa / eps ** (12 / 7), r.m_star,
                          "Table 1, Theorem G.1", "lower bound (Omega)")


@checks.finite_outputs
def malenia_pg(h, eps: float, kappa: float = 0.0) -> Complexity:
    """Malenia PG/SGD, Table 2.

    Notes
    -----
    .. math:: \\max_i\\dot h_i\\frac{1}{\\varepsilon^2}
              + \\Big(\\frac1n\\sum_{i=1}^n\\dot h_i\\Big)\\frac{1}{n\\varepsilon^4}
              + \\kappa\\frac{1}{\\varepsilon^2}

    Paper: Table 2, row "Malenia PG/SGD" (Tyurin & Richtarik 2023).
    """
    c, eps, kappa = _args(h, eps, kappa)
    comp = c.h_max / eps**2 + c.h_mean / (c.n * eps**4)
    return complexity_row("malenia_pg", comp, kappa / eps**2, None,
                          "Table 2 (Tyurin & Richtarik 2023)")


@checks.finite_outputs
def malenia_nigt(h, eps: float, kappa: float = 0.0) -> Complexity:
    """Malenia NIGT, Table 2 (simplified Theorem 5.1).

    Notes
    -----
    .. math:: \\max_i\\dot h_i\\frac{1}{\\varepsilon^2}
              + \\Big(\\frac1n\\sum_{i=1}^n\\dot h_i\\Big)\\frac{1}{n\\varepsilon^{7/2}}
              + \\kappa\\frac{1}{\\varepsilon^2}

    Paper: Table 2, row "Malenia NIGT" (Theorem 5.1).
    """
    c, eps, kappa = _args(h, eps, kappa)
    comp = c.h_max / eps**2 + c.h_mean / (c.n * eps**3.5)
    return complexity_row("malenia_nigt", comp, kappa / eps**2, None, "Table 2, Theorem 5.1")


def unsupported(method: str, source: str, note: str) -> Complexity:
    """A row for a method that does not apply (numbers are None)."""
    return Complexity(method, None, None, None, None, None, source, False, note)


def afedpg_heterogeneous(h, eps: float, kappa: float = 0.0) -> Complexity:
    """AFedPG in Table 2: "does not support heterogeneous setup".

    Paper: Table 2, row "AFedPG".
    """
    _args(h, eps, kappa)
    return unsupported("afedpg", "Table 2 (Lan et al. 2025)",
                       "does not support the heterogeneous setup")


_TABLE1 = {"vanilla_pg": vanilla_pg, "sync_nigt": sync_nigt, "rennala_pg": rennala_pg,
           "afedpg": afedpg, "rennala_nigt": rennala_nigt, "lower_bound": lower_bound}
_TABLE2 = {"vanilla_pg": vanilla_pg, "malenia_pg": malenia_pg, "afedpg": afedpg_heterogeneous,
           "malenia_nigt": malenia_nigt, "lower_bound": lower_bound}


@checks.finite_outputs
def table1(h, eps: float, kappa: float = 0.0) -> dict[str, Complexity]:
    """Every row of Table 1 (homogeneous setup), keyed by method name.

    Paper: Table 1.
    """
    c, eps, kappa = _args(h, eps, kappa)
    return {name: f(c, eps, kappa) for name, f in _TABLE1.items()}


@checks.finite_outputs
def table2(h, eps: float, kappa: float = 0.0) -> dict[str, Complexity]:
    """Every row of Table 2 (heterogeneous setup), plus Theorem G.1's lower bound.

    AFedPG is present as unsupported. The homogeneous lower bound is added because the
    homogeneous problems are a special case of the heterogeneous ones.

    Paper: Table 2 (and Theorem G.1).
    """
    c, eps, kappa = _args(h, eps, kappa)
    return {name: f(c, eps, kappa) for name, f in _TABLE2.items()}


@checks.finite_outputs
def table(setting: str, h, eps: float, kappa: float = 0.0) -> dict[str, Complexity]:
    """:func:`table1` for ``"homogeneous"``, :func:`table2` for ``"heterogeneous"``."""
    checks.choice("setting", setting, SETTINGS)
    return table1(h, eps, kappa) if setting == "homogeneous" else table2(h, eps, kappa)
