"""Gymnasium environments: paper ids build and step; the H.3 inverted-state wrapper."""

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")
pytest.importorskip("torch")

from algorithms.mujoco.envs import (  # noqa: E402
    INVERTED_VARIANTS,
    AgentStateWrapper,
    action_scale,
    make_env,
)

pytestmark = pytest.mark.mujoco


@pytest.mark.parametrize("version", ["v4", "v5"])
@pytest.mark.parametrize("name", ["Humanoid", "Reacher", "Walker2d", "Hopper"])
def test_paper_envs_build_and_step(name, version):
    env = make_env(f"{name}-{version}", H=3)
    obs, _ = env.reset(seed=0)
    assert obs.shape == env.observation_space.shape
    for _ in range(3):
        obs, r, terminated, truncated, _ = env.step(np.zeros(env.action_space.shape))
        assert np.all(np.isfinite(obs)) and np.isfinite(r)
    assert truncated  # the TimeLimit is the horizon H = 3
    expected = 0.4 if name == "Humanoid" else 1.0  # symmetric bounds; float32 in gymnasium
    assert action_scale(env) == pytest.approx((expected,) * env.action_space.shape[0])
    env.close()


def test_paper_env_horizons():
    import sys

    from algorithms.experiments.figures import PAPER_H

    # experiments use environments, not the other way round: no import cycle
    assert "algorithms.experiments" not in sys.modules["algorithms.mujoco.envs"].__dict__
    assert PAPER_H == {
        "Humanoid-v4": 512,
        "Reacher-v4": 1024,
        "Walker2d-v4": 1024,
        "Hopper-v4": 1024,
    }


def test_inverted_state_wrapper_observations():
    """Agent 0 sees (s, 0) and agent 1 sees (-s, 1) of the same underlying state (H.3)."""
    raw = make_env("Hopper-v4", H=10)
    agents = [make_env("Hopper-v4", H=10, variant=v) for v in INVERTED_VARIANTS]
    s, _ = raw.reset(seed=7)
    o0, _ = agents[0].reset(seed=7)
    o1, _ = agents[1].reset(seed=7)
    rng = np.random.default_rng(0)
    for _ in range(4):
        np.testing.assert_array_equal(o0, np.append(s, 0.0))
        np.testing.assert_array_equal(o1, np.append(-s, 1.0))
        a = rng.uniform(-1, 1, size=3)
        s, r, *_ = raw.step(a)
        o0, r0, *_ = agents[0].step(a)
        o1, r1, *_ = agents[1].step(a)
        assert r == r0 == r1  # only the observation changes, not the dynamics or reward
    assert agents[1].observation_space.shape == (12,)
    assert agents[1].observation_space.contains(o1)
    assert agents[0].observation_space.low[-1] == 0.0 and agents[1].observation_space.low[-1] == 1.0


def test_wrapper_rejects_bad_sign():
    with pytest.raises(ValueError, match="sign"):
        AgentStateWrapper(make_env("Reacher-v4", H=2), sign=2.0, flag=0.0)


def test_make_env_rejects_unknown_and_discrete():
    with pytest.raises(ValueError, match="env_id"):
        make_env("NoSuchEnv-v0", H=5)
    with pytest.raises(ValueError, match="env_id"):
        make_env("CartPole-v1", H=5)
    with pytest.raises(ValueError, match="H"):
        make_env("Hopper-v4", H=0)
