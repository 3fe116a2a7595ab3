"""MuJoCo experiments (Appendix H): gymnasium environments, the torch Gaussian-tanh policy,
batched rollouts and the g_H oracle. Importing this package imports torch and gymnasium;
nothing outside ``algorithms.mujoco`` does.
"""

from algorithms.mujoco.envs import AgentStateWrapper, make_env
from algorithms.mujoco.gradient import gradient_samples, gradient_sum, reward_to_go
from algorithms.mujoco.oracle import MujocoOracle
from algorithms.mujoco.policy import PolicySpec, log_prob, mu_sigma
from algorithms.mujoco.rollout import Trajectories, rollout

__all__ = [
    "AgentStateWrapper",
    "MujocoOracle",
    "PolicySpec",
    "Trajectories",
    "gradient_samples",
    "gradient_sum",
    "log_prob",
    "make_env",
    "mu_sigma",
    "reward_to_go",
    "rollout",
]
