"""Proposition 2.3, straggler, Theorem 4.1 and shape checks."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algorithms.aggregation import plan_rennala
from algorithms.sim.clock import make_clock
from validation.checks.prop23 import check_prop_2_3, hessian_fd, score_norms
from validation.checks.shape import check_time_complexity_shape
from validation.checks.straggler import check_straggler
from validation.checks.theorem41 import check_theorem_4_1, theory_setup
from validation.result import Budget
from validation.strategies import clusters, small_mdps, thetas


def test_score_norms_by_hand():
    # theta_s = (0, 0): p = (1/2, 1/2); ||e_a - p|| = sqrt(1/2); the covariance
    # diag(p) - p p^T has eigenvalues 0 and 1/2.
    g, h = score_norms(np.zeros((1, 2)))
    assert g == pytest.approx(np.sqrt(0.5)) and h == pytest.approx(0.5)


@given(theta=thetas(6, scale=20.0))
def test_score_norms_within_softmax_constants(theta):
    g, h = score_norms(theta.reshape(2, 3))
    assert g <= np.sqrt(2) * (1 + 1e-12) and h <= 0.5 * (1 + 1e-12)


def test_score_norm_matches_finite_differences_of_log_pi():
    rng = np.random.default_rng(0)
    th = rng.normal(size=3)

    def logp(t, a):
        return t[a] - np.log(np.exp(t).sum())

    e = 1e-6
    fd = np.array(
        [
            [
                (logp(th + e * np.eye(3)[j], a) - logp(th - e * np.eye(3)[j], a)) / (2 * e)
                for j in range(3)
            ]
            for a in range(3)
        ]
    )
    g, _ = score_norms(th[None, :])
    assert g == pytest.approx(np.linalg.norm(fd, axis=1).max(), rel=1e-6)


@settings(max_examples=10)
@given(case=small_mdps(max_S=3, max_A=2))
def test_hessian_fd_is_symmetric_and_matches_gradient_changes(case):
    mdp, _ = case
    th = np.random.default_rng(1).normal(size=mdp.S * mdp.A)
    Hs = hessian_fd(mdp, th)
    u = np.random.default_rng(2).normal(size=th.size) * 1e-4
    assert np.allclose(Hs, Hs.T)
    assert np.allclose(mdp.grad_J(th + u) - mdp.grad_J(th), Hs @ u, atol=1e-7)


@given(cl=clusters(max_n=8, max_M=80), slow=st.sampled_from([np.inf, 1e12]))
def test_straggler_leaves_every_rennala_round_unchanged(cl, slow):
    # The clock-level form of the straggler claim, over hypothesis clusters.
    a = make_clock(cl.h, cl.kappa)
    b = make_clock(np.append(cl.h, slow), cl.kappa)
    for _ in range(3):
        ra, rb = plan_rennala(a, cl.M), plan_rennala(b, cl.M)
        assert ra.end == rb.end and ra.t_exit == rb.t_exit
        assert np.array_equal(rb.counts[:-1], ra.counts) and rb.counts[-1] == 0


def test_quick_prop_2_3_and_straggler_pass():
    for check in (check_prop_2_3, check_straggler):
        res = check(Budget())
        assert res.verdict == "pass", res.summary
    # res is the straggler's (not run a second time)
    assert all(c["identical"] for c in res.details["cases"])


def test_theory_setup_matches_theory_functions():
    from algorithms.tabular import garnet
    from theory.parameters import explicit_iterations

    mdp = garnet(S=2, A=2, b=2, gamma=0.1, seed=0)
    s = theory_setup(0.3, mdp, np.zeros(4))
    assert s["T_explicit"] == explicit_iterations(
        0.3, s["Delta"], s["alpha"], s["eta"], s["sigma"], s["M_init"]
    )
    # H is self-consistent: gamma^H <= eps eta / (64 max{D_g(H), alpha D_h(H)}).
    assert 0.1 ** s["H"] <= 0.3 * s["eta"] / (64 * max(s["D_g"], s["alpha"] * s["D_h"]))


@pytest.mark.slow
def test_theorem_4_1_quick_passes():
    res = check_theorem_4_1(Budget())
    assert res.verdict == "pass", res.summary
    assert res.measured["upper_95"] <= res.threshold["eps"]


@pytest.mark.slow
def test_shape_reports_slopes_near_the_theorem():
    res = check_time_complexity_shape(Budget())
    assert res.verdict == "reported"
    assert math.isfinite(res.measured["slope_eps"]) and math.isfinite(res.measured["slope_n"])
    # The measured time falls as eps grows and as agents are added.
    assert res.measured["slope_eps"] < 0 and res.measured["slope_n"] < 0


def test_effective_constants_below_worst_case():
    from algorithms.tabular import garnet
    from theory.constants import proposition_2_3
    from validation.checks.shape import effective_constants

    mdp = garnet(S=2, A=2, b=2, gamma=0.3, seed=0)
    c = effective_constants(mdp, 4, np.random.default_rng(0), pairs=30)
    worst = proposition_2_3(mdp.r_max, mdp.M_g, mdp.M_h, mdp.l_2, mdp.gamma, 4)
    assert 0 < c["L_g"] <= worst.L_g and 0 < c["L_h"] <= worst.L_h
    assert 0 < c["sigma"] <= worst.sigma and c["Delta"] > 0
