"""The one gradient-oracle interface every environment implements.

A method never samples trajectories itself. The clock and an aggregation procedure
first *plan* which samples a round uses (agent i's k-th gradient at parameters theta);
then the method asks the oracle for exactly those, all at one theta, in one batched
call. Tabular MDPs (exact, numpy), MuJoCo with torch policies, and a multi-process
backend are implementations of :class:`GradientOracle`.

Samples are the truncated policy-gradient estimators of the paper:
``g_H(tau, theta)`` (equation (3)) in the homogeneous setting and ``g_{i,H}(tau_i, theta)``
(equation (5)) in the heterogeneous one, where agent i samples from its own
environment ``env_of(i)``.

Randomness: every call takes a ``numpy.random.Generator``; the oracle draws all its
randomness from it, so a run is a pure function of its seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class GradientOracle(Protocol):
    """Batched stochastic policy gradients.

    Attributes
    ----------
    dim:
        Number of parameters d (theta has shape ``(dim,)``).
    n_envs:
        Number of distinct environments. 1 means homogeneous: every agent samples the
        same MDP. Otherwise agent i samples environment ``i % n_envs`` (heterogeneous
        setting (4) uses ``n_envs == n``).
    """

    dim: int
    n_envs: int

    def sample_gradients(
        self, theta: np.ndarray, agents: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """One independent sample g_{i,H}(tau, theta) per entry of ``agents``.

        Returns an array of shape ``(len(agents), dim)``; row j uses agent ``agents[j]``'s
        environment. Paper: equations (3) and (5).
        """
        ...

    def sum_gradients(
        self, theta: np.ndarray, counts: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Per-agent sums of independent samples, all at one ``theta``.

        ``counts[i]`` samples for agent i; returns shape ``(len(counts), dim)`` whose row i
        is ``sum_{k <= counts[i]} g_{i,H}(tau_{i,k}, theta)`` (zero row if ``counts[i] == 0``).
        This is what an agent sends after aggregating locally (Algorithms 2 and 3).
        """
        ...


class Interrupted(Exception):  # noqa: N818 - a signal, not an error
    """Raised by an oracle when its ``should_stop`` callable returned True mid-trajectory.

    The real backend passes ``should_stop`` so that an agent abandons a trajectory in flight
    at the stop signal of Algorithms 2 and 3 ("Stop all calculations", line 9), checked
    between environment steps.
    """


#: A callable an oracle polls between environment steps; True means "stop now".
ShouldStop = Callable[[], bool]


@runtime_checkable
class ExactObjective(Protocol):
    """Exact objective values, available for tabular MDPs only."""

    def J(self, theta: np.ndarray) -> float: ...

    def grad_J(self, theta: np.ndarray) -> np.ndarray: ...


@dataclass
class OracleCost:
    """What an oracle actually evaluated (as opposed to what the clock simulated)."""

    calls: int = 0
    samples: int = 0
    per_agent: dict[int, int] = field(default_factory=dict)

    def add(self, agents_or_counts: np.ndarray, *, counts: bool) -> None:
        self.calls += 1
        arr = np.asarray(agents_or_counts, dtype=np.int64)
        if counts:
            self.samples += int(arr.sum())
            for i in np.flatnonzero(arr):
                self.per_agent[int(i)] = self.per_agent.get(int(i), 0) + int(arr[i])
        else:
            self.samples += int(arr.size)
            for i, c in zip(*np.unique(arr, return_counts=True), strict=True):
                self.per_agent[int(i)] = self.per_agent.get(int(i), 0) + int(c)


class CountingOracle:
    """Wraps an oracle and counts batched calls and evaluated samples."""

    def __init__(self, inner: GradientOracle) -> None:
        self.inner = inner
        self.dim = inner.dim
        self.n_envs = inner.n_envs
        self.cost = OracleCost()

    def sample_gradients(self, theta, agents, rng):  # noqa: D102 - see GradientOracle
        agents = np.asarray(agents, dtype=np.int64)
        self.cost.add(agents, counts=False)
        return self.inner.sample_gradients(theta, agents, rng)

    def sum_gradients(self, theta, counts, rng):  # noqa: D102 - see GradientOracle
        counts = np.asarray(counts, dtype=np.int64)
        self.cost.add(counts, counts=True)
        return self.inner.sum_gradients(theta, counts, rng)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def sum_from_samples(
    oracle: GradientOracle, theta: np.ndarray, counts: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Default ``sum_gradients`` built on ``sample_gradients`` (one batched call).

    Oracles that can sum without materialising every sample (e.g. with one backward
    pass over a batch) override ``sum_gradients`` instead.
    """
    counts = np.asarray(counts, dtype=np.int64)
    if (counts < 0).any():
        raise ValueError("counts must be >= 0")
    out = np.zeros((counts.size, oracle.dim))
    if counts.sum() == 0:
        return out
    agents = np.repeat(np.arange(counts.size), counts)
    samples = oracle.sample_gradients(theta, agents, rng)
    np.add.at(out, agents, samples)
    return out
