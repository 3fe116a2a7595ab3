"""The Gaussian tanh-squashed MLP policy of Appendix H, as a function of one flat theta.

Architecture (Appendix H)::

    s -> Linear(d_s, 64) -> Tanh -> Linear(64, 64) -> Tanh -> { Linear(64, d_a) -> mu,
                                                              Linear(64, d_a) -> Softplus -> sigma }
    u ~ N(mu_theta(s), diag(sigma_theta(s)^2)),   a = scale * tanh(u)

The parameters are one flat vector theta of length :attr:`PolicySpec.dim` (weights then
bias, layer by layer, in the order ``l1, l2, mu, sigma``), so the methods see a plain
``numpy`` vector and ``d`` (needed for kappa_i = sqrt(i) d^{1/4}) is ``spec.dim``.

Which density the score uses
----------------------------
``log_prob`` is the Gaussian log-density of the *pre-squash* sample u. Equation (3) needs
``grad_theta log pi_theta(a_t | s_t)``. Since ``a = scale * tanh(u)`` is a fixed bijection
that does not depend on theta, ``log p_theta(a|s) = log N(u; mu, sigma) - log|det da/du|``
and the Jacobian term ``sum_k log(scale_k (1 - tanh(u_k)^2))`` is theta-free, so the two
scores are equal. Using u avoids the numerically fragile ``atanh(a / scale)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the usual torch alias

from theory import checks

_LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True)
class PolicySpec:
    """Shape of the Appendix H policy.

    Attributes
    ----------
    d_s:
        State dimension (input of the first Linear layer).
    d_a:
        Action dimension.
    hidden:
        Width of both hidden layers (64 in the paper).
    scale:
        Per-dimension action scale (the alpha of ``a = alpha * tanh(u)`` in Appendix H;
        the envs use their action-space bound, 1 for Hopper/Walker2d/Reacher, 0.4 for
        Humanoid).
    """

    d_s: int
    d_a: int
    hidden: int = 64
    scale: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        checks.count("d_s", self.d_s)
        checks.count("d_a", self.d_a)
        checks.count("hidden", self.hidden)
        if self.scale is not None:
            if len(self.scale) != self.d_a:
                raise ValueError(f"scale must have length d_a={self.d_a}, got {len(self.scale)}")
            for k, v in enumerate(self.scale):
                checks.positive(f"scale[{k}]", v)

    @property
    def shapes(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        """(name, shape) of each parameter block, in flat-vector order."""
        ds, da, m = self.d_s, self.d_a, self.hidden
        return (
            ("l1.weight", (m, ds)), ("l1.bias", (m,)),
            ("l2.weight", (m, m)), ("l2.bias", (m,)),
            ("mu.weight", (da, m)), ("mu.bias", (da,)),
            ("sigma.weight", (da, m)), ("sigma.bias", (da,)),
        )  # fmt: skip

    @property
    def dim(self) -> int:
        """Number of parameters d."""
        return sum(math.prod(shape) for _, shape in self.shapes)

    @property
    def scale_array(self) -> np.ndarray:
        return np.ones(self.d_a) if self.scale is None else np.asarray(self.scale, float)

    def init_theta(self, rng: np.random.Generator) -> np.ndarray:
        """Initial theta with torch.nn.Linear's default law, drawn from ``rng``.

        Every weight and bias of a layer with fan-in f is U(-1/sqrt(f), 1/sqrt(f))
        (what ``nn.Linear.reset_parameters`` gives), but drawn from the numpy generator so
        that a run is a pure function of its seed.
        """
        parts = []
        for name, shape in self.shapes:
            fan_in = shape[1] if name.endswith("weight") else self._fan_in(name)
            bound = 1.0 / math.sqrt(fan_in)
            parts.append(rng.uniform(-bound, bound, size=math.prod(shape)))
        return np.concatenate(parts)

    def _fan_in(self, name: str) -> int:
        return self.d_s if name.startswith("l1") else self.hidden


def unflatten(spec: PolicySpec, theta: torch.Tensor) -> dict[str, torch.Tensor]:
    """Views of the flat ``theta`` as the named weight/bias blocks of ``spec.shapes``."""
    if theta.shape != (spec.dim,):
        raise ValueError(f"theta must have shape ({spec.dim},), got {tuple(theta.shape)}")
    out, start = {}, 0
    for name, shape in spec.shapes:
        size = math.prod(shape)
        out[name] = theta[start : start + size].view(shape)
        start += size
    return out


def mu_sigma(
    spec: PolicySpec, theta: torch.Tensor, s: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation of the Gaussian over u for states ``s`` (..., d_s).

    Notes
    -----
    :math:`z = \\tanh(W_2 \\tanh(W_1 s + b_1) + b_2)`,
    :math:`\\mu = W_\\mu z + b_\\mu`, :math:`\\sigma = \\log(1 + e^{W_\\sigma z + b_\\sigma})`.

    Paper: Appendix H (network architecture).
    """
    return forward(unflatten(spec, theta), s)


def forward(p: dict[str, torch.Tensor], s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`mu_sigma` on already unflattened parameters (saves the slicing per time step)."""
    z = torch.tanh(F.linear(s, p["l1.weight"], p["l1.bias"]))
    z = torch.tanh(F.linear(z, p["l2.weight"], p["l2.bias"]))
    mu = F.linear(z, p["mu.weight"], p["mu.bias"])
    sigma = F.softplus(F.linear(z, p["sigma.weight"], p["sigma.bias"]))
    return mu, sigma


def log_prob(
    spec: PolicySpec, theta: torch.Tensor, s: torch.Tensor, u: torch.Tensor
) -> torch.Tensor:
    """Gaussian log-density of pre-squash actions ``u`` given states ``s``; shape ``s.shape[:-1]``.

    Notes
    -----
    .. math::
        \\log \\pi_\\theta(u|s) = \\sum_{k=1}^{d_a} \\Big[
        -\\frac{(u_k - \\mu_k(s))^2}{2\\sigma_k(s)^2}
        - \\log \\sigma_k(s) - \\tfrac12 \\log 2\\pi\\Big]

    Its theta-gradient equals that of the density of ``a = scale * tanh(u)`` (module docstring).

    Paper: Appendix H (u ~ N(mu, diag sigma^2)); the score in equation (3).
    """
    mu, sigma = mu_sigma(spec, theta, s)
    z = (u - mu) / sigma
    return (-0.5 * z * z - torch.log(sigma) - 0.5 * _LOG_2PI).sum(-1)


def numpy_params(spec: PolicySpec, theta: np.ndarray) -> tuple[np.ndarray, ...]:
    """(W1^T, b1, W2^T, b2, [W_mu; W_sigma]^T, [b_mu; b_sigma]) as contiguous numpy arrays.

    The rollout evaluates the policy with these (no autograd needed while sampling; numpy's
    per-call overhead is a few microseconds against torch's ~15, which matters for B = 1).
    """
    theta = np.asarray(theta, dtype=np.float64)
    if theta.shape != (spec.dim,):
        raise ValueError(f"theta must have shape ({spec.dim},), got {theta.shape}")
    p, start = {}, 0
    for name, shape in spec.shapes:  # the blocks of :func:`unflatten`, without torch
        size = math.prod(shape)
        p[name] = theta[start : start + size].reshape(shape)
        start += size
    heads_w = np.concatenate([p["mu.weight"], p["sigma.weight"]]).T.copy()
    heads_b = np.concatenate([p["mu.bias"], p["sigma.bias"]])
    return (p["l1.weight"].T.copy(), p["l1.bias"].copy(), p["l2.weight"].T.copy(),
            p["l2.bias"].copy(), heads_w, heads_b)  # fmt: skip


def numpy_mu_sigma(params: tuple[np.ndarray, ...], s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`mu_sigma` in numpy on :func:`numpy_params` (same formula; softplus with torch's
    threshold 20 above which it returns its input)."""
    W1, b1, W2, b2, Wh, bh = params
    z = np.tanh(np.tanh(s @ W1 + b1) @ W2 + b2)
    heads = z @ Wh + bh
    d_a = heads.shape[-1] // 2
    x = heads[..., d_a:]
    sigma = np.where(x > 20.0, x, np.log1p(np.exp(np.minimum(x, 20.0))))
    return heads[..., :d_a], sigma


def squash(spec: PolicySpec, u: np.ndarray) -> np.ndarray:
    """Environment action ``a = scale * tanh(u)`` (Appendix H)."""
    return spec.scale_array * np.tanh(u)
