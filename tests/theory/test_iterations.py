"""Iteration counts of a run: Theorem 4.1/A.1 at any (M, M_init), sync, AFedPG's updates."""

import math

import pytest

from theory.iterations import afedpg_updates, nigt_iterations, sync_iterations
from theory.parameters import global_parameters, nigt_parameters


@pytest.mark.parametrize("eps", [0.3, 0.1, 0.01])
def test_at_the_theorem_batches_it_is_the_theorem_count(eps):
    p = nigt_parameters(eps, 2.0, 3.0, 1.5, 4.0)
    c = nigt_iterations(eps, 2.0, 3.0, 1.5, 4.0, p.M, p.M_init)
    assert c.T == math.ceil(p.T) and c.T_explicit == p.T_explicit
    g = global_parameters(eps, 0.5, 2.0, 3.0, 1.5, 4.0)
    c = nigt_iterations(eps, 2.0, 3.0, 1.5, 4.0, g.M, g.M_init, mu=0.5)
    assert c.T == math.ceil(g.T) and c.T_explicit == g.T_explicit and c.source == "Theorem A.1"


def test_by_hand_with_unit_constants():
    # eps = 1/4, L_g = L_h = sigma = Delta = 1, M = M_init = 1:
    # T = 16 + 8 + 4 + 64 + 128 = 220 (Theorem 4.1's five terms)
    assert nigt_iterations(0.25, 1, 1, 1, 1, 1, 1).T == 220
    # M = 4, M_init = 16: 16 + 8 + 1 + 4 + 32 = 61
    assert nigt_iterations(0.25, 1, 1, 1, 1, 4, 16).T == 61


def test_sync_uses_M_equal_n_b():
    expect = nigt_iterations(0.1, 1, 1, 1, 1, 10, 10)
    got = sync_iterations(5, 2, 0.1, 1, 1, 1, 1)
    assert got == expect._replace(source="Theorem 4.1 with M = M_init = n b = 10")


def test_afedpg_updates_by_hand():
    # n = 10, eps = 0.01: (n/eps)^(7/3) = 1000^(7/3) = 1e7 and eps^(-7/2) = 1e7
    c = afedpg_updates(10, 0.01)
    assert c.T == 20_000_000 and c.T_explicit is None
    # n = 1, eps = 1: 1 + 1
    assert afedpg_updates(1, 1.0).T == 2
    with pytest.raises(ValueError, match="eps"):
        afedpg_updates(10, 0.0)
