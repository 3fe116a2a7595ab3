"""A trained policy saved by a run (``policy.pt``), and loaded back in one line.

``apga launch`` on a MuJoCo environment writes ``RUN/policy.pt`` at the end: the final
theta of the Appendix H policy with everything needed to use it (environment id, horizon,
policy shape and action scale). Load it with::

    from algorithms.mujoco.saved import load_policy; pi = load_policy("RUN/policy.pt")

``pi.act(obs)`` gives the deterministic action ``scale * tanh(mu(obs))`` (the mean of the
Gaussian before squashing), ``pi.sample(obs, rng)`` a stochastic one, and
``pi.average_return(episodes, seed)`` evaluates it in its environment. The file is a plain
``torch.save`` of tensors and built-in types (loadable with ``weights_only=True``).

Paper: Appendix H (the policy: two tanh layers of 64, Gaussian head, a = alpha tanh(u)).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "apga-policy-1"


def save_policy(path: Path, oracle: Any, theta: np.ndarray, spec: Any = None) -> str:
    """Write ``policy.pt`` for ``oracle``'s policy at ``theta``; returns the path written."""
    import torch

    data = {
        "format": FORMAT,
        "env_id": oracle.env_id,
        "horizon": int(oracle.H),
        "gamma": float(oracle.gamma),
        "heterogeneous": bool(oracle.n_envs > 1),
        "policy": {k: (list(v) if isinstance(v, tuple) else v)
                   for k, v in asdict(oracle.spec).items()},
        "theta": torch.from_numpy(np.asarray(theta, dtype=np.float64).copy()),
        "method": getattr(spec, "method", None),
        "seed": getattr(spec, "seed", None),
    }
    tmp = Path(path).with_name(f".{Path(path).name}.tmp")
    torch.save(data, tmp)
    tmp.replace(path)
    return str(path)


class SavedPolicy:
    """A saved Appendix H policy (see the module docstring)."""

    def __init__(self, data: dict[str, Any]) -> None:
        from algorithms.mujoco.policy import PolicySpec, numpy_params

        p = dict(data["policy"])
        if p.get("scale") is not None:
            p["scale"] = tuple(p["scale"])
        self.spec = PolicySpec(**p)
        self.theta = data["theta"].numpy().astype(np.float64)
        self.env_id = data["env_id"]
        self.horizon = int(data["horizon"])
        self.gamma = float(data["gamma"])
        self.heterogeneous = bool(data["heterogeneous"])
        self.meta = {k: data.get(k) for k in ("method", "seed")}
        self._params = numpy_params(self.spec, self.theta)

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Deterministic action scale * tanh(mu(obs))."""
        from algorithms.mujoco.policy import numpy_mu_sigma, squash

        mu, _ = numpy_mu_sigma(self._params, np.asarray(obs, dtype=np.float64))
        return squash(self.spec, mu)

    def sample(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A stochastic action scale * tanh(u), u ~ N(mu(obs), sigma(obs)^2)."""
        from algorithms.mujoco.policy import numpy_mu_sigma, squash

        mu, sigma = numpy_mu_sigma(self._params, np.asarray(obs, dtype=np.float64))
        return squash(self.spec, mu + sigma * rng.standard_normal(mu.shape))

    def average_return(self, episodes: int = 10, seed: int = 0) -> float:
        """Mean undiscounted return of the stochastic policy over ``episodes`` episodes of
        horizon ``horizon`` (the y-axis of the paper's figures)."""
        from algorithms.mujoco.oracle import MujocoOracle

        oracle = MujocoOracle(self.env_id, self.horizon, self.gamma,
                              heterogeneous=self.heterogeneous, hidden=self.spec.hidden)
        try:
            return oracle.average_return(self.theta, episodes, np.random.default_rng(seed))
        finally:
            oracle.close()


def load_policy(path: str | Path) -> SavedPolicy:
    """The policy saved in ``path`` (ValueError if it is not an apga policy file)."""
    import torch

    try:
        data = torch.load(path, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file
        raise ValueError(f"policy: cannot read {str(path)!r} ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"policy: {str(path)!r} is not an apga policy file")
    return SavedPolicy(data)
