"""A complete simulated setting for tabular runs: MDP(s), cluster timing, seeds.

``apga train`` and ``apga compare`` build their runs from a :class:`TabularSetting`,
so the same seed gives the same MDP, the same timeline and the same trajectories for
every method (all methods start from the same theta_0,
Section H: "All methods start from the same point, for a fixed seed").

Seeds. The MDP comes from ``mdp_seed`` (fixed across run seeds: the problem does not
change between seeds). A run seed is split into the clock's timing seed and the oracle's
Generator by :func:`algorithms.sim.clock.seeded_clock` (the validation checks seed their
runs with it too).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from theory import checks

ENVS = ("garnet", "chain", "grid")
#: Most states of a tabular problem: J and grad J are exact, from an S x S linear solve
#: after every iteration (O(S^3): about a second at 2000 states on this machine).
MAX_STATES = 2000
#: Most transition-matrix entries (states x actions x states, times the MDPs of a family):
#: 5e7 floats are 400 MB.
MAX_ENTRIES = 5 * 10**7
#: Longest trajectory: each gradient simulates H steps.
MAX_H = 10**6


@dataclass(frozen=True)
class TabularSetting:
    """A tabular federated setting on the simulated clock.

    env:       ``garnet`` (random, S states, A actions), ``chain`` or ``grid``
    S, A:      states and actions (garnet); chain uses S (2 actions); grid is S x S (4 actions)
    gamma:     discount factor in (0, 1)
    H:         trajectory length of the estimator (3)
    mdp_seed:  seed of the generated MDP(s)
    family:    None for the homogeneous problem (1); ``reward``, ``transition`` or
               ``initial`` for a heterogeneous family (4), one MDP per agent
    n:         number of agents
    h:         computation times: profile name (equal, sqrt, quarter) or comma list
    kappa:     communication time: a number, a comma list, or ``sqrt`` / ``sqrt_d4``
               (Section H: kappa_i = sqrt(i), kappa_i = sqrt(i) d^(1/4))
    timing:    fixed, exponential, lognormal or uniform (see algorithms.sim.timing)
    timing_options: the model's options (``log_sigma``, ``jitter``), None for the defaults
    cluster:   a :class:`theory.cluster_file.ClusterSpec` (``--cluster FILE``), carried
               whole: the clock is built from it; n, h, kappa, timing and timing_options
               then show it (h and kappa as exact comma lists) and are not given
    """

    env: str = "garnet"
    S: int = 10
    A: int = 3
    gamma: float = 0.9
    H: int = 30
    mdp_seed: int = 0
    family: str | None = None
    n: int = 10
    h: str = "sqrt"
    kappa: str = "0"
    timing: str = "fixed"
    timing_options: dict[str, float] | None = None
    cluster: Any = field(default=None, hash=False)

    def __post_init__(self) -> None:
        """Validate every field now, not at :meth:`build` (names the field on error)."""
        if self.cluster is not None:
            self._show_cluster()
        from algorithms.sim.timing import check_options, resolve_kappa, resolve_times
        from theory.clusters import AGENTS_WHY, MAX_AGENTS

        checks.choice("env", self.env, ENVS)
        checks.count("S", self.S, minimum=2)
        checks.count("A", self.A, minimum=2)
        checks.open_unit("gamma", self.gamma)
        checks.count("H", self.H, maximum=MAX_H, why="each gradient simulates H steps")
        checks.count("mdp_seed", self.mdp_seed, minimum=0)
        checks.count("n", self.n, maximum=MAX_AGENTS, why=AGENTS_WHY)
        if self.family is not None:
            from algorithms.tabular.generators import FAMILY_KINDS

            checks.choice("family", self.family, FAMILY_KINDS)
            if self.env != "garnet":
                raise ValueError("family: heterogeneous families are generated from garnet MDPs")
        states, actions = self.sizes()
        if states > MAX_STATES:
            raise ValueError(
                f"S: {self.env} with S = {self.S} has {states} states, more than {MAX_STATES} "
                "(exact J and grad J solve a states x states system every iteration)")
        entries = states * actions * states * (self.n if self.family else 1)
        if entries > MAX_ENTRIES:
            what = f"S = {self.S}, A = {actions}" + (f", n = {self.n} MDPs" if self.family else "")
            raise ValueError(
                f"{'n' if self.family and self.n > 1 else 'S'}: {what} need {entries:.3g} "
                f"transition probabilities, more than {MAX_ENTRIES:.0e} (400 MB)")
        if self.cluster is not None:
            return  # a ClusterSpec is valid by construction
        check_options(self.timing, self.timing_options or {})
        resolve_times("h", self.h, self.n)
        if not (isinstance(self.kappa, str) and self.kappa.strip() == "sqrt_d4"):
            resolve_kappa(self.kappa, self.n)

    def _show_cluster(self) -> None:
        """n, h, kappa, timing, options as the cluster's (exact repr floats), for records."""
        from theory.cluster_file import ClusterSpec

        c = self.cluster
        if not isinstance(c, ClusterSpec):
            raise ValueError(f"cluster: expected a ClusterSpec, got {type(c).__name__}")
        shown = {"n": c.n, "h": ",".join(repr(float(x)) for x in c.h),
                 "kappa": ",".join(repr(float(x)) for x in c.kappa), "timing": c.timing,
                 "timing_options": dict(c.options) or None}
        for name, value in shown.items():
            object.__setattr__(self, name, value)

    def sizes(self) -> tuple[int, int]:
        """(states, actions) of the environment: grid is S x S cells with 4 actions,
        chain has 2 actions."""
        if self.env == "grid":
            return self.S * self.S, 4
        if self.env == "chain":
            return self.S, 2
        return self.S, self.A

    @property
    def heterogeneous(self) -> bool:
        return self.family is not None

    def to_dict(self) -> dict[str, Any]:
        """The setting as JSON (the cluster shown by n, h, kappa, timing, timing_options)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "cluster"}

    def mdps(self) -> list:
        """The MDP (homogeneous: a list of one) or the family, one per agent."""
        from algorithms.tabular import generators as gen

        if self.family is not None:
            return gen.family(
                self.family, self.n, S=self.S, A=self.A, gamma=self.gamma, seed=self.mdp_seed
            )
        if self.env == "garnet":
            return [gen.garnet(S=self.S, A=self.A, gamma=self.gamma, seed=self.mdp_seed)]
        if self.env == "chain":
            return [gen.chain(S=self.S, gamma=self.gamma)]
        return [gen.gridworld(width=self.S, height=self.S, gamma=self.gamma)]

    def oracle(self):
        """The tabular oracle (homogeneous) or family oracle (heterogeneous)."""
        from algorithms.tabular import TabularFamilyOracle, TabularOracle

        mdps = self.mdps()
        if self.family is None:
            return TabularOracle(mdps[0], self.H)
        return TabularFamilyOracle(mdps, self.H)

    def h_times(self) -> np.ndarray:
        from algorithms.sim.timing import resolve_times

        if self.cluster is not None:
            return np.array(self.cluster.h)
        return resolve_times("h", self.h, self.n)

    def kappa_times(self, d: int) -> np.ndarray:
        from algorithms.sim.timing import resolve_kappa

        if self.cluster is not None:
            return np.array(self.cluster.kappa)
        return resolve_kappa(self.kappa, self.n, d)

    def build(self, seed: int, oracle=None):
        """(oracle, clock, rng, theta0) for run seed ``seed``."""
        from algorithms.sim.clock import seeded_clock

        seed = checks.count("seed", seed, minimum=0)
        oracle = oracle if oracle is not None else self.oracle()
        if self.cluster is not None:
            clock, rng = seeded_clock(seed=seed, cluster=self.cluster)
        else:
            clock, rng = seeded_clock(self.h_times(), self.kappa_times(oracle.dim), seed,
                                      timing=self.timing, **(self.timing_options or {}))
        theta0 = np.zeros(oracle.dim)
        return oracle, clock, rng, theta0
