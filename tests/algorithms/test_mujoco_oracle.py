"""MujocoOracle: the GradientOracle contract, rollouts, determinism, heterogeneous pair."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gymnasium")

from algorithms.mujoco.envs import make_env  # noqa: E402
from algorithms.mujoco.gradient import gradient_sum  # noqa: E402
from algorithms.mujoco.oracle import MujocoOracle  # noqa: E402
from algorithms.mujoco.rollout import Trajectories, rollout  # noqa: E402
from algorithms.oracle import CountingOracle, GradientOracle, sum_from_samples  # noqa: E402

pytestmark = pytest.mark.mujoco


@pytest.fixture(scope="module")
def hopper():
    o = MujocoOracle("Hopper-v4", H=40, gamma=0.99)
    yield o
    o.close()


@pytest.fixture(scope="module")
def reacher_pair():
    o = MujocoOracle("Reacher-v4", H=12, gamma=0.9, heterogeneous=True)
    yield o
    o.close()


def test_implements_gradient_oracle(hopper):
    assert isinstance(hopper, GradientOracle)
    assert hopper.n_envs == 1
    # Hopper-v4: d_s = 11, d_a = 3 -> 64*11 + 64 + 64*64 + 64 + 2*(64*3 + 3)
    assert hopper.dim == 704 + 64 + 4096 + 64 + 390 == 5318


def test_same_rng_state_gives_identical_output(hopper):
    theta = hopper.init_theta(np.random.default_rng(0))
    agents = np.array([0, 3, 3, 1])
    a = hopper.sample_gradients(theta, agents, np.random.default_rng(5))
    b = hopper.sample_gradients(theta, agents, np.random.default_rng(5))
    c = hopper.sample_gradients(theta, agents, np.random.default_rng(6))
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)
    assert a.shape == (4, hopper.dim) and np.all(np.isfinite(a))
    # independent trajectories within one call: rows differ
    assert not np.allclose(a[1], a[2])


def test_sum_gradients_matches_grouped_samples(hopper):
    theta = hopper.init_theta(np.random.default_rng(1))
    counts = np.array([2, 0, 1])
    sums = hopper.sum_gradients(theta, counts, np.random.default_rng(9))
    # sum_from_samples draws the same agents array np.repeat(arange, counts) from the same rng
    ref = sum_from_samples(hopper, theta, counts, np.random.default_rng(9))
    np.testing.assert_allclose(sums, ref, rtol=1e-9, atol=1e-9)
    assert not sums[1].any() and sums[0].any()
    assert hopper.sum_gradients(theta, np.zeros(3, int), np.random.default_rng(0)).shape == (
        3,
        hopper.dim,
    )


def test_rollout_replays_in_a_fresh_env(hopper):
    """States and rewards are the env's own for actions scale*tanh(u) from the seeded reset."""
    theta = hopper.init_theta(np.random.default_rng(2))
    traj = hopper.trajectories(theta, np.zeros(3, int), np.random.default_rng(11))
    seeds = np.random.default_rng(11).integers(0, 2**31 - 1, size=3)  # first draw of rollout
    for j in range(3):
        env = make_env("Hopper-v4", H=40)
        s, _ = env.reset(seed=int(seeds[j]))
        for t in range(int(traj.lengths[j])):
            np.testing.assert_array_equal(traj.states[j, t], s)
            s, r, terminated, truncated, _ = env.step(np.tanh(traj.u[j, t]))
            assert traj.rewards[j, t] == r
        assert terminated or truncated
        assert truncated == (traj.lengths[j] == 40)


def test_early_termination_stops_contributing():
    """A Hopper falls quickly under a large-variance policy: after the end zero reward."""
    o = MujocoOracle("Hopper-v4", H=200)
    theta = o.init_theta(np.random.default_rng(3))
    theta[-3:] = 3.0  # sigma-head bias: sigma ~ 3, actions saturate, the hopper falls
    traj = o.trajectories(theta, np.zeros(4, int), np.random.default_rng(0))
    assert (traj.lengths < 200).all()
    for j, L in enumerate(traj.lengths):
        assert traj.alive[j, :L].all() and not traj.alive[j, L:].any()
        assert not traj.rewards[j, L:].any()
    o.close()


def test_reacher_never_terminates_runs_full_horizon(reacher_pair):
    theta = reacher_pair.init_theta(np.random.default_rng(4))
    traj = reacher_pair.trajectories(theta, np.arange(4), np.random.default_rng(0))
    assert (traj.lengths == 12).all() and traj.states.shape == (4, 12, 12)


def test_heterogeneous_agents_see_their_flag_and_sign(reacher_pair):
    assert reacher_pair.n_envs == 2 and reacher_pair.spec.d_s == 11 + 1  # Reacher-v4 state + flag
    theta = reacher_pair.init_theta(np.random.default_rng(5))
    agents = np.array([0, 1, 2, 3, 5])
    traj = reacher_pair.trajectories(theta, agents, np.random.default_rng(1))
    np.testing.assert_array_equal(traj.states[:, :, -1], (agents % 2)[:, None] * np.ones(12))
    # Reacher's first two coordinates are cos(qpos) > 0 near the start: sign visible
    assert (traj.states[agents % 2 == 0, 0, :2] > 0).all()
    assert (traj.states[agents % 2 == 1, 0, :2] < 0).all()


def test_counting_wrapper_and_average_return(reacher_pair):
    counting = CountingOracle(reacher_pair)
    theta = reacher_pair.init_theta(np.random.default_rng(6))
    counting.sum_gradients(theta, np.array([3, 1]), np.random.default_rng(0))
    assert counting.cost.samples == 4 and counting.cost.per_agent == {0: 3, 1: 1}
    r1 = reacher_pair.average_return(theta, 4, np.random.default_rng(2))
    r2 = reacher_pair.episode_returns(theta, 4, np.random.default_rng(2))
    assert r1 == pytest.approx(r2.mean()) and np.isfinite(r1)
    assert (r2 < 0).all()  # Reacher rewards are negative distances and control costs


def test_rollout_and_gradient_functions_compose(hopper):
    theta = hopper.init_theta(np.random.default_rng(7))
    envs = [make_env("Hopper-v4", H=5) for _ in range(2)]
    traj = rollout(hopper.spec, theta, envs, 5, np.random.default_rng(0))
    assert isinstance(traj, Trajectories) and traj.u.shape[0] == 2
    g = gradient_sum(hopper.spec, theta, traj, 0.99)
    assert g.shape == (hopper.dim,)
    with pytest.raises(ValueError, match="envs"):
        rollout(hopper.spec, theta, [envs[0], envs[0]], 5, np.random.default_rng(0))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda o, th, r: o.sample_gradients(th[:-1], np.array([0]), r), "theta"),
        (lambda o, th, r: o.sample_gradients(th * np.nan, np.array([0]), r), "theta"),
        (lambda o, th, r: o.sample_gradients(th, np.array([-1]), r), "agents"),
        (lambda o, th, r: o.sum_gradients(th, np.array([1, -1]), r), "counts"),
        (lambda o, th, r: o.sample_gradients(th, np.array([0.5]), r), "agents"),
        (lambda o, th, r: o.sum_gradients(th, np.array([[1, 2]]), r), "counts"),
        (lambda o, th, r: o.average_return(th, 0, r), "episodes"),
    ],
)
def test_bad_input_rejected(hopper, call, match):
    theta = hopper.init_theta(np.random.default_rng(0))
    with pytest.raises(ValueError, match=match):
        call(hopper, theta, np.random.default_rng(0))


@pytest.mark.parametrize("kwargs, match", [(dict(H=0), "H"), (dict(H=5, gamma=1.0), "gamma")])
def test_bad_construction_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MujocoOracle("Reacher-v4", **kwargs)


def test_g_H_is_unbiased_for_finite_difference_of_J_H():
    """E[g_H] . v equals the directional derivative of J_H (equation (3), unbiasedness).

    J_H(theta +- eps v) is estimated with common random numbers (same reset seeds and action
    noise on both sides), so its finite difference has small variance. Tolerance: 4 combined
    standard errors of the two independent means (fixed seeds, so the test is deterministic);
    the mean of g_H . v is also required to be clearly nonzero (> 3 se), so a sign error in the
    score would fail.
    """
    o = MujocoOracle("Reacher-v4", H=5, gamma=0.9)
    rng = np.random.default_rng(0)
    theta = o.init_theta(rng)
    v = rng.standard_normal(o.dim)
    v /= np.linalg.norm(v)
    N, C, eps = 2000, 100, 1e-4
    discount = 0.9 ** np.arange(5)

    def discounted_returns(th):
        r = np.random.default_rng(1)
        zeros = np.zeros(C, int)
        return np.concatenate(
            [o.trajectories(th, zeros, r).rewards @ discount for _ in range(N // C)]
        )

    fd = (discounted_returns(theta + eps * v) - discounted_returns(theta - eps * v)) / (2 * eps)
    r = np.random.default_rng(2)
    g = np.concatenate([o.sample_gradients(theta, np.zeros(C, int), r) @ v for _ in range(N // C)])
    se_fd, se_g = fd.std() / np.sqrt(N), g.std() / np.sqrt(N)
    assert abs(g.mean()) > 3 * se_g
    assert abs(g.mean() - fd.mean()) < 4 * np.hypot(se_fd, se_g)
    o.close()


def test_should_stop_abandons_the_trajectory_between_steps(hopper):
    """The stop signal is polled before every environment step: stopping after 3 polls means
    exactly 3 steps were taken (Algorithm 2 line 9, 'Stop all calculations')."""
    from algorithms.oracle import Interrupted

    polls = []

    def stop_after_three() -> bool:
        polls.append(1)
        return len(polls) > 3

    theta = hopper.init_theta(np.random.default_rng(0))
    with pytest.raises(Interrupted, match="step 3 of"):
        hopper.sample_gradients(theta, np.array([0]), np.random.default_rng(1), stop_after_three)
    assert len(polls) == 4
    # never stopping gives the same gradient as no signal at all
    a = hopper.sample_gradients(theta, np.array([0]), np.random.default_rng(1), lambda: False)
    b = hopper.sample_gradients(theta, np.array([0]), np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("env_id", ["Hopper-v4", "Reacher-v4"])
def test_single_trajectory_loop_equals_batched_loop(env_id):
    """B = 1 takes its own 1-D loop; it must draw and compute exactly what the batched loop
    does (same reset seed, same noise rows, same states, actions and rewards, bit for bit)."""
    from algorithms.mujoco.rollout import rollout

    o = MujocoOracle(env_id, H=30)
    theta = o.init_theta(np.random.default_rng(3))
    env = o._envs_for(np.zeros(1, int))
    fast = rollout(o.spec, theta, env, 30, np.random.default_rng(9))
    slow = rollout(o.spec, theta, env, 30, np.random.default_rng(9), batched=True)
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a, b)
    # the two loops leave the Generator in the same state
    r1, r2 = np.random.default_rng(9), np.random.default_rng(9)
    rollout(o.spec, theta, env, 30, r1)
    rollout(o.spec, theta, env, 30, r2, batched=True)
    assert r1.random() == r2.random()
    o.close()


def test_should_stop_on_the_batched_path(hopper):
    """The stop signal works on the batched loop too (several trajectories)."""
    from algorithms.oracle import Interrupted

    polls = []
    theta = hopper.init_theta(np.random.default_rng(0))
    with pytest.raises(Interrupted, match="step 2 of"):
        hopper.sample_gradients(
            theta, np.array([0, 0]), np.random.default_rng(1),
            lambda: polls.append(1) or len(polls) > 2,
        )  # fmt: skip
    assert len(polls) == 3
