"""MuJoCo implementation of :class:`algorithms.oracle.GradientOracle`.

``MujocoOracle(env_id, H, gamma)`` samples trajectories of the Appendix H policy in a
gymnasium environment and returns g_H of equation (3). Only the trajectories a call asks
for are simulated: all of them in one lockstep batch (one policy forward per time step), then
the gradients in one batched backward pass (or one per agent group for per-agent sums).

Heterogeneous setting (``heterogeneous=True``, Appendix H.3): two environments, agent i uses
environment ``i % 2``; environment 0 shows ``(s, 0)`` and environment 1 the inverted
``(-s, 1)``.

Environment instances are kept in a pool per environment index and reused across calls
(each trajectory is reset with a seed drawn from the call's ``rng``), so constructing
MuJoCo models is paid once.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from algorithms.mujoco.envs import INVERTED_VARIANTS, action_scale, make_env
from algorithms.mujoco.gradient import gradient_samples, gradient_sum
from algorithms.mujoco.policy import PolicySpec
from algorithms.mujoco.rollout import Trajectories, rollout
from algorithms.oracle import ShouldStop
from algorithms.tabular.oracle import as_indices
from theory import checks


class MujocoOracle:
    """Stochastic policy gradients g_H (equation (3)) on a gymnasium MuJoCo task.

    Parameters
    ----------
    env_id:
        Any gymnasium id with a symmetric Box action space, e.g. ``"Humanoid-v4"``.
    H:
        Horizon of equation (3) (512 for Humanoid, 1024 for the others in Appendix H).
    gamma:
        Discount factor in (0, 1). (Appendix H does not state it; 0.99 is the default.)
    heterogeneous:
        Appendix H.3 pair of environments (n_envs = 2) instead of one (n_envs = 1).
    hidden:
        Hidden width of the policy (64 in Appendix H).
    torch_threads:
        If not None, ``torch.set_num_threads`` is called with it (process-wide); one thread
        is fastest for these small networks.
    blas_threads:
        If not None, numpy's OpenBLAS is set to this many threads (process-wide,
        :func:`algorithms.blas.set_blas_threads`): the policy and its gradient
        are numpy, and a multithreaded BLAS on a busy machine made the backward pass ten
        times slower. ``apga experiment`` passes None and sets it itself (``--blas-threads``).
    """

    def __init__(
        self,
        env_id: str,
        H: int,
        gamma: float = 0.99,
        *,
        heterogeneous: bool = False,
        hidden: int = 64,
        torch_threads: int | None = 1,
        blas_threads: int | None = 1,
    ) -> None:
        self.env_id = env_id
        self.H = checks.count("H", H)
        self.gamma = checks.open_unit("gamma", gamma)
        self.variants = INVERTED_VARIANTS if heterogeneous else (None,)
        self.n_envs = len(self.variants)
        if torch_threads is not None:
            torch.set_num_threads(checks.count("torch_threads", torch_threads))
        if blas_threads is not None:
            from algorithms.blas import set_blas_threads

            set_blas_threads(checks.count("blas_threads", blas_threads))
        probe = make_env(env_id, self.H, self.variants[0])
        d_s = int(np.prod(probe.observation_space.shape))
        d_a = int(np.prod(probe.action_space.shape))
        self.spec = PolicySpec(d_s=d_s, d_a=d_a, hidden=hidden, scale=action_scale(probe))
        self.dim = self.spec.dim
        self._pool: list[list[gym.Env]] = [[probe]] + [[] for _ in self.variants[1:]]

    # -- parameters -------------------------------------------------------------------
    def init_theta(self, rng: np.random.Generator) -> np.ndarray:
        """Initial theta (torch.nn.Linear's default law, drawn from ``rng``)."""
        return self.spec.init_theta(rng)

    def _check_theta(self, theta: np.ndarray) -> np.ndarray:
        theta = np.asarray(theta, dtype=np.float64)
        if theta.shape != (self.dim,):
            raise ValueError(f"theta must have shape ({self.dim},), got {theta.shape}")
        if not np.all(np.isfinite(theta)):
            raise ValueError("theta must be finite")
        return theta

    # -- simulation -------------------------------------------------------------------
    def _envs_for(self, env_index: np.ndarray) -> list[gym.Env]:
        """Distinct env instances for trajectories in environments ``env_index``."""
        out, used = [], [0] * self.n_envs
        for e in env_index:
            e = int(e)
            pool = self._pool[e]
            if used[e] == len(pool):
                pool.append(make_env(self.env_id, self.H, self.variants[e]))
            out.append(pool[used[e]])
            used[e] += 1
        return out

    def trajectories(
        self,
        theta: np.ndarray,
        agents: np.ndarray,
        rng: np.random.Generator,
        should_stop: ShouldStop | None = None,
    ) -> Trajectories:
        """One trajectory per entry of ``agents`` (agent i in environment ``i % n_envs``).

        ``should_stop`` is polled between environment steps (see :func:`rollout`).
        """
        theta = self._check_theta(theta)
        agents = as_indices("agents", agents)
        envs = self._envs_for(agents % self.n_envs)
        return rollout(self.spec, theta, envs, self.H, rng, should_stop)

    # -- GradientOracle ---------------------------------------------------------------
    def sample_gradients(
        self,
        theta: np.ndarray,
        agents: np.ndarray,
        rng: np.random.Generator,
        should_stop: ShouldStop | None = None,
    ) -> np.ndarray:
        """Row j is g_H(tau_j, theta) (equation (3)) for a fresh trajectory of ``agents[j]``.

        With ``should_stop`` (the real backend's stop signal), raises
        :class:`algorithms.oracle.Interrupted` between environment steps once it returns True.
        """
        traj = self.trajectories(theta, agents, rng, should_stop)
        return gradient_samples(self.spec, np.asarray(theta, np.float64), traj, self.gamma)

    def sum_gradients(
        self, theta: np.ndarray, counts: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Row i is the sum of ``counts[i]`` independent g_H of agent i (zero if none).

        All trajectories are simulated in one lockstep batch; the sums use one backward pass
        per agent with a nonzero count.
        """
        counts = as_indices("counts", counts)
        agents = np.repeat(np.arange(counts.size), counts)
        traj = self.trajectories(theta, agents, rng)
        out = np.zeros((counts.size, self.dim))
        theta = np.asarray(theta, np.float64)
        for i in np.flatnonzero(counts):
            rows = agents == i
            group = Trajectories(*(x[rows] for x in traj))
            out[i] = gradient_sum(self.spec, theta, group, self.gamma)
        return out

    # -- evaluation -------------------------------------------------------------------
    def episode_returns(
        self, theta: np.ndarray, episodes: int, rng: np.random.Generator
    ) -> np.ndarray:
        """Undiscounted returns sum_{t<H} r_t of ``episodes`` trajectories (env k % n_envs)."""
        episodes = checks.count("episodes", episodes)
        traj = self.trajectories(theta, np.arange(episodes), rng)
        return traj.rewards.sum(axis=1)

    def average_return(self, theta: np.ndarray, episodes: int, rng: np.random.Generator) -> float:
        """Mean undiscounted return over ``episodes`` trajectories (the y-axis of Figures 1-9)."""
        return float(self.episode_returns(theta, episodes, rng).mean())

    def close(self) -> None:
        """Close every pooled environment."""
        for pool in self._pool:
            for env in pool:
                env.close()
            pool.clear()
