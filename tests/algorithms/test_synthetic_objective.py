"""The synthetic oracle's objective J is the one its gradients are gradients of: checked by
central finite differences (a second method), linear and quadratic, homogeneous and not."""

import numpy as np
import pytest

from algorithms.synthetic import GaussianOracle


@pytest.mark.parametrize("quadratic", [False, True])
def test_grad_J_is_the_gradient_of_J(quadratic):
    rng = np.random.default_rng(3)
    oracle = GaussianOracle(rng.standard_normal((3, 5)), quadratic=quadratic)
    theta = rng.standard_normal(5)
    eps = 1e-6
    fd = np.array([(oracle.J(theta + eps * e) - oracle.J(theta - eps * e)) / (2 * eps)
                   for e in np.eye(5)])
    np.testing.assert_allclose(fd, oracle.grad_J(theta), rtol=1e-6, atol=1e-8)


def test_quadratic_J_by_hand():
    """mu = (1, 2) and (3, -1), theta = (0.5, 0.5): J = -1/2 mean(0.25 + 2.25, 6.25 + 2.25)."""
    oracle = GaussianOracle(np.array([[1.0, 2.0], [3.0, -1.0]]), quadratic=True)
    assert oracle.J(np.array([0.5, 0.5])) == pytest.approx(-0.5 * (2.5 + 8.5) / 2)


def test_should_stop_is_polled_before_sampling():
    from algorithms.oracle import Interrupted

    oracle = GaussianOracle(np.zeros((1, 4)))
    with pytest.raises(Interrupted):
        oracle.sample_gradients(np.zeros(4), np.array([0]), np.random.default_rng(0),
                                lambda: True)
    out = oracle.sample_gradients(np.zeros(4), np.array([0]), np.random.default_rng(0),
                                  lambda: False)
    assert out.shape == (1, 4)
