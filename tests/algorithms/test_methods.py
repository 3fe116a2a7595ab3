"""Registry-wide invariants of the methods (scipy.stats style: one generic check per entry)
plus Algorithm 1 followed line by line on a deterministic oracle."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from algorithms.backends.simulated import SimulatedBackend
from algorithms.methods.base import Context
from algorithms.methods.nigt import NIGT
from algorithms.methods.patterns import rennala
from algorithms.methods.registry import REGISTRY, get
from algorithms.run import run_method
from algorithms.sim.clock import make_clock
from algorithms.tabular.setting import TabularSetting

# A small homogeneous and a small heterogeneous setting; budgets sized so that every
# method runs in well under a second.
HOMOGENEOUS = TabularSetting(S=5, A=2, gamma=0.8, H=12, n=4, h="sqrt")
HETEROGENEOUS = dataclasses.replace(HOMOGENEOUS, family="reward")
BUDGET = 150.0


def _setting(spec):
    return HOMOGENEOUS if "homogeneous" in spec.settings else HETEROGENEOUS


def _run(spec, seed=0, **kw):
    setting = _setting(spec)
    oracle, clock, rng, theta0 = setting.build(seed)
    return run_method(spec, oracle, clock, rng, theta0, max_time=kw.pop("max_time", BUDGET), **kw)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_method_improves_J(name):
    res = _run(REGISTRY[name])
    first, last = res.records[0], res.records[-1]
    assert last.time >= BUDGET
    assert last.J > first.J + 1e-3, f"{name}: J {first.J} -> {last.J}"


@pytest.mark.parametrize("name", list(REGISTRY))
def test_same_seed_same_records(name):
    a = _run(REGISTRY[name], seed=3, max_time=40.0)
    b = _run(REGISTRY[name], seed=3, max_time=40.0)
    assert a.records == b.records
    np.testing.assert_array_equal(a.theta, b.theta)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_different_seed_different_records(name):
    a = _run(REGISTRY[name], seed=1, max_time=40.0)
    b = _run(REGISTRY[name], seed=2, max_time=40.0)
    assert a.records != b.records


@pytest.mark.parametrize("name", list(REGISTRY))
def test_resume_equals_uninterrupted(name, tmp_path):
    spec = REGISTRY[name]
    full = _run(spec, seed=5, max_time=60.0)
    ckpt = tmp_path / "run.pkl"
    # "Interrupted" run: stops after a few iterations, leaving its checkpoint behind.
    part = _run(spec, seed=5, max_time=60.0, max_iters=3, checkpoint=ckpt, checkpoint_every=1)
    assert len(part.records) == 4 and ckpt.exists()
    # Resumed with the same arguments (fresh oracle/clock/rng objects: the checkpoint
    # carries the clock and Generator states reached).
    resumed = _run(spec, seed=5, max_time=60.0, checkpoint=ckpt, checkpoint_every=2)
    assert resumed.records == full.records
    np.testing.assert_array_equal(resumed.theta, full.theta)


@pytest.mark.parametrize("name", ["rennala_nigt", "afedpg"])
def test_resume_refuses_another_runs_checkpoint(name, tmp_path):
    """A checkpoint resumes only its own run: another seed (clock and Generator), other
    hyperparameters or another method are refused with a ValueError naming them."""
    from algorithms.run.checkpoint import CheckpointError

    spec = REGISTRY[name]
    ckpt = tmp_path / "run.pkl"
    _run(spec, seed=5, max_time=60.0, max_iters=3, checkpoint=ckpt, checkpoint_every=1,
         identity={"S": 5})
    with pytest.raises(CheckpointError, match="seed differs"):
        _run(spec, seed=4, max_time=60.0, checkpoint=ckpt, identity={"S": 5})
    with pytest.raises(CheckpointError, match=r"alpha = 0\.\d+ there, 0\.123 here"):
        _run(spec, seed=5, max_time=60.0, checkpoint=ckpt, hyper={"alpha": 0.123},
             identity={"S": 5})
    with pytest.raises(CheckpointError, match="method = "):
        _run(REGISTRY["sync_nigt"], seed=5, max_time=60.0, checkpoint=ckpt, identity={"S": 5})
    with pytest.raises(CheckpointError, match="S = 5 there, 6 here"):
        _run(spec, seed=5, max_time=60.0, checkpoint=ckpt, identity={"S": 6})


@pytest.mark.parametrize("name", list(REGISTRY))
def test_counters_are_consistent(name):
    res = _run(REGISTRY[name], seed=0, max_time=40.0)
    for prev, cur in zip(res.records, res.records[1:], strict=False):
        assert cur.time >= prev.time
        assert cur.gradients_evaluated >= prev.gradients_evaluated
        assert cur.communications >= prev.communications
    last = res.records[-1]
    assert 0 < last.gradients_evaluated <= last.gradients_simulated


def test_spec_metadata_matches_theory_tables():
    """The registry and theory.complexity are two independent transcriptions of Tables 1-2:
    AllReduce support and heterogeneous support must agree wherever both list a method."""
    from theory.complexity import table1, table2

    t1, t2 = table1([1.0, 2.0], 0.1, 1.0), table2([1.0, 2.0], 0.1, 1.0)
    shared = (set(t1) | set(t2)) & set(REGISTRY)
    assert shared == {
        "vanilla_pg",
        "sync_nigt",
        "rennala_pg",
        "afedpg",
        "rennala_nigt",
        "malenia_pg",
        "malenia_nigt",
    }
    for name in shared:
        row = t1.get(name) or t2[name]
        assert get(name).allreduce is row.supports_allreduce, name
    for name, row in t2.items():
        if name in REGISTRY:
            assert ("heterogeneous" in get(name).settings) is row.supported, name


def test_unknown_method_names_parameter():
    with pytest.raises(ValueError, match="method"):
        get("rennala_sgd")


@pytest.mark.parametrize(
    "bad",
    [
        {"eta": 0.0},
        {"eta": 1.5},
        {"alpha": -1.0},
        {"M": 0},
        {"M_init": 2.5},
        {"alpha": float("nan")},
    ],
)
def test_bad_hyperparameters_name_the_parameter(bad):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        get("rennala_nigt").resolve(bad)


def test_unknown_hyperparameter_is_rejected():
    with pytest.raises(ValueError, match="K"):
        get("rennala_nigt").resolve({"K": 3})


class _Quadratic:
    """Deterministic oracle: every sample is grad of -||theta - c||^2 / 2, i.e. c - theta."""

    n_envs = 1

    def __init__(self, c):
        self.c = np.asarray(c, dtype=float)
        self.dim = self.c.size

    def sample_gradients(self, theta, agents, rng):
        return np.tile(self.c - theta, (len(agents), 1))

    def sum_gradients(self, theta, counts, rng):
        counts = np.asarray(counts)
        return counts[:, None] * (self.c - theta)[None, :]


def test_algorithm_1_line_by_line():
    """Rennala NIGT on a noise-free quadratic against Algorithm 1 computed by hand."""
    c = np.array([3.0, -1.0])
    eta, alpha = 0.5, 0.25
    ctx = Context(
        oracle=_Quadratic(c),
        backend=SimulatedBackend(make_clock([1.0, 2.0])),
        rng=np.random.default_rng(0),
        hyper={"eta": eta, "alpha": alpha, "M": 3, "M_init": 2},
    )
    method = NIGT(aggregate=rennala)
    theta0 = np.zeros(2)
    s = method.init(theta0, ctx)
    # line 2: d0 = c - theta0 = (3, -1); line 3: theta1 = theta0 + alpha d0/||d0||
    d0 = c - theta0
    theta1 = theta0 + alpha * d0 / np.linalg.norm(d0)
    np.testing.assert_allclose(s.theta, theta1)
    np.testing.assert_allclose(s.d, d0)
    s2 = method.step(s, ctx)
    # line 5: (1 - eta)/eta = 1 -> tilde = 2 theta1 - theta0; line 6: g = c - tilde
    tilde = theta1 + (theta1 - theta0)
    g = c - tilde
    d1 = 0.5 * d0 + 0.5 * g  # line 7
    theta2 = theta1 + alpha * d1 / np.linalg.norm(d1)  # line 8
    np.testing.assert_allclose(s2.d, d1)
    np.testing.assert_allclose(s2.theta, theta2)
    np.testing.assert_allclose(s2.theta_prev, theta1)
    # Clock: fixed h = (1, 2), kappa = 0. Round 1 (M_init = 2): agent 1 returns at 1 and 2,
    # agent 2 at 2, so the 2nd gradient arrives at t = 2. Round 2 (M = 3) starts at 2:
    # arrivals at 3 (agent 1) and 4 (agents 1 and 2), so it ends at t = 4.
    assert ctx.backend.now == pytest.approx(4.0)
