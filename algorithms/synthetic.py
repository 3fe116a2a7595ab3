"""A synthetic gradient oracle for tests and validation: Gaussian gradients per environment.

Agent i samples environment e = ``i % n_envs``; a sample is g ~ N(mu_e, sigma^2 I_d)
whatever theta is, or, with ``quadratic=True``, g ~ N(mu_e - theta, sigma^2 I_d): an
unbiased estimate of the gradient of J_e(theta) = -1/2 ||theta - mu_e||^2 (ascent moves
theta towards mu_e). It implements :class:`algorithms.oracle.GradientOracle`.
"""

from __future__ import annotations

import numpy as np

from theory import checks


class GaussianOracle:
    """g_{i} ~ N(mu_{i mod n_envs} + c(theta), sigma^2 I), with c(theta) = -theta if quadratic.

    Sums are drawn in one shot: the sum of k iid N(mu, sigma^2 I) is N(k mu, k sigma^2 I),
    so :meth:`sum_gradients` costs O(n d) whatever the counts.

    Parameters
    ----------
    mu: (n_envs, d) mean gradients of the environments (a 1-D array is one environment).
    sigma: noise standard deviation (>= 0).
    quadratic: if True the mean at theta is mu_e - theta (ascent on J_e = -1/2||theta-mu_e||^2).
    """

    def __init__(self, mu, sigma: float = 1.0, *, quadratic: bool = False) -> None:
        mu = np.asarray(mu, dtype=float)
        if mu.ndim == 1:
            mu = mu[None, :]
        if mu.ndim != 2 or mu.size == 0 or not np.isfinite(mu).all():
            raise ValueError(f"mu must be a finite (n_envs, d) array, got shape {mu.shape}")
        self.mu = mu
        self.n_envs, self.dim = mu.shape
        self.sigma = checks.nonnegative("sigma", sigma)
        self.quadratic = bool(quadratic)

    def mean(self, theta: np.ndarray, agents: np.ndarray) -> np.ndarray:
        """Exact expected gradient of each listed agent at theta, shape (len(agents), d)."""
        m = self.mu[np.asarray(agents, dtype=np.int64) % self.n_envs]
        return m - theta if self.quadratic else m

    def grad_J(self, theta: np.ndarray) -> np.ndarray:
        """The average over environments of the expected gradient (heterogeneous target)."""
        return self.mean(theta, np.arange(self.n_envs)).mean(axis=0)

    def J(self, theta: np.ndarray) -> float:
        """The average over environments of J_e(theta) = -1/2 ||theta - mu_e||^2 (quadratic)
        or <mu_e, theta> (linear), whose gradients :meth:`mean` returns."""
        theta = np.asarray(theta, dtype=float)
        if self.quadratic:
            return float(-0.5 * ((theta[None, :] - self.mu) ** 2).sum(axis=1).mean())
        return float((self.mu @ theta).mean())

    def sample_gradients(self, theta, agents, rng, should_stop=None):  # noqa: D102
        # see GradientOracle; should_stop is polled once (one vectorised draw, no steps)
        if should_stop is not None and should_stop():
            from algorithms.oracle import Interrupted

            raise Interrupted("stopped before sampling")
        agents = np.asarray(agents, dtype=np.int64)
        noise = rng.standard_normal((agents.size, self.dim))
        return self.mean(np.asarray(theta, dtype=float), agents) + self.sigma * noise

    def sum_gradients(self, theta, counts, rng):  # noqa: D102 - see GradientOracle
        counts = np.asarray(counts, dtype=np.int64)
        if (counts < 0).any():
            raise ValueError("counts must be >= 0")
        m = self.mean(np.asarray(theta, dtype=float), np.arange(counts.size))
        noise = rng.standard_normal((counts.size, self.dim))
        return counts[:, None] * m + self.sigma * np.sqrt(counts)[:, None] * noise
