"""What every rank of a real run computes with: the oracle and theta_0 of its spec.

Every rank builds the same oracle and the same theta_0 from the spec (seeded), so the
ranks agree on theta without sending it (AllReduce mode) and the server's theta_0 is the
agents' (server mode).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from algorithms.backends.distributed.spec import SYNTHETIC, TABULAR, RunSpec


def build_oracle(spec: RunSpec) -> tuple[Any, np.ndarray]:
    """(oracle, theta_0) of the spec; every rank builds the same ones (seeded)."""
    if spec.env == TABULAR:
        from algorithms.tabular.setting import TabularSetting

        oracle = TabularSetting(**spec.tabular, n=spec.n).oracle()
        return oracle, np.zeros(oracle.dim)
    if spec.env == SYNTHETIC:
        from algorithms.synthetic import GaussianOracle

        envs = spec.n if spec.heterogeneous else 1
        mu = np.random.default_rng([spec.seed, 0x5E7]).standard_normal((envs, spec.dim))
        return GaussianOracle(mu / np.sqrt(spec.dim), quadratic=True), np.zeros(spec.dim)
    from algorithms.mujoco.oracle import MujocoOracle

    try:
        oracle = MujocoOracle(
            spec.env, spec.horizon, spec.gamma, heterogeneous=spec.heterogeneous
        )
    except Exception as exc:  # gymnasium raises its own errors for unknown ids
        raise ValueError(f"env: cannot make {spec.env!r}: {str(exc).splitlines()[0]}") from None
    return oracle, oracle.init_theta(np.random.default_rng([spec.seed, 0x7E7A]))


def sample_gradient(oracle: Any, theta: np.ndarray, agent: int, rng: np.random.Generator,
                    should_stop: Any = None
                    ) -> tuple[np.ndarray, float | None, int | None]:
    """One stochastic gradient of ``agent`` at theta, and its trajectory's undiscounted
    return and length (steps) where the oracle samples trajectories of an environment
    (MuJoCo: the training return a run reports, and the length a gradient's cost follows),
    else None and None.

    Equation (3) for the gradient (the oracle's own ``sample_gradients``); the return is
    sum_t r_t of the same trajectory.
    """
    if hasattr(oracle, "trajectories") and hasattr(oracle, "spec"):
        from algorithms.mujoco.gradient import gradient_samples

        traj = oracle.trajectories(theta, np.array([agent]), rng, should_stop)
        g = gradient_samples(oracle.spec, np.asarray(theta, np.float64), traj, oracle.gamma)
        return (np.asarray(g[0], dtype=float), float(traj.rewards[0].sum()),
                int(traj.lengths[0]))
    out = oracle.sample_gradients(theta, np.array([agent]), rng, should_stop)
    return np.asarray(out[0], dtype=float), None, None
