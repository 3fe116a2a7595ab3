"""theory.parameters._ceil: round-off allowance in ulps, so M and M_init are the paper's
ceilings also above 1e10 (issue 12, item 12)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import sympy as sp

from theory.parameters import CEIL_ULPS, _ceil, batch_sizes


def test_issue_example_M_init_is_the_ceiling():
    """sigma^2/eps^2 = 6192781856501.19...: the old relative 1e-13 tolerance (>= 0.5 here)
    rounded to nearest and gave ...501."""
    args = (1.7418470724336045e-05, 776.9948602108205, 0.015083279200072389,
            43.34638798616254, 0.21686382504932702)
    eps, sigma = Fraction(args[0]), Fraction(args[3])
    exact = sigma**2 / eps**2
    assert math.floor(exact) == 6192781856501
    assert batch_sizes(*args).M_init == math.ceil(exact) == 6192781856502


def test_round_off_above_an_integer_is_absorbed_in_ulps():
    assert _ceil(3.0000000000000004) == 3          # one ulp above 3
    assert _ceil(3.0 + 5 * math.ulp(3.0)) == 4     # beyond CEIL_ULPS = 4 ulps
    assert _ceil(2.9999999999999996) == 3
    assert _ceil(6192781856501.19) == 6192781856502
    assert _ceil(2.0**60 + 2**8) == 2**60 + 2**8   # floats this large are integers
    assert _ceil(0.0) == 0 and _ceil(-1.5) == -1


def _exact_terms(eps, L_g, L_h, sigma, Delta):
    """B/A and sigma^2/eps^2 in exact arithmetic on the float inputs (sympy, 60 digits
    for the square roots)."""
    e, Lg, Lh, s, D = (sp.Rational(Fraction(x)) for x in (eps, L_g, L_h, sigma, Delta))
    A = Lg * D / e**2 + sp.sqrt(Lh) * D / e**sp.Rational(3, 2)
    B = s**2 / e**2 + s**2 * sp.sqrt(Lh) * D / e**sp.Rational(7, 2)
    return sp.N(B / A, 60), s**2 / e**2


def test_random_cases_match_exact_arithmetic():
    """M and M_init equal ceil of the exact values, except within CEIL_ULPS (+ the float
    evaluation's own error, a few ulps) of an integer, where the allowance takes the
    integer: those near ties are counted and checked separately."""
    rng = np.random.default_rng(12)
    near = 0
    for _ in range(400):
        eps, L_g, L_h, sigma, Delta = 10.0 ** rng.uniform([-5, -2, -2, -1, -2], [-1, 3, 3, 3, 2])
        M, M_init = batch_sizes(eps, L_g, L_h, sigma, Delta)
        ratio, init = _exact_terms(eps, L_g, L_h, sigma, Delta)
        for got, exact in ((M, ratio), (M_init, init)):
            want = max(int(sp.ceiling(exact)), 1)
            x = float(exact)
            if x > 1 and 0 < exact - sp.floor(exact) <= (CEIL_ULPS + 8) * math.ulp(x):
                near += 1
                assert got in (want - 1, want)
            else:
                assert got == want, (eps, L_g, L_h, sigma, Delta, exact)
    # Near ties need the value within ~12 ulps of an integer: rare unless x is huge.
    assert near <= 0.05 * 800
