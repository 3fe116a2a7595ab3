"""Public hypothesis strategies: clusters, timing models, small MDPs and families.

Tests of every package draw their random inputs from here (like xarray's
``testing.strategies``), so a cluster means the same thing everywhere:

- :func:`computation_times` - h_i > 0 for n agents with a bounded spread max h / min h;
- :func:`clusters` - a :class:`validation.cluster.Cluster` (h, kappa, M);
- :func:`timing_models` / :func:`random_timing_models` - ``(name, options)`` for
  :func:`algorithms.sim.clock.make_clock`;
- :func:`small_mdps`, :func:`mdp_families`, :func:`thetas` - tabular problems small enough
  for exact quantities (and, with ``max_SA_H``, for enumerating every trajectory).

Needs the ``test`` extra (hypothesis); nothing else in ``validation`` imports this module.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from algorithms.tabular import family, garnet
from algorithms.tabular.generators import FAMILY_KINDS
from validation.cluster import Cluster, make_cluster

_FINITE = {"allow_nan": False, "allow_infinity": False}


@st.composite
def computation_times(
    draw,
    min_n: int = 1,
    max_n: int = 12,
    max_spread: float = 1e3,
    min_h: float = 1e-2,
    max_h: float = 1e2,
) -> np.ndarray:
    """h_i for n in [min_n, max_n] agents: a base time times factors in [1, spread].

    The spread max h / min h is at most ``max_spread``; agents are not sorted.
    """
    n = draw(st.integers(min_n, max_n))
    base = draw(st.floats(min_h, max_h, **_FINITE))
    spread = draw(st.floats(1.0, max_spread, **_FINITE))
    factors = draw(st.lists(st.floats(1.0, spread, **_FINITE), min_size=n, max_size=n))
    return base * np.asarray(factors, dtype=float)


@st.composite
def clusters(
    draw, max_n: int = 12, max_spread: float = 1e3, max_M: int = 300, max_kappa: float = 5.0
) -> Cluster:
    """A cluster (h, kappa, M): kappa = 0 or in [0, max_kappa], M in [1, max_M]."""
    h = draw(computation_times(max_n=max_n, max_spread=max_spread))
    kappa = draw(st.one_of(st.just(0.0), st.floats(0.0, max_kappa, **_FINITE)))
    M = draw(st.integers(1, max_M))
    return make_cluster(h, kappa, M)


def random_timing_models() -> st.SearchStrategy[tuple[str, dict[str, float]]]:
    """``(name, options)`` of a random timing model (exponential, lognormal, uniform)."""
    return st.one_of(
        st.just(("exponential", {})),
        st.floats(0.05, 1.5, **_FINITE).map(lambda s: ("lognormal", {"log_sigma": s})),
        st.floats(0.0, 0.95, **_FINITE).map(lambda w: ("uniform", {"jitter": w})),
    )


def timing_models() -> st.SearchStrategy[tuple[str, dict[str, float]]]:
    """``(name, options)`` of any timing model, ``fixed`` included."""
    return st.one_of(st.just(("fixed", {})), random_timing_models())


@st.composite
def small_mdps(
    draw, max_S: int = 4, max_A: int = 3, max_SA_H: int | None = None, gammas=(0.3, 0.6, 0.9)
):
    """A seeded Garnet MDP with S in [2, max_S], A in [2, max_A] (and its horizon H).

    Returns ``(mdp, H)``; with ``max_SA_H`` the horizon satisfies (S A)^H <= max_SA_H
    (so that every trajectory can be enumerated), else H is in [1, 12].
    """
    S = draw(st.integers(2, max_S))
    A = draw(st.integers(2, max_A))
    gamma = draw(st.sampled_from(gammas))
    seed = draw(st.integers(0, 2**16))
    b = draw(st.integers(1, S))
    mdp = garnet(S=S, A=A, b=b, gamma=gamma, seed=seed)
    if max_SA_H is None:
        H = draw(st.integers(1, 12))
    else:
        top = max(1, int(np.floor(np.log(max_SA_H) / np.log(S * A))))
        H = draw(st.integers(1, top))
    return mdp, H


@st.composite
def mdp_families(draw, max_n: int = 4, max_S: int = 3, max_A: int = 2):
    """A heterogeneous family (list of MDPs, one per agent) of a random kind."""
    kind = draw(st.sampled_from(FAMILY_KINDS))
    n = draw(st.integers(2, max_n))
    S = draw(st.integers(2, max_S))
    A = draw(st.integers(2, max_A))
    seed = draw(st.integers(0, 2**16))
    return family(kind, n, S=S, A=A, b=min(2, S), gamma=0.8, seed=seed)


def thetas(d: int, scale: float = 3.0) -> st.SearchStrategy[np.ndarray]:
    """Parameter vectors of dimension d with entries in [-scale, scale]."""
    return st.lists(st.floats(-scale, scale, **_FINITE), min_size=d, max_size=d).map(
        lambda xs: np.asarray(xs, dtype=float)
    )
