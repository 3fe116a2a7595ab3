"""g_H of equation (3) on fixed short trajectories against hand computations."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gymnasium")

from algorithms.mujoco.gradient import (  # noqa: E402
    gradient_samples,
    gradient_sum,
    reward_to_go,
)
from algorithms.mujoco.policy import PolicySpec, log_prob  # noqa: E402
from algorithms.mujoco.rollout import Trajectories  # noqa: E402

pytestmark = pytest.mark.mujoco

SPEC = PolicySpec(d_s=2, d_a=1, hidden=3)


def test_reward_to_go_by_hand():
    # rewards (1, 2, 3), gamma = 1/2, discounted from time 0 (gamma^h, not gamma^(h-t)):
    # G_0 = 1 + 2/2 + 3/4 = 2.75; G_1 = 2/2 + 3/4 = 1.75; G_2 = 3/4 = 0.75
    np.testing.assert_allclose(reward_to_go(np.array([[1.0, 2.0, 3.0]]), 0.5), [[2.75, 1.75, 0.75]])


@pytest.mark.parametrize("gamma", [0.0, 1.0, -0.5, float("nan")])
def test_reward_to_go_rejects_gamma(gamma):
    with pytest.raises(ValueError, match="gamma"):
        reward_to_go(np.ones((1, 2)), gamma)


def _fixed_trajectory():
    """Two steps, d_s = 2, d_a = 1, rewards (1, 2), gamma = 1/2 -> G = (2, 1)."""
    states = np.array([[[0.5, -1.0], [1.5, 0.25]]])
    u = np.array([[[0.3], [-0.7]]])
    rewards = np.array([[1.0, 2.0]])
    alive = np.ones((1, 2), dtype=bool)
    return Trajectories(states, u, rewards, alive, np.array([2]))


def test_g_H_heads_match_hand_formula():
    """Output-layer blocks of g_H written out by hand:

    d/d b_mu log N(u; mu, sigma) = (u - mu) / sigma^2,
    d/d b_sig log N = ((u - mu)^2 / sigma^3 - 1 / sigma) * sigmoid(pre_sigma),
    d/d W_mu = (u - mu) / sigma^2 * z, d/d W_sig = [...] * z,
    and g_H = G_0 * score_0 + G_1 * score_1 with G = (1 + 2/2, 2/2) = (2, 1).
    """
    rng = np.random.default_rng(0)
    theta = SPEC.init_theta(rng)
    traj = _fixed_trajectory()
    g = gradient_sum(SPEC, theta, traj, gamma=0.5)
    m = SPEC.hidden
    W1, b1, W2, b2, Wm, bm, Ws, bs = np.split(
        theta, np.cumsum([m * 2, m, m * m, m, m, 1, m, 1])[:-1]
    )
    G = [2.0, 1.0]
    hand = np.zeros(2 * m + 2)  # (W_mu, b_mu, W_sig, b_sig)
    for t in range(2):
        s, u = traj.states[0, t], traj.u[0, t, 0]
        z = np.tanh(W2.reshape(m, m) @ np.tanh(W1.reshape(m, 2) @ s + b1) + b2)
        mu = Wm @ z + bm[0]
        pre = Ws @ z + bs[0]
        sigma = np.log1p(np.exp(pre))
        d_mu = (u - mu) / sigma**2
        d_sig = ((u - mu) ** 2 / sigma**3 - 1 / sigma) / (1 + np.exp(-pre))
        hand += G[t] * np.concatenate([d_mu * z, [d_mu], d_sig * z, [d_sig]])
    np.testing.assert_allclose(g[-(2 * m + 2) :], hand, rtol=1e-10, atol=1e-12)


def test_g_H_all_coordinates_match_finite_differences():
    """Whole vector: g_H = grad of sum_t G_t log pi(u_t|s_t) with G held fixed (central FD)."""
    theta = SPEC.init_theta(np.random.default_rng(1))
    traj = _fixed_trajectory()
    g = gradient_sum(SPEC, theta, traj, gamma=0.5)
    s, u = torch.from_numpy(traj.states[0]), torch.from_numpy(traj.u[0])
    G = np.array([2.0, 1.0])

    def f(x):
        return float(G @ log_prob(SPEC, torch.from_numpy(x), s, u).numpy())

    eps = 1e-6
    fd = np.array(
        [(f(theta + eps * e) - f(theta - eps * e)) / (2 * eps) for e in np.eye(theta.size)]
    )
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


def _random_batch(rng, B=4, T=5):
    lengths = rng.integers(1, T + 1, size=B)
    lengths[0] = T
    alive = np.arange(T)[None, :] < lengths[:, None]
    states = rng.standard_normal((B, T, SPEC.d_s)) * alive[..., None]
    u = rng.standard_normal((B, T, SPEC.d_a)) * alive[..., None]
    rewards = rng.standard_normal((B, T)) * alive
    return Trajectories(states, u, rewards, alive, lengths)


def test_per_sample_gradients_sum_to_batched_sum_and_ignore_padding():
    rng = np.random.default_rng(2)
    theta = SPEC.init_theta(rng)
    traj = _random_batch(rng)
    per = gradient_samples(SPEC, theta, traj, 0.9)
    np.testing.assert_allclose(per.sum(0), gradient_sum(SPEC, theta, traj, 0.9), rtol=1e-10)
    for j in range(len(traj.lengths)):
        L = int(traj.lengths[j])
        alone = Trajectories(*(x[j : j + 1, :L] for x in traj[:4]), traj.lengths[j : j + 1])
        np.testing.assert_allclose(per[j], gradient_sum(SPEC, theta, alone, 0.9), rtol=1e-10)


def test_padding_with_garbage_after_the_end_is_ignored():
    """Steps with alive = False contribute nothing even if their arrays hold values."""
    rng = np.random.default_rng(3)
    theta = SPEC.init_theta(rng)
    traj = _random_batch(rng)
    noisy = traj._replace(
        states=np.where(traj.alive[..., None], traj.states, 0.3),
        u=np.where(traj.alive[..., None], traj.u, -0.2),
    )
    np.testing.assert_allclose(
        gradient_samples(SPEC, theta, noisy, 0.9), gradient_samples(SPEC, theta, traj, 0.9)
    )
    np.testing.assert_allclose(
        gradient_sum(SPEC, theta, noisy, 0.9), gradient_sum(SPEC, theta, traj, 0.9)
    )


def test_empty_batch_gives_zero():
    theta = SPEC.init_theta(np.random.default_rng(4))
    empty = Trajectories(
        np.zeros((0, 0, 2)), np.zeros((0, 0, 1)), np.zeros((0, 0)), np.zeros((0, 0), bool),
        np.zeros(0, int),
    )  # fmt: skip
    assert gradient_samples(SPEC, theta, empty, 0.9).shape == (0, SPEC.dim)
    assert not gradient_sum(SPEC, theta, empty, 0.9).any()


def test_single_trajectory_per_sample_equals_sum():
    rng = np.random.default_rng(5)
    theta = SPEC.init_theta(rng)
    traj = _random_batch(rng, B=1)
    per = gradient_samples(SPEC, theta, traj, 0.8)
    assert per.shape == (1, SPEC.dim)
    np.testing.assert_array_equal(per[0], gradient_sum(SPEC, theta, traj, 0.8))


@pytest.mark.parametrize("B", [1, 4])
def test_numpy_backward_matches_torch_autograd(B):
    """The oracle's numpy backward pass against torch autograd (sum and per-sample forms),
    with sigma pre-activations on both sides of torch's softplus threshold 20."""
    from algorithms.mujoco.gradient import gradient_samples_torch, gradient_sum_torch

    spec = PolicySpec(d_s=3, d_a=2, hidden=5)
    rng = np.random.default_rng(7)
    theta = spec.init_theta(rng)
    theta[-spec.d_a :] = [-3.0, 25.0]  # sigma biases: ordinary, above the threshold
    traj = _batch(spec, rng, B)
    np.testing.assert_allclose(
        gradient_sum(spec, theta, traj, 0.9), gradient_sum_torch(spec, theta, traj, 0.9),
        rtol=1e-10, atol=1e-12,
    )  # fmt: skip
    np.testing.assert_allclose(
        gradient_samples(spec, theta, traj, 0.9), gradient_samples_torch(spec, theta, traj, 0.9),
        rtol=1e-10, atol=1e-12,
    )  # fmt: skip


def _batch(spec, rng, B):
    T = 6
    lengths = rng.integers(1, T + 1, size=B)
    alive = np.arange(T)[None, :] < lengths[:, None]
    return Trajectories(
        rng.standard_normal((B, T, spec.d_s)) * alive[..., None],
        rng.standard_normal((B, T, spec.d_a)) * alive[..., None],
        rng.standard_normal((B, T)) * alive, alive, lengths,
    )  # fmt: skip
