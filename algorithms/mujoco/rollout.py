"""Batched rollouts: B trajectories stepped in lockstep, one policy forward per time step.

Each trajectory j runs in its own environment ``envs[j]``. At every time step the states of
all still-running trajectories go through the policy in ONE batched forward pass (the numpy
twin :func:`~algorithms.mujoco.policy.numpy_mu_sigma` of the torch network; no autograd is
needed while sampling), then each environment is stepped once in a plain Python loop (faster
on CPU than ``gymnasium.vector``'s machinery for the batch sizes used here).

End of an episode: a trajectory stops at the horizon H or when its environment reports
``terminated``/``truncated`` earlier (e.g. Hopper falls). Afterwards it contributes nothing:
the terminal state is treated as absorbing with zero reward, so ``rewards[j, t] = 0`` and
``alive[j, t] = False`` for ``t >= lengths[j]``, and equation (3) sums only over alive steps.

Randomness: the reset seeds (first draw) and the Gaussian action noise (second draw, one
(H, B, d_a) array: step t of trajectory j uses row [t, j] whether or not the others have
ended) come from the ``rng`` argument only; the same generator state gives bit-identical
trajectories. A single trajectory (B = 1: AFedPG, the real backend's server mode) takes a
loop specialised to one state vector, which draws and computes exactly what the batched loop
would (tested); it saves the per-step overhead of batch indexing, which on cheap
environments (Reacher: 27 us per ``env.step``) was a third of the time.

Paper: the trajectories tau = (s_0, a_0, ..., s_{H-1}, a_{H-1}) of equation (3), with the
Appendix H policy u_t ~ N(mu(s_t), diag sigma(s_t)^2), a_t = scale * tanh(u_t).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import gymnasium as gym
import numpy as np

from algorithms.mujoco.policy import PolicySpec, numpy_mu_sigma, numpy_params, squash
from algorithms.oracle import Interrupted


class Trajectories(NamedTuple):
    """A batch of B trajectories padded to a common length T <= H.

    Attributes
    ----------
    states: (B, T, d_s) states s_t (zero after the episode ended).
    u: (B, T, d_a) pre-squash Gaussian samples u_t (the action is ``scale * tanh(u_t)``).
    rewards: (B, T) rewards r(s_t, a_t), zero after the episode ended.
    alive: (B, T) True where step t was taken.
    lengths: (B,) number of steps taken (<= H).
    """

    states: np.ndarray
    u: np.ndarray
    rewards: np.ndarray
    alive: np.ndarray
    lengths: np.ndarray


def rollout(
    spec: PolicySpec,
    theta: np.ndarray,
    envs: Sequence[gym.Env],
    H: int,
    rng: np.random.Generator,
    should_stop: Callable[[], bool] | None = None,
    *,
    batched: bool = False,
) -> Trajectories:
    """Sample one trajectory of at most H steps in each of ``envs`` with policy theta.

    Returns the batch truncated to ``T = max(lengths)`` time steps. ``should_stop`` (the real
    backend's stop signal) is called before every time step; when it returns True the batch is
    abandoned with :class:`algorithms.oracle.Interrupted` (Algorithm 2/3 line 9).
    ``batched=True`` forces the batched loop for B = 1 (the tests compare the two loops).
    """
    B = len(envs)
    if len({id(e) for e in envs}) != B:
        raise ValueError("envs: each trajectory needs its own environment instance")
    seeds = rng.integers(0, 2**31 - 1, size=B)
    noise = rng.standard_normal((H, B, spec.d_a))
    params = numpy_params(spec, np.ascontiguousarray(theta, dtype=np.float64))
    if B == 1 and not batched:
        return _rollout_one(spec, params, envs[0], H, int(seeds[0]), noise[:, 0], should_stop)
    states = np.zeros((B, H, spec.d_s))
    u_all = np.zeros((B, H, spec.d_a))
    rewards = np.zeros((B, H))
    alive = np.zeros((B, H), dtype=bool)
    lengths = np.zeros(B, dtype=np.int64)
    for j, env in enumerate(envs):
        states[j, 0], _ = env.reset(seed=int(seeds[j]))
    idx = np.arange(B)
    for t in range(H):
        if should_stop is not None and should_stop():
            raise Interrupted(f"stopped at step {t} of {H}")
        mu, sigma = numpy_mu_sigma(params, states[idx, t])
        u = mu + sigma * noise[t, idx]
        a = squash(spec, u)
        u_all[idx, t] = u
        alive[idx, t] = True
        still = []
        for k, j in enumerate(idx):
            obs, r, terminated, truncated, _ = envs[j].step(a[k])
            rewards[j, t] = r
            lengths[j] = t + 1
            if not (terminated or truncated) and t + 1 < H:
                states[j, t + 1] = obs
                still.append(j)
        if not still:
            break
        idx = np.asarray(still)
    T = int(lengths.max()) if B else 0
    return Trajectories(states[:, :T], u_all[:, :T], rewards[:, :T], alive[:, :T], lengths)


def _rollout_one(
    spec: PolicySpec,
    params: tuple[np.ndarray, ...],
    env: gym.Env,
    H: int,
    seed: int,
    noise: np.ndarray,
    should_stop: Callable[[], bool] | None,
) -> Trajectories:
    """:func:`rollout` for one trajectory: the same formulas on 1-D vectors (noise (H, d_a))."""
    W1, b1, W2, b2, Wh, bh = params
    d_a = spec.d_a
    scale = spec.scale_array
    states = np.zeros((H, spec.d_s))
    u_all = np.zeros((H, d_a))
    rewards = np.zeros(H)
    states[0], _ = env.reset(seed=seed)
    T = H
    for t in range(H):
        if should_stop is not None and should_stop():
            raise Interrupted(f"stopped at step {t} of {H}")
        heads = np.tanh(np.tanh(states[t] @ W1 + b1) @ W2 + b2) @ Wh + bh
        x = heads[d_a:]
        # softplus as numpy_mu_sigma: torch's threshold 20, above which it returns x
        sigma = np.where(x > 20.0, x, np.log1p(np.exp(np.minimum(x, 20.0))))
        u = heads[:d_a] + sigma * noise[t]
        u_all[t] = u
        obs, r, terminated, truncated, _ = env.step(scale * np.tanh(u))
        rewards[t] = r
        if terminated or truncated or t + 1 == H:
            T = t + 1
            break
        states[t + 1] = obs
    alive = np.zeros((1, T), dtype=bool)
    alive[0] = True
    return Trajectories(states[None, :T], u_all[None, :T], rewards[None, :T], alive,
                        np.array([T], dtype=np.int64))  # fmt: skip
