"""The truncated policy-gradient estimator g_H of equation (3) for a batch of trajectories.

Two forms:

* :func:`gradient_sum` - ``sum_j g_H(tau_j, theta)`` with ONE backward pass over the batch
  (the loss ``sum_j sum_t G_{j,t} log pi(u_{j,t}|s_{j,t})`` is linear in the per-trajectory
  terms, so its gradient is the sum of the per-trajectory estimators);
* :func:`gradient_samples` - every ``g_H(tau_j, theta)`` separately.

Each has a numpy implementation (the hand-written backward pass of the small Appendix H
network, :func:`numpy_score_sum`; what the oracle uses) and a torch autograd reference
(:func:`gradient_sum_torch`, :func:`gradient_samples_torch`, ``torch.func.vmap`` over
trajectories); the tests compare them. The numpy pass avoids torch's fixed cost of about
0.7 ms per backward, which dominated single-trajectory calls (AFedPG, the real backend's
server mode: one trajectory per call).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.func import grad, vmap

from algorithms.mujoco.policy import PolicySpec, log_prob, numpy_params
from algorithms.mujoco.rollout import Trajectories
from theory import checks


def reward_to_go(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """Discounted reward-to-go, discounted from time 0 as in equation (3).

    Notes
    -----
    .. math:: G_t = \\sum_{h=t}^{H-1} \\gamma^h r(s_h, a_h)

    (note :math:`\\gamma^h`, not :math:`\\gamma^{h-t}`). ``rewards`` has shape (B, T);
    rewards after the end of an episode must already be zero.

    Paper: equation (3).
    """
    gamma = checks.open_unit("gamma", gamma)
    rewards = np.asarray(rewards, dtype=np.float64)
    disc = rewards * gamma ** np.arange(rewards.shape[-1])
    return np.flip(np.cumsum(np.flip(disc, -1), -1), -1)


def _weights(traj: Trajectories, gamma: float) -> np.ndarray:
    return np.where(traj.alive, reward_to_go(traj.rewards, gamma), 0.0)


def numpy_score_sum(
    spec: PolicySpec, theta: np.ndarray, s: np.ndarray, u: np.ndarray, w: np.ndarray
) -> np.ndarray:
    """``grad_theta sum_n w_n log pi_theta(u_n | s_n)`` by a hand-written backward pass.

    ``s`` (N, d_s), ``u`` (N, d_a), ``w`` (N,). Forward as :func:`policy.mu_sigma`
    (z1 = tanh(s W1^T + b1), z2 = tanh(z1 W2^T + b2), mu = z2 W_mu^T + b_mu,
    sigma = softplus(x), x = z2 W_sig^T + b_sig), then the chain rule written out.

    Notes
    -----
    With :math:`e = (u - \\mu)/\\sigma`:

    .. math::
        \\frac{\\partial}{\\partial \\mu} = w\\,\\frac{e}{\\sigma},\\qquad
        \\frac{\\partial}{\\partial x} = w\\,\\frac{e^2 - 1}{\\sigma}\\,
        \\operatorname{sigmoid}(x)

    (``sigmoid`` replaced by 1 above torch's softplus threshold 20, where softplus(x) = x),
    then :math:`\\partial W = \\delta^T a_{in}`, :math:`\\partial b = \\sum_n \\delta` and
    :math:`\\delta_{in} = (\\delta W) \\odot (1 - z^2)` through each tanh layer.

    Paper: the score of equation (3) for the Appendix H network.
    """
    W1, b1, W2, b2, Wh, bh = numpy_params(spec, theta)
    z1 = np.tanh(s @ W1 + b1)
    z2 = np.tanh(z1 @ W2 + b2)
    heads = z2 @ Wh + bh
    d_a = spec.d_a
    mu, x = heads[:, :d_a], heads[:, d_a:]
    big = x > 20.0
    sigma = np.where(big, x, np.log1p(np.exp(np.minimum(x, 20.0))))
    e = (u - mu) / sigma
    wc = w[:, None] / sigma
    g_mu = wc * e
    dsig_dx = np.where(big, 1.0, 1.0 / (1.0 + np.exp(-np.minimum(x, 20.0))))
    g_x = wc * (e * e - 1.0) * dsig_dx
    g_heads = np.concatenate([g_mu, g_x], axis=1)
    dWh = z2.T @ g_heads  # (m, 2 d_a)
    g_a2 = (g_heads @ Wh.T) * (1.0 - z2 * z2)
    dW2 = z1.T @ g_a2
    g_a1 = (g_a2 @ W2.T) * (1.0 - z1 * z1)
    dW1 = s.T @ g_a1
    return np.concatenate([
        dW1.T.ravel(), g_a1.sum(0), dW2.T.ravel(), g_a2.sum(0),
        dWh[:, :d_a].T.ravel(), g_mu.sum(0), dWh[:, d_a:].T.ravel(), g_x.sum(0),
    ])  # fmt: skip


def gradient_sum(
    spec: PolicySpec, theta: np.ndarray, traj: Trajectories, gamma: float
) -> np.ndarray:
    """``sum_j g_H(tau_j, theta)`` over the batch: one numpy backward pass over every alive
    step (:func:`numpy_score_sum`).

    Notes
    -----
    .. math::
        \\sum_j g_H(\\tau_j, \\theta) = \\nabla_\\theta \\sum_j \\sum_{t < T_j}
        G_{j,t} \\log \\pi_\\theta(u_{j,t} | s_{j,t})

    with :math:`G` from :func:`reward_to_go` and :math:`T_j \\le H` the episode length.

    Paper: equation (3).
    """
    w = _weights(traj, gamma)[traj.alive]
    theta = np.ascontiguousarray(theta, dtype=np.float64)
    if w.size == 0:
        return np.zeros(spec.dim)
    return numpy_score_sum(spec, theta, traj.states[traj.alive], traj.u[traj.alive], w)


def gradient_samples(
    spec: PolicySpec, theta: np.ndarray, traj: Trajectories, gamma: float
) -> np.ndarray:
    """Every ``g_H(tau_j, theta)`` separately; shape (B, d): one numpy backward pass per
    trajectory over its alive steps.

    Notes
    -----
    .. math:: g_H(\\tau_j, \\theta) = \\sum_{t < T_j} G_{j,t}
        \\nabla_\\theta \\log \\pi_\\theta(u_{j,t} | s_{j,t})

    Paper: equation (3).
    """
    B = traj.states.shape[0]
    out = np.zeros((B, spec.dim))
    if B == 0 or traj.states.shape[1] == 0:
        return out
    theta = np.ascontiguousarray(theta, dtype=np.float64)
    W = _weights(traj, gamma)
    for j in range(B):
        alive = traj.alive[j]
        if alive.any():
            out[j] = numpy_score_sum(spec, theta, traj.states[j][alive], traj.u[j][alive],
                                     W[j][alive])  # fmt: skip
    return out


def gradient_sum_torch(
    spec: PolicySpec, theta: np.ndarray, traj: Trajectories, gamma: float
) -> np.ndarray:
    """Reference for :func:`gradient_sum`: ``sum_j g_H(tau_j, theta)`` by torch autograd
    (one backward pass).

    Notes
    -----
    .. math::
        \\sum_j g_H(\\tau_j, \\theta) = \\nabla_\\theta \\sum_j \\sum_{t < T_j}
        G_{j,t} \\log \\pi_\\theta(u_{j,t} | s_{j,t})

    with :math:`G` from :func:`reward_to_go` and :math:`T_j \\le H` the episode length.

    Paper: equation (3).
    """
    w = _weights(traj, gamma)[traj.alive]
    th = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    if w.size == 0:
        return np.zeros(spec.dim)
    s = torch.from_numpy(traj.states[traj.alive])
    u = torch.from_numpy(traj.u[traj.alive])
    loss = (torch.from_numpy(w) * log_prob(spec, th, s, u)).sum()
    loss.backward()
    return th.grad.numpy().copy()


def gradient_samples_torch(
    spec: PolicySpec, theta: np.ndarray, traj: Trajectories, gamma: float
) -> np.ndarray:
    """Reference for :func:`gradient_samples`: every ``g_H(tau_j, theta)`` by
    ``torch.func.vmap(grad(...))``; shape (B, d).

    Notes
    -----
    .. math:: g_H(\\tau_j, \\theta) = \\sum_{t < T_j} G_{j,t}
        \\nabla_\\theta \\log \\pi_\\theta(u_{j,t} | s_{j,t})

    Padded steps (after the episode ended) have weight 0 and states/u equal to 0.

    Paper: equation (3).
    """
    B = traj.states.shape[0]
    if B == 0 or traj.states.shape[1] == 0:
        return np.zeros((B, spec.dim))
    if B == 1:  # a single trajectory: the plain backward pass is cheaper than vmap
        return gradient_sum_torch(spec, theta, traj, gamma)[None, :]
    w = torch.from_numpy(_weights(traj, gamma))
    th = torch.tensor(theta, dtype=torch.float64)

    def weighted_log_prob(th_, s, u, w_):
        return (w_ * log_prob(spec, th_, s, u)).sum()

    per = vmap(grad(weighted_log_prob), in_dims=(None, 0, 0, 0))(
        th, torch.from_numpy(traj.states), torch.from_numpy(traj.u), w
    )
    return per.numpy().copy()
