"""Every registry method followed line by line on a deterministic oracle, against values
worked out by hand (in the style of test_methods.test_algorithm_1_line_by_line).

The oracle: agent i's every sample is a_i (c_i - theta), the gradient of
-a_i ||theta - c_i||^2 / 2, with no noise, so each method's first updates can be written out.
Clocks have fixed times h = (1, 2), kappa = 0 unless stated.
"""

from __future__ import annotations

import numpy as np
import pytest

from algorithms.backends.simulated import SimulatedBackend
from algorithms.methods.afedpg import afedpg_agent_direction, afedpg_update
from algorithms.methods.base import Context
from algorithms.methods.lapg import batch_variance, lapg_threshold, upload_rule
from algorithms.methods.registry import REGISTRY, get
from algorithms.sim.clock import make_clock


class _Quad:
    """Deterministic oracle: agent i's sample is a_i (c_i - theta)."""

    def __init__(self, c, a=None):
        self.c = np.asarray(c, dtype=float)  # (n, d)
        self.a = np.ones(len(self.c)) if a is None else np.asarray(a, dtype=float)
        self.dim = self.c.shape[1]
        self.n_envs = len(self.c)
        self.points = []  # (agent, theta) of every sample_gradients call

    def grad(self, i, theta):
        return self.a[i] * (self.c[i] - theta)

    def sample_gradients(self, theta, agents, rng, should_stop=None):
        self.points += [(int(i), np.array(theta)) for i in agents]
        return np.array([self.grad(int(i), theta) for i in agents])

    def sum_gradients(self, theta, counts, rng):
        return np.array([k * self.grad(i, theta) for i, k in enumerate(counts)])


def _ctx(oracle, hyper, h=(1.0, 2.0), kappa=None):
    clock = make_clock(list(h)) if kappa is None else make_clock(list(h), kappa)
    return Context(oracle=oracle, backend=SimulatedBackend(clock),
                   rng=np.random.default_rng(0), hyper=hyper)  # fmt: skip


def _unit(v):
    return v / np.linalg.norm(v)


C_SAME = [[3.0, -1.0], [3.0, -1.0]]
C_DIFF = [[3.0, -1.0], [-1.0, 2.0]]
THETA0 = np.zeros(2)


# ------------------------------------------------------------------ AFedPG (both variants)
def test_afedpg_update_by_hand():
    theta, g = np.array([1.0, 0.0]), np.array([0.0, 2.0])
    t1, d1, x1 = afedpg_update(theta, None, g, 0.25, 0.5)
    np.testing.assert_allclose(d1, g)  # first arrival: d = g
    np.testing.assert_allclose(t1, [1.0, 0.5])  # theta + 0.5 * (0, 1)
    np.testing.assert_allclose(x1, [1.0, 0.5 + 3 * 0.5])  # (1 - eta)/eta = 3
    t2, d2, x2 = afedpg_update(t1, d1, np.array([4.0, 0.0]), 0.25, 0.5)
    np.testing.assert_allclose(d2, [1.0, 1.5])  # 0.75 (0, 2) + 0.25 (4, 0)
    np.testing.assert_allclose(t2, t1 + 0.5 * np.array([1.0, 1.5]) / np.sqrt(3.25))
    np.testing.assert_allclose(x2, t2 + 3 * (t2 - t1))
    np.testing.assert_allclose(afedpg_agent_direction(None, g, 0.25), g)
    np.testing.assert_allclose(afedpg_agent_direction(d1, np.array([4.0, 0.0]), 0.25), d2)


@pytest.mark.parametrize("name", ["afedpg", "afedpg_agent"])
def test_afedpg_line_by_line(name):
    """h = (1, 2), kappa = 0. Agent 0 arrives at t = 1 (computed at theta_0), is sent the
    lookahead point x_0 and arrives again at t = 2, together with agent 1 (computed at
    theta_0, stale by one update); ties go to the lower index."""
    eta, alpha = 0.5, 0.25  # (1 - eta)/eta = 1: x = 2 theta' - theta
    c = np.array(C_SAME[0])
    oracle = _Quad(C_SAME)
    ctx = _ctx(oracle, {"eta": eta, "alpha": alpha})
    m = get(name).build({})
    s = m.init(THETA0, ctx)
    # arrival 1: agent 0, g = c - theta_0; d = g; theta_1 = theta_0 + alpha g/||g||
    s1 = m.step(s, ctx)
    g1 = c - THETA0
    th1 = THETA0 + alpha * _unit(g1)
    np.testing.assert_allclose(s1.theta, th1)
    np.testing.assert_allclose(s1.d, g1)
    x0 = th1 + (th1 - THETA0)  # the point sent to agent 0
    np.testing.assert_allclose(s1.scheduler._theta[0], x0)
    assert ctx.backend.now == 1.0
    # arrival 2: agent 0 again, g computed at x0
    s2 = m.step(s1, ctx)
    g2 = c - x0
    d2 = (1 - eta) * g1 + eta * g2  # both variants: agent 0's d was g1 (received with x0)
    th2 = th1 + alpha * _unit(d2)
    np.testing.assert_allclose(oracle.points[-1][1], x0)
    np.testing.assert_allclose(s2.theta, th2)
    np.testing.assert_allclose(s2.d, d2)
    np.testing.assert_allclose(s2.scheduler._theta[0], th2 + (th2 - th1))
    # arrival 3: agent 1, g computed at theta_0
    s3 = m.step(s2, ctx)
    g3 = c - THETA0
    if name == "afedpg":  # the server folds the stale gradient into its own buffer
        d3 = (1 - eta) * d2 + eta * g3
    else:  # the agent had received no momentum: it uploads g3 alone
        d3 = g3
    th3 = th2 + alpha * _unit(d3)
    np.testing.assert_allclose(s3.theta, th3)
    np.testing.assert_allclose(s3.d, d3)
    np.testing.assert_allclose(s3.scheduler._theta[1], th3 + (th3 - th2))
    assert ctx.backend.now == 2.0 and s3.t == 3


@pytest.mark.parametrize("name, vectors", [("afedpg", 1), ("afedpg_agent", 2)])
def test_afedpg_download_charge(name, vectors):
    """h = (1, 2), kappa = (0.5, 0.5). Every agent receives theta_0 at 0.5 (one vector) and
    uploads at 1.5 + 0.5 = 2.0 (agent 0) and 2.5 + 0.5 = 3.0 (agent 1). After its first
    arrival agent 0 gets the new point back: the server variant sends x alone (kappa), the
    agent variant x and its momentum d (2 kappa: before this was charged, both variants
    took kappa and afedpg_agent's download was half its cost). So agent 0's second upload
    arrives at 2.0 + vectors * 0.5 + 1 + 0.5."""
    oracle = _Quad(C_SAME)
    ctx = _ctx(oracle, {"eta": 0.5, "alpha": 0.25}, kappa=[0.5, 0.5])
    m = get(name).build({})
    s = m.init(THETA0, ctx)
    s1 = m.step(s, ctx)
    assert ctx.backend.now == 2.0 and s1.scheduler.downloads == 2 + vectors
    t = ctx.rounds[-1]
    assert t.communication_time == 0.5 + vectors * 0.5 and t.n_communications == 1 + vectors
    s2 = m.step(s1, ctx)  # agent 1's first gradient (3.0) or agent 0's second
    s3 = m.step(s2, ctx)
    arrivals = sorted([3.0, 2.0 + vectors * 0.5 + 1.5])
    assert [r.arrival.arrival for r in ctx.rounds[-2:]] == arrivals
    assert s3.t == 3


# ------------------------------------------------------------------ LAPG
def test_lapg_threshold_and_variance_by_hand():
    # (1/alpha^2) xi sum of squared steps: 0.5^-2 * 0.1 * (1 + 3) = 1.6
    assert lapg_threshold((1.0, 3.0), 0.5, 0.1) == pytest.approx(1.6)
    # samples (1, 0), (3, 0), (2, 3): mean (2, 1); squared deviations 1+1, 1+1, 0+4 = 8;
    # 8 / (N (N - 1)) = 8 / 6
    assert batch_variance(np.array([[1.0, 0.0], [3.0, 0.0], [2.0, 3.0]])) == pytest.approx(8 / 6)
    with pytest.raises(ValueError, match="batch"):
        batch_variance(np.ones((1, 2)))
    g_last = np.zeros((2, 1))
    grads = np.array([[2.0], [3.0]])  # innovations 4 and 9
    # threshold 1.6 + 6 sigma^2 with sigma^2 = (0.5, 0.5): 4.6 -> agent 0 skips, agent 1 uploads
    rule = upload_rule(g_last, (1.0, 3.0), 0.5, 0.1, np.array([0.5, 0.5]))
    assert rule(grads).tolist() == [False, True]
    assert upload_rule(g_last, (1.0, 3.0), 0.5, 0.1)(grads).tolist() == [True, True]
    assert upload_rule(None, (), 0.5, 0.1)(grads).tolist() == [True, True]  # first round


@pytest.mark.parametrize("xi, mask", [(0.2, [True, True]), (0.4, [False, True])])
def test_lapg_line_by_line(xi, mask):
    """a = (1, 2), same target c, alpha = 0.5 (alpha^2 = 0.25), batch 2.

    Round 1: every agent uploads; g_last = a_i (c - theta_0); theta_1 = theta_0 + alpha mean.
    Round 2: agent i's innovation is a_i^2 ||theta_1 - theta_0||^2; the threshold is
    xi ||theta_1 - theta_0||^2 / alpha^2, so agent i uploads iff a_i^2 alpha^2 >= xi:
    (0.25, 1.0) against xi = 0.2 (both upload) or 0.4 (agent 0 skips). Dividing by alpha
    instead of alpha^2 would give (0.5, 2.0) >= 0.4: both upload, so the test would fail.
    """
    alpha = 0.5
    c = np.array(C_SAME[0])
    oracle = _Quad(C_SAME, a=[1.0, 2.0])
    ctx = _ctx(oracle, {"alpha": alpha, "xi": xi, "D": 10, "batch": 2})
    m = get("lapg").build({})
    s = m.step(m.init(THETA0, ctx), ctx)
    g0 = np.array([1.0, 2.0])[:, None] * (c - THETA0)
    np.testing.assert_allclose(s.g_last, g0)
    th1 = THETA0 + alpha * g0.mean(axis=0)
    np.testing.assert_allclose(s.theta, th1)
    assert s.steps == (pytest.approx(np.sum((th1 - THETA0) ** 2)),) and s.uploads == 2
    s2 = m.step(s, ctx)
    new = np.array([1.0, 2.0])[:, None] * (c - th1)
    expect_last = np.where(np.array(mask)[:, None], new, g0)  # a skipped agent's old gradient
    np.testing.assert_allclose(s2.g_last, expect_last)
    np.testing.assert_allclose(s2.theta, th1 + alpha * expect_last.mean(axis=0))
    assert s2.uploads == 2 + sum(mask)
    assert ctx.rounds[-1].uploaded.tolist() == mask


def test_lapg_var_on_a_noise_free_oracle_equals_lapg():
    """With no noise the estimated sigma_m^2 is 0, so (16) with the variance term is (16)."""
    ctx_a = _ctx(_Quad(C_SAME, a=[1.0, 2.0]), {"alpha": 0.5, "xi": 0.4, "D": 10, "batch": 2})
    ctx_b = _ctx(_Quad(C_SAME, a=[1.0, 2.0]), {"alpha": 0.5, "xi": 0.4, "D": 10, "batch": 2})
    a, b = get("lapg").build({}), get("lapg_var").build({})
    sa, sb = a.init(THETA0, ctx_a), b.init(THETA0, ctx_b)
    for _ in range(3):
        sa, sb = a.step(sa, ctx_a), b.step(sb, ctx_b)
    np.testing.assert_array_equal(sa.theta, sb.theta)
    assert sa.uploads == sb.uploads


# ------------------------------------------------------------------ NIGT with other rounds
def test_sync_nigt_line_by_line():
    """Synchronized rounds: each agent one gradient, the mean; a round lasts max_i h_i = 2."""
    eta, alpha = 0.5, 0.25
    oracle = _Quad(C_DIFF)
    cbar = np.mean(C_DIFF, axis=0)
    ctx = _ctx(oracle, {"eta": eta, "alpha": alpha, "batch": 1})
    m = get("sync_nigt").build({})
    s = m.init(THETA0, ctx)
    d0 = cbar - THETA0  # mean_i (c_i - theta_0)
    th1 = THETA0 + alpha * _unit(d0)
    np.testing.assert_allclose(s.theta, th1)
    assert ctx.backend.now == 2.0
    s2 = m.step(s, ctx)
    tilde = 2 * th1 - THETA0
    d1 = 0.5 * d0 + 0.5 * (cbar - tilde)
    np.testing.assert_allclose(s2.d, d1)
    np.testing.assert_allclose(s2.theta, th1 + alpha * _unit(d1))
    assert ctx.backend.now == 4.0


def test_malenia_nigt_line_by_line():
    """Malenia's estimate is 1/n sum_i gbar_i / M_i: the mean of the per-agent means, however
    many gradients each agent computed (agent 0 computes more here)."""
    eta, alpha = 0.5, 0.25
    oracle = _Quad(C_DIFF)
    cbar = np.mean(C_DIFF, axis=0)
    ctx = _ctx(oracle, {"eta": eta, "alpha": alpha, "M": 3, "M_init": 3})
    m = get("malenia_nigt").build({})
    s = m.init(THETA0, ctx)
    np.testing.assert_allclose(s.d, cbar - THETA0)
    counts = ctx.rounds[-1].counts
    assert counts[0] > counts[1] >= 1  # agent 0 (h = 1) computed more
    # stop iff n^2 >= M sum 1/M_i: t = 2: M = (2, 1): 3 (1/2 + 1) = 4.5 > 4; t = 3: M = (3, 1):
    # 3 (1/3 + 1) = 4 <= 4
    assert ctx.backend.now == 3.0 and counts.tolist() == [3, 1]
    th1 = THETA0 + alpha * _unit(cbar - THETA0)
    s2 = m.step(s, ctx)
    tilde = 2 * th1 - THETA0
    d1 = 0.5 * (cbar - THETA0) + 0.5 * (cbar - tilde)
    np.testing.assert_allclose(s2.theta, th1 + alpha * _unit(d1))


# ------------------------------------------------------------------ plain gradient steps
def test_vanilla_pg_line_by_line():
    oracle = _Quad(C_DIFF)
    ctx = _ctx(oracle, {"alpha": 0.5, "batch": 2})
    m = get("vanilla_pg").build({})
    s = m.step(m.init(THETA0, ctx), ctx)
    np.testing.assert_allclose(s.theta, 0.5 * np.mean(C_DIFF, axis=0))
    assert ctx.backend.now == 4.0  # 2 gradients each, the slower agent takes 2 x 2 s


def test_rennala_pg_line_by_line():
    """First M = 3 arrivals with h = (1, 2): agent 0 at 1 and 2, agent 1 at 2: weights 2/3, 1/3."""
    oracle = _Quad(C_DIFF)
    ctx = _ctx(oracle, {"alpha": 0.5, "M": 3})
    m = get("rennala_pg").build({})
    s = m.step(m.init(THETA0, ctx), ctx)
    c0, c1 = np.array(C_DIFF[0]), np.array(C_DIFF[1])
    np.testing.assert_allclose(s.theta, 0.5 * (2 * c0 + c1) / 3)
    assert ctx.backend.now == 2.0


def test_malenia_pg_line_by_line():
    oracle = _Quad(C_DIFF)
    ctx = _ctx(oracle, {"alpha": 0.5, "M": 3})
    m = get("malenia_pg").build({})
    s = m.step(m.init(THETA0, ctx), ctx)
    np.testing.assert_allclose(s.theta, 0.5 * np.mean(C_DIFF, axis=0))  # unbiased mean


def test_fast_fedpg_line_by_line():
    """K = 2 local steps theta <- theta + alpha (g_i(theta) - c_i + c), then the average.

    With g_i(theta) = c_i - theta and the corrections c_i = g_i(theta_0), c = mean: the
    corrected step is theta + alpha (cbar - theta) for every agent (the drift cancels)."""
    alpha = 0.25
    oracle = _Quad(C_DIFF)
    ctx = _ctx(oracle, {"alpha": alpha, "K": 2, "alpha_g": 1.0, "batch": 1})
    m = get("fast_fedpg").build({})
    s = m.init(THETA0, ctx)
    np.testing.assert_allclose(s.c_i, np.array(C_DIFF))
    cbar = np.mean(C_DIFF, axis=0)
    s2 = m.step(s, ctx)
    t = THETA0.copy()
    for _ in range(2):
        t = t + alpha * (cbar - t)
    np.testing.assert_allclose(s2.theta, t)
    np.testing.assert_allclose(s2.c_i, np.array(C_DIFF) - t)  # corrections at the new point


def test_every_registry_method_has_a_line_by_line_test():
    covered = {"afedpg", "afedpg_agent", "lapg", "lapg_var", "sync_nigt", "malenia_nigt",
               "vanilla_pg", "rennala_pg", "malenia_pg", "fast_fedpg",
               "rennala_nigt"}  # rennala_nigt: test_methods.test_algorithm_1_line_by_line
    assert set(REGISTRY) == covered
