"""The public strategies generate valid inputs for the clock, the oracles and the checks."""

import numpy as np
from hypothesis import given

from algorithms.sim.clock import make_clock
from algorithms.tabular.oracle import TabularFamilyOracle
from validation.strategies import (
    clusters,
    computation_times,
    mdp_families,
    small_mdps,
    thetas,
    timing_models,
)


@given(h=computation_times(max_n=9, max_spread=50.0))
def test_computation_times_bounded_spread(h):
    assert 1 <= h.size <= 9 and (h > 0).all() and h.max() / h.min() <= 50.0 * (1 + 1e-12)


@given(cl=clusters(), model=timing_models())
def test_clusters_and_timing_models_build_clocks(cl, model):
    name, opts = model
    clock = make_clock(cl.h, cl.kappa, timing=name, **opts)
    assert clock.n == cl.n and cl.M >= 1 and cl.kappa >= 0


@given(case=small_mdps(max_SA_H=512))
def test_small_mdps_enumerable(case):
    mdp, H = case
    assert (mdp.S * mdp.A) ** H <= 512 and H >= 1


@given(mdps=mdp_families())
def test_families_share_sizes(mdps):
    oracle = TabularFamilyOracle(mdps, 3)
    assert oracle.n_envs == len(mdps) >= 2


@given(theta=thetas(5, scale=2.0))
def test_thetas(theta):
    assert theta.shape == (5,) and np.all(np.abs(theta) <= 2.0)
