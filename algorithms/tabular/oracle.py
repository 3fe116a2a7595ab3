"""Tabular implementations of :class:`algorithms.oracle.GradientOracle`.

:class:`TabularOracle` (homogeneous, ``n_envs == 1``: every agent samples g_H of (3) on one
MDP) and :class:`TabularFamilyOracle` (heterogeneous: agent i samples g_{i,H} of (5) on
``envs[i % n_envs]``). Both also give the exact extras of :class:`algorithms.oracle.ExactObjective`
and more: ``J``, ``grad_J``, ``J_H``, ``grad_J_H``; for a family these are averages over the
environments, i.e. objective (4) when every environment has one agent (or the same number
of agents).

theta is flat, shape ``(S * A,)``, index ``s * A + a`` (C order of the (S, A) table of
the softmax policy); (S, A) arrays are accepted as well. All randomness comes from the
``rng`` argument: same generator state => bit-identical output.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from algorithms.oracle import Interrupted, ShouldStop
from algorithms.tabular.estimator import BatchEstimator
from algorithms.tabular.mdp import TabularMDP


class TabularFamilyOracle:
    """Batched g_{i,H} (5) for a family of MDPs; agent i uses ``envs[i % n_envs]``.

    Parameters
    ----------
    mdps:
        The environments (equal S, A and gamma).
    H:
        Trajectory length of the estimator, >= 1.

    Attributes
    ----------
    dim, n_envs, H, gamma, S, A, envs:
        d = S * A; the number of environments; the horizon; shared MDP sizes; the MDPs.
    """

    def __init__(self, mdps: Sequence[TabularMDP], H: int) -> None:
        self.estimator = BatchEstimator(mdps, H)
        self.envs: list[TabularMDP] = self.estimator.mdps
        self.H = self.estimator.H
        self.dim = self.estimator.dim
        self.n_envs = self.estimator.n_envs
        self.S, self.A, self.gamma = self.estimator.S, self.estimator.A, self.estimator.gamma

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_envs={self.n_envs}, S={self.S}, A={self.A}, H={self.H})"

    # -- constants for Proposition 2.3 / 2.4 ----------------------------------------
    @property
    def r_max(self) -> float:
        """max_i r_max of the environments (Proposition 2.4 uses one bound for all)."""
        return max(m.r_max for m in self.envs)

    @property
    def M_g(self) -> float:
        """M_g of the softmax tabular policy (sqrt 2)."""
        return self.envs[0].M_g

    @property
    def M_h(self) -> float:
        """M_h of the softmax tabular policy (1/2)."""
        return self.envs[0].M_h

    @property
    def l_2(self) -> float:
        """l_2 of the softmax tabular policy (1/sqrt 2)."""
        return self.envs[0].l_2

    # -- GradientOracle ------------------------------------------------------------
    def sample_gradients(
        self,
        theta: np.ndarray,
        agents: np.ndarray,
        rng: np.random.Generator,
        should_stop: ShouldStop | None = None,
    ) -> np.ndarray:
        """One g_{i,H}(tau, theta) per entry of ``agents``, shape (len(agents), dim).

        ``should_stop`` (the real backend's stop signal) is polled once before sampling: the
        tabular trajectories of a call are drawn in one vectorised pass of microseconds, so
        there is no step boundary worth interrupting.
        Paper: equations (3) and (5).
        """
        if should_stop is not None and should_stop():
            raise Interrupted("stopped before sampling")
        agents = as_indices("agents", agents)
        return self.estimator.per_sample(theta, agents % self.n_envs, rng)

    def sum_gradients(
        self, theta: np.ndarray, counts: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Row i = sum of ``counts[i]`` independent g_{i,H}(tau, theta), shape (len(counts), dim).

        Uses the same trajectories as ``sample_gradients(theta, repeat(arange(n), counts),
        rng)`` would, summed per agent without forming per-sample rows.
        Paper: the local sums of Algorithms 2 and 3.
        """
        counts = as_indices("counts", counts)
        n = counts.size
        if n == 0 or counts.sum() == 0:
            return np.zeros((n, self.dim))
        agents = np.repeat(np.arange(n, dtype=np.int64), counts)
        return self.estimator.per_group_sum(theta, agents % self.n_envs, agents, n, rng)

    # -- exact extras ----------------------------------------------------------------
    def J(self, theta: np.ndarray) -> float:
        """(1/n_envs) sum_i J_i(theta). Paper: equations (1) and (4)."""
        return float(np.mean([m.J(theta) for m in self.envs]))

    def grad_J(self, theta: np.ndarray) -> np.ndarray:
        """(1/n_envs) sum_i grad J_i(theta), flat. Paper: equations (1) and (4)."""
        return np.mean([m.grad_J(theta) for m in self.envs], axis=0)

    def J_and_grad_J(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """(J(theta), grad J(theta)) from one :meth:`TabularMDP.values` per environment
        (J and grad_J alone would each solve the same linear systems)."""
        vals = [m.values(theta) for m in self.envs]
        return float(np.mean([v.J for v in vals])), np.mean([v.grad for v in vals], axis=0)

    def J_H(self, theta: np.ndarray) -> float:
        """(1/n_envs) sum_i J_{i,H}(theta) at the oracle's H. Paper: equations (2) and (5)."""
        return float(np.mean([m.J_H(theta, self.H) for m in self.envs]))

    def grad_J_H(self, theta: np.ndarray) -> np.ndarray:
        """(1/n_envs) sum_i grad J_{i,H}(theta) at the oracle's H: the mean of the samples."""
        return np.mean([m.grad_J_H(theta, self.H) for m in self.envs], axis=0)

    def env_of(self, agent: int) -> TabularMDP:
        """The MDP agent ``agent`` samples."""
        return self.envs[int(agent) % self.n_envs]


class TabularOracle(TabularFamilyOracle):
    """Batched g_H (3) on one MDP (homogeneous setting: ``n_envs == 1``).

    Parameters
    ----------
    mdp:
        The environment.
    H:
        Trajectory length of the estimator, >= 1.
    """

    def __init__(self, mdp: TabularMDP, H: int) -> None:
        if not isinstance(mdp, TabularMDP):
            raise ValueError(f"mdp must be a TabularMDP, got {type(mdp).__name__}")
        super().__init__([mdp], H)
        self.mdp = mdp


def as_indices(name: str, values: np.ndarray) -> np.ndarray:
    """A 1-D int64 array of nonnegative integers, else ValueError naming ``name``.

    Validates agent indices and per-agent counts for both oracles (tabular and MuJoCo).
    """
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        return arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        if (
            not np.issubdtype(arr.dtype, np.floating)
            or not np.all(np.isfinite(arr))
            or np.any(arr != np.round(arr))
        ):
            raise ValueError(f"{name} must be integers, got {arr[:5]!r}...")
    arr = arr.astype(np.int64)
    if (arr < 0).any():
        raise ValueError(f"{name} must be >= 0, got {name}[{int(np.argmax(arr < 0))}] < 0")
    return arr
