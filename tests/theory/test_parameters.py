"""Theorem 4.1/4.2/A.1 parameter choices against hand-worked values and their proofs."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory.constants import truncation_constants
from theory.parameters import (
    batch_sizes,
    explicit_iterations,
    global_batch_sizes,
    global_explicit_iterations,
    global_horizon,
    global_iterations_bound,
    global_momentum,
    global_parameters,
    global_step_size,
    global_time_terms,
    horizon,
    horizon_from_policy,
    iterations_bound,
    momentum,
    nigt_parameters,
    step_size,
    time_terms,
)

# eps = 0.01, L_g = L_h = sigma = Delta = 1 worked by hand:
# A = 1e4 + 1e3 = 11000, B = 1e4 + 1e7 = 10010000, M = ceil(910.0) = 910, M_init = 1e4,
# eta = 910e-4/64 = 0.001421875, alpha = min(0.00125, eta*0.1/4) = 3.5546875e-5,
# T = 11000 + 1/(100*0.01) + 1/(910*100*1e-6) + 1e7/910 = 11000 + 1 + 10.989.. + 10989.01..


def test_hand_values_unit_constants():
    A, B = time_terms(0.01, 1, 1, 1, 1)
    assert A == pytest.approx(11000.0)
    assert B == pytest.approx(10010000.0)
    assert batch_sizes(0.01, 1, 1, 1, 1) == (910, 10000)
    eta = momentum(910, 0.01, 1.0)
    assert eta == pytest.approx(0.001421875)
    alpha = step_size(0.01, eta, 1.0, 1.0)
    assert alpha == pytest.approx(3.5546875e-5)
    it = iterations_bound(0.01, 1, 1, 1, 1, 910, 10000)
    assert it.smooth == pytest.approx(1e4)
    assert it.hessian == pytest.approx(1e3)
    assert it.init_noise == pytest.approx(1.0)
    assert it.noise == pytest.approx(1 / 0.091)
    assert it.hessian_noise == pytest.approx(1e7 / 910)
    assert it.T == pytest.approx(11000 + 1 + 1 / 0.091 + 1e7 / 910)


def test_hand_values_general_constants():
    # eps = 0.25, L_g = 2, L_h = 4, sigma = 3, Delta = 5:
    # A = 2*5*16 + 2*5*8 = 160 + 80 = 240 ; B = 9*16 + 9*2*5*128 = 144 + 11520 = 11664
    # M = ceil(11664/240 = 48.6) = 49 ; M_init = ceil(9*16) = 144
    A, B = time_terms(0.25, 2, 4, 3, 5)
    assert (A, B) == (pytest.approx(240.0), pytest.approx(11664.0))
    assert batch_sizes(0.25, 2, 4, 3, 5) == (49, 144)
    # eta = min(49/16/(64*9), 1/2) = 49/9216
    assert momentum(49, 0.25, 3) == pytest.approx(49 / 9216)
    # eta capped at 1/2 for a large M
    assert momentum(10**9, 0.25, 3) == 0.5
    # alpha = min(0.25/16, 0.5*0.5/(4*2)) = min(0.015625, 0.03125)
    assert step_size(0.25, 0.5, 2, 4) == pytest.approx(0.015625)


def test_batch_size_floor_of_one():
    # Tiny noise: both ceilings are below one, the max with 1 applies.
    assert batch_sizes(0.5, 100.0, 1.0, 1e-6, 1.0) == (1, 1)


def test_horizon_hand_value():
    # eps eta / (64 max{D_g, alpha D_h}) = 0.1*0.5/64 = 1/1280; log_{1/2}(1/1280) = 10.32
    assert horizon(0.1, 0.5, 1.0, 1.0, 1.0, 0.5) == 11
    # alpha D_h dominates: 0.05/(64*3) -> log2(3840) = 11.9 -> 12
    assert horizon(0.1, 0.5, 3.0, 1.0, 1.0, 0.5) == 12
    # ratio >= 1 -> H = 1
    assert horizon(1.0, 0.5, 1e-3, 1e-4, 1e-4, 0.5) == 1


@given(st.floats(0.05, 0.99), st.floats(1e-3, 1.0), st.floats(1e-4, 0.49),
       st.floats(1e-6, 1e-1))
def test_horizon_from_policy_is_smallest_fixed_point(gamma, eps, eta, alpha):
    H = horizon_from_policy(eps, eta, alpha, 1.0, 1.0, 1.0, gamma)

    def ok(k):
        D_g, D_h = truncation_constants(1.0, 1.0, 1.0, gamma, k)
        return gamma**k * 64 * max(D_g, alpha * D_h) <= eps * eta * (1 + 1e-12)

    assert ok(H)
    assert all(not ok(k) for k in range(max(1, H - 50), H))


@given(st.floats(1e-3, 1.0), st.floats(1e-3, 10), st.floats(1e-8, 1.0), st.floats(1e-4, 0.5),
       st.floats(1e-2, 10), st.integers(1, 10**6))
def test_explicit_iterations_is_smallest_T(eps, Delta, alpha, eta, sigma, M_init):
    T = explicit_iterations(eps, Delta, alpha, eta, sigma, M_init)

    def rest(t):  # the two terms the proof of Theorem 4.1 leaves after choosing H, alpha, eta
        return Delta / (alpha * t) + 2 * sigma / math.sqrt(M_init * t * eta)

    assert rest(T) <= eps / 4 * (1 + 1e-9)
    if T > 1:
        assert rest(T - 1) > eps / 4 * (1 - 1e-9)
    # the even split eps/8 + eps/8 is sufficient, so the smallest T is never larger
    even = max(8 * Delta / (alpha * eps), 256 * sigma**2 / (M_init * eta * eps**2))
    assert T <= math.ceil(even * (1 + 1e-12))


def test_nigt_parameters_assembles_the_pieces():
    p = nigt_parameters(0.01, 1, 1, 1, 1, D_g=1.0, D_h=1.0, gamma=0.99)
    assert (p.M, p.M_init) == (910, 10000)
    assert p.eta == pytest.approx(0.001421875)
    assert p.H == horizon(0.01, p.eta, p.alpha, 1.0, 1.0, 0.99)
    assert p.T_explicit == explicit_iterations(0.01, 1, p.alpha, p.eta, 1, 10000)
    assert nigt_parameters(0.01, 1, 1, 1, 1).H is None


def test_global_hand_values():
    # mu = 1, eps = 0.01, constants 1: A_mu = 100 + 10, B_mu = 1e4 + 1e5, M = 1000, M_init = 1e4
    A, B = global_time_terms(0.01, 1.0, 1, 1, 1)
    assert (A, B) == (pytest.approx(110.0), pytest.approx(110000.0))
    assert global_batch_sizes(0.01, 1.0, 1, 1, 1) == (1000, 10000)
    eta = global_momentum(1000, 0.01, 1.0, 1.0)
    assert eta == pytest.approx(0.0015625)
    # alpha = min(0.1/8, eta*0.1/4, 1/sqrt 2, 0.01*eta*100/8) = eta/40
    assert global_step_size(0.01, eta, 1.0, 1, 1, 1, 10000) == pytest.approx(eta / 40)
    assert global_iterations_bound(0.01, 1.0, 1, 1, 1.0) == pytest.approx(110 * math.log(100))
    # mu = 0.25 scales: A_mu = 4/0.01*... check against direct formula
    A, B = global_time_terms(0.04, 0.25, 2, 9, 3)
    assert A == pytest.approx(2 / (0.25 * 0.04) + 3 / (0.25**0.75 * 0.2))
    assert B == pytest.approx(9 / (0.25 * 0.0016) + 9 * 3 / (0.25**1.75 * 0.04**2.5))


@given(st.floats(1e-3, 1.0), st.floats(1e-3, 100), st.floats(1e-6, 0.7), st.floats(1e-3, 1.0))
def test_global_explicit_iterations_is_smallest_T(eps, Delta, alpha, mu):
    alpha = min(alpha, 1 / math.sqrt(2 * mu))
    T = global_explicit_iterations(eps, Delta, alpha, mu)
    # (1 - r)^T computed as exp(T log1p(-r)): 1 - r itself rounds for tiny r.
    lq = math.log1p(-alpha * math.sqrt(2 * mu))
    assert math.exp(T * lq) * Delta <= eps / 4 * (1 + 1e-9)
    if T > 1:
        assert math.exp((T - 1) * lq) * Delta > eps / 4 * (1 - 1e-9)


def test_global_parameters_assembles_the_pieces():
    p = global_parameters(0.01, 1.0, 1, 1, 1, 1, D_g=1.0, D_h=1.0, gamma=0.9)
    assert (p.M, p.M_init) == (1000, 10000)
    assert p.T == pytest.approx(110 * math.log(100))
    assert p.H == global_horizon(0.01, p.eta, p.alpha, 1.0, 1.0, 1.0, 0.9)


BAD = [
    (time_terms, (0.0, 1, 1, 1, 1), "eps"), (time_terms, (-1, 1, 1, 1, 1), "eps"),
    (time_terms, (0.1, 0, 1, 1, 1), "L_g"), (time_terms, (0.1, 1, float("nan"), 1, 1), "L_h"),
    (time_terms, (0.1, 1, 1, -1, 1), "sigma"), (time_terms, (0.1, 1, 1, 1, 0), "Delta"),
    (momentum, (0, 0.1, 1), "M"), (momentum, (1.5, 0.1, 1), "M"),
    (step_size, (0.1, 1.0, 1, 1), "eta"), (step_size, (0.1, 0.0, 1, 1), "eta"),
    (horizon, (0.1, 0.5, 1, 1, 1, 1.0), "gamma"), (horizon, (0.1, 0.5, 0, 1, 1, 0.5), "alpha"),
    (horizon, (0.1, 0.5, 1, -1, 1, 0.5), "D_g"), (horizon, (0.1, 0.5, 1, 1, 0, 0.5), "D_h"),
    (iterations_bound, (0.1, 1, 1, 1, 1, 1, 0), "M_init"),
    (explicit_iterations, (0.1, 1, 1, 0.5, 1, 0), "M_init"),
    (global_time_terms, (0.1, 0.0, 1, 1, 1), "mu"),
    (global_explicit_iterations, (0.1, 1.0, 10.0, 1.0), "alpha"),
    (horizon_from_policy, (0.1, 0.5, 0.1, 1, 1, 1, 1.2), "gamma"),
    (horizon_from_policy, (0.1, 0.5, 0.1, -1, 1, 1, 0.5), "r_max"),
]


@pytest.mark.parametrize("fn, args, name", BAD)
def test_bad_input_names_parameter(fn, args, name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        fn(*args)


# ---------------------------------------------------------------- exact batch sizes (#18)
_POS = st.floats(1e-6, 1e3, allow_nan=False, allow_infinity=False)


@given(eps=st.floats(1e-7, 0.5), mu=_POS, L_g=_POS, L_h=_POS, sigma=_POS, Delta=_POS)
@settings(max_examples=60, deadline=None)
def test_batch_sizes_are_the_exact_ceilings(eps, mu, L_g, L_h, sigma, Delta):
    """M and M_init equal sympy's exact ceilings of the rational inputs (the floats as
    given), however large: no rounding to nearest above 2^52 (Theorem 4.2, Theorem A.1)."""
    import sympy as sp

    from theory.parameters import CEIL_ULPS, batch_sizes, global_batch_sizes

    def ceil(v):  # the exact ceiling, with _ceil_exact's allowance for float inputs
        r = sp.floor(v)
        slack = min(CEIL_ULPS * math.ulp(float(v)), 0.01)
        return int(r) if v - r <= sp.Rational(slack) else int(r) + 1

    e, m, g, h, s, D = (sp.Rational(x) for x in (eps, mu, L_g, L_h, sigma, Delta))
    A = g * D / e**2 + sp.sqrt(h) * D / e**sp.Rational(3, 2)
    B = s**2 / e**2 + s**2 * sp.sqrt(h) * D / e**sp.Rational(7, 2)
    local = batch_sizes(eps, L_g, L_h, sigma, Delta)
    assert local.M_init == max(ceil(s**2 / e**2), 1)
    assert local.M == max(ceil(B / A), 1)
    A_mu = g / (m * e) + sp.sqrt(h) / (m**sp.Rational(3, 4) * sp.sqrt(e))
    B_mu = s**2 / (m * e**2) + s**2 * sp.sqrt(h) / (m**sp.Rational(7, 4) * e**sp.Rational(5, 2))
    glob = global_batch_sizes(eps, mu, L_g, L_h, sigma)
    assert glob.M_init == max(ceil(s**2 / (m * e**2)), 1)
    assert glob.M == max(ceil(B_mu / A_mu), 1)


def test_batch_size_of_the_issue_example_is_rounded_up():
    """sigma^2/(mu eps^2) = 3259905037662042.886...: the float route gave ...042."""
    from theory.parameters import global_batch_sizes

    b = global_batch_sizes(3.7727951655428815e-06, 0.16412978311844426, 0.7155897748089074,
                           541.7326490303859, 87.26887938705084)
    assert b.M_init == 3259905037662043


def test_exact_integers_stay_integers():
    """sigma^2/eps^2 = 4 exactly (and B/A an integer) is not pushed up by rounding, nor is
    an integer that upstream float arithmetic put one ulp above (sigma^2 = 1000 + 1 ulp)."""
    from theory.parameters import batch_sizes

    sigma = math.sqrt(1000.0000000000001)
    assert batch_sizes(0.1, 1.0, 1.0, sigma, 1.0).M_init == 100000
    assert batch_sizes(0.5, 1.0, 4.0, 1.0, 1.0).M_init == 4
    # eps = 1/4: A = 16 + 2*8 = 32, B = 16 + 2*128 = 272: B/A = 8.5 -> 9
    assert batch_sizes(0.25, 1.0, 4.0, 1.0, 1.0).M == 9
