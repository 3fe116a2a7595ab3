"""Gymnasium environments for the MuJoCo experiments (Appendix H).

Any gymnasium continuous-action (Box) environment id works; the paper uses
``Humanoid-v4``, ``Reacher-v4``, ``Walker2d-v4`` and ``Hopper-v4`` (the ``-v5`` ids work too;
the paper's horizon of each is :data:`algorithms.experiments.figures.PAPER_H`, which this
package does not import: experiments use environments, not the other way round).

Horizon: the env is made with ``max_episode_steps=H`` so its TimeLimit truncates exactly at
the horizon H of equation (3) (Reacher's default limit of 50 steps would otherwise cut the
paper's H = 1024 short). Episodes that *terminate* earlier (Hopper/Walker2d/Humanoid falling)
stop there: the rollout treats the terminal state as absorbing with zero reward.

Heterogeneous setting (Appendix H.3): agent 0 sees ``(s, 0)`` and agent 1 sees the inverted
state ``(-s, 1)``; :class:`AgentStateWrapper` does that for a given (sign, flag).
"""

from __future__ import annotations

import logging
import warnings

import gymnasium as gym
import mujoco
import numpy as np

from theory import checks

_LOG = logging.getLogger("apga.mujoco")


def _mujoco_warning(message: str) -> None:
    """MuJoCo's warnings (a model's deprecated attributes, say) go to the ``apga.mujoco``
    logger instead of its default handler, which appends them to a MUJOCO_LOG.TXT in the
    user's current folder."""
    _LOG.debug("mujoco: %s", message)


mujoco.set_mju_user_warning(_mujoco_warning)

#: (sign, flag) of agent i's state transform in the heterogeneous setting (Appendix H.3).
INVERTED_VARIANTS: tuple[tuple[float, float], ...] = ((1.0, 0.0), (-1.0, 1.0))


class AgentStateWrapper(gym.ObservationWrapper):
    """Observation ``(sign * s, flag)``: the state, possibly inverted, plus an agent flag.

    Notes
    -----
    Agent 0: :math:`(s_{t+1}, 0)`; agent 1: :math:`(-s_{t+1}, 1)`.

    Paper: Appendix H.3 (heterogeneous setting).
    """

    def __init__(self, env: gym.Env, sign: float, flag: float) -> None:
        super().__init__(env)
        if sign not in (1.0, -1.0):
            raise ValueError(f"sign must be +1 or -1, got {sign!r}")
        self.sign = float(sign)
        self.flag = float(flag)
        inner = env.observation_space
        low = np.append(np.minimum(sign * inner.low, sign * inner.high), flag)
        high = np.append(np.maximum(sign * inner.low, sign * inner.high), flag)
        self.observation_space = gym.spaces.Box(low=low, high=high, dtype=np.float64)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return np.append(self.sign * np.asarray(observation, dtype=np.float64), self.flag)


def make_env(env_id: str, H: int, variant: tuple[float, float] | None = None) -> gym.Env:
    """Make ``env_id`` truncated at horizon ``H``, optionally with a (sign, flag) state wrapper.

    Raises ValueError (naming ``env_id``) for unknown ids or non-Box action spaces.
    """
    H = checks.count("H", H)
    if env_id not in gym.registry:
        raise ValueError(f"env_id: unknown gymnasium environment {env_id!r}")
    with warnings.catch_warnings():
        # v4 ids print a "consider upgrading to v5" deprecation; the paper uses v4.
        warnings.simplefilter("ignore", DeprecationWarning)
        env = gym.make(env_id, max_episode_steps=H, disable_env_checker=True)
    if not isinstance(env.action_space, gym.spaces.Box):
        env.close()
        raise ValueError(f"env_id: {env_id!r} does not have a continuous (Box) action space")
    if variant is not None:
        env = AgentStateWrapper(env, *variant)
    return env


def action_scale(env: gym.Env) -> tuple[float, ...]:
    """The alpha of ``a = alpha * tanh(u)``: the action-space bound, per dimension.

    Requires a symmetric finite bound ``[-alpha, alpha]`` (true for the MuJoCo tasks: 1 for
    Hopper/Walker2d/Reacher, 0.4 for Humanoid).
    """
    low, high = env.action_space.low, env.action_space.high
    if not (np.all(np.isfinite(high)) and np.allclose(low, -high)):
        raise ValueError("env_id: action space must be a finite symmetric box [-alpha, alpha]")
    return tuple(float(x) for x in high)
