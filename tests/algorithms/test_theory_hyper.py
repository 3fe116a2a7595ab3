"""Value iteration and theory-derived hyperparameters against independent values."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from algorithms.methods.registry import get
from algorithms.methods.theory_hyper import optimal_q, optimal_value, theory_hyperparameters
from algorithms.tabular import TabularMDP, TabularOracle, garnet
from theory.constants import proposition_2_3


def test_optimal_value_bandit_by_hand():
    # One state, rewards (1, 2), gamma 0.9: always take action 1, J* = 2 / (1 - 0.9) = 20.
    mdp = TabularMDP(np.ones((1, 2, 1)), np.array([[1.0, 2.0]]), np.ones(1), 0.9)
    assert optimal_value(mdp) == pytest.approx(20.0, abs=1e-9)
    assert optimal_q(mdp).argmax(axis=1).tolist() == [1]


def test_optimal_value_equals_best_deterministic_policy_by_enumeration():
    mdp = garnet(S=4, A=3, gamma=0.85, seed=3)
    best = -np.inf
    for pi in itertools.product(range(mdp.A), repeat=mdp.S):  # all 81 policies
        P_pi = mdp.P[np.arange(mdp.S), pi]
        r_pi = mdp.r[np.arange(mdp.S), pi]
        V = np.linalg.solve(np.eye(mdp.S) - mdp.gamma * P_pi, r_pi)
        best = max(best, float(mdp.rho @ V))
    assert optimal_value(mdp) == pytest.approx(best, abs=1e-9)


def test_theory_hyperparameters_are_labelled_and_pg_uses_one_over_L_g():
    mdp = garnet(S=4, A=2, gamma=0.8, seed=0)
    oracle = TabularOracle(mdp, 10)
    theta0 = np.zeros(oracle.dim)
    values, sources, info = theory_hyperparameters(get("rennala_nigt"), oracle, 0.5, theta0)
    assert set(values) == {"eta", "alpha", "M", "M_init"}
    assert all(src.startswith("theory:") for src in sources.values())
    assert info["Delta"] == pytest.approx(optimal_value(mdp) - mdp.J(theta0))
    pg, src, _ = theory_hyperparameters(get("vanilla_pg"), oracle, 0.5, theta0)
    L_g = proposition_2_3(mdp.r_max, mdp.M_g, mdp.M_h, mdp.l_2, mdp.gamma, 10).L_g
    # Prop 2.3-(1) by hand: L_g = r_max (M_g^2 + M_h) / (1 - gamma)^2 = r_max * 2.5 / 0.04
    assert L_g == pytest.approx(mdp.r_max * (2 + 0.5) / 0.2**2)
    assert pg == {"alpha": pytest.approx(1 / L_g)} and src["alpha"].startswith("theory: 1/L_g")


def test_value_iteration_that_does_not_converge_says_so():
    mdp = garnet(S=4, A=3, gamma=0.99, seed=1)
    with pytest.raises(ValueError, match="max_iter"):
        optimal_q(mdp, max_iter=3)
