"""LAPG (Chen et al., lazily aggregated policy gradient): synchronous rounds in which an
agent uploads its new gradient only when it changed enough; the server reuses the last
uploaded gradient of every agent that skipped.

Followed: LAPG Algorithm 2 with the upload condition (16), in ascent form and for the
averaged aggregate (its step alpha' = M alpha, so its 1/(alpha^2 M^2) is our 1/alpha^2).
Agent m keeps its last uploaded gradient g_last[m]; it uploads the innovation when

    ||g_m - g_last[m]||^2 >= (1/alpha^2) sum_{d=1..D} xi ||theta^{k+1-d} - theta^{k-d}||^2
                             + 6 sigma_m^2                                          (16)

and the server updates  theta <- theta + alpha * (1/n) sum_m g_last[m]. Every agent
uploads at the first round.

The variance term 6 sigma_m^2. LAPG: "the variance sigma^2_{m,N} can be estimated
on-the-fly in simulations". Two registry entries:

* ``lapg`` leaves it out (sigma_m^2 = 0): with noisy policy gradients the term suppresses
  almost every upload, so the plain rule is the more communicative, stronger baseline;
* ``lapg_var`` estimates it on the fly from agent m's own batch of N = ``batch`` >= 2
  gradients: sigma_m^2 = sum_k ||g_{m,k} - gbar_m||^2 / (N (N - 1)), the unbiased estimate
  of E||gbar_m - grad_m||^2, the quantity (15) bounds.

Left out: the step bound alpha <= (1 - 3 D xi)/L (we tune alpha as the other methods).
Defaults D = 10, xi = 0.02 (so D xi < 1/3 as LAPG's theory requires). Both settings
(heterogeneous rewards and initial distributions are allowed in LAPG). No AllReduce: the
server keeps per-agent state and agents decide to skip individually.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from algorithms.aggregation import lazy_round
from algorithms.methods.base import Context, Hyperparameter, MethodSpec
from algorithms.updates import gradient_step


@dataclass(frozen=True)
class LAPGState:
    theta: np.ndarray
    g_last: np.ndarray | None  # (n, d): last uploaded gradient of each agent
    steps: tuple[float, ...]  # ||theta^{k+1-d} - theta^{k-d}||^2, most recent first
    t: int
    uploads: int


def lapg_threshold(steps: tuple[float, ...], alpha: float, xi: float) -> float:
    """Right-hand side of (16) without the variance term.

    Notes
    -----
    .. math:: \\frac{1}{\\alpha^2}\\sum_{d=1}^{D} \\xi \\|\\theta^{k+1-d} - \\theta^{k-d}\\|^2

    Paper: LAPG condition (16) (averaged aggregate: alpha M -> alpha).
    """
    return xi * sum(steps) / alpha**2


def batch_variance(samples: np.ndarray) -> float:
    """On-the-fly sigma_m^2 of (16) from N >= 2 gradients of one agent at one theta.

    Notes
    -----
    .. math:: \\hat\\sigma_m^2 = \\frac{1}{N(N-1)} \\sum_{k=1}^N \\|g_{m,k} - \\bar g_m\\|^2
              \\quad (\\mathbb{E} = \\mathbb{E}\\|\\bar g_m - \\nabla_m\\|^2)

    Paper: LAPG (15)-(16) ("can be estimated on-the-fly in simulations").
    """
    samples = np.asarray(samples, dtype=float)
    N = samples.shape[0]
    if N < 2:
        raise ValueError(f"batch: the variance estimate needs batch >= 2, got {N}")
    return float(np.sum((samples - samples.mean(axis=0)) ** 2) / (N * (N - 1)))


def upload_rule(
    g_last: np.ndarray | None,
    steps: tuple[float, ...],
    alpha: float,
    xi: float,
    sigma2: np.ndarray | None = None,
):
    """LAPG condition (16): upload iff the innovation reaches the threshold (plus
    6 sigma_m^2 when ``sigma2`` (per agent) is given)."""

    def rule(grads: np.ndarray) -> np.ndarray:
        if g_last is None:
            return np.ones(grads.shape[0], dtype=bool)
        threshold = lapg_threshold(steps, alpha, xi)
        if sigma2 is not None:
            threshold = threshold + 6.0 * np.asarray(sigma2)
        return np.sum((grads - g_last) ** 2, axis=1) >= threshold

    return rule


class _SampleOracle:
    """The oracle seen by ``lazy_round`` when LAPG estimates sigma_m^2: sum_gradients from
    per-sample gradients, keeping each agent's samples for :func:`batch_variance`."""

    def __init__(self, oracle) -> None:
        self.oracle, self.dim, self.sigma2 = oracle, oracle.dim, None

    def sum_gradients(self, theta, counts, rng):
        counts = np.asarray(counts)
        agents = np.repeat(np.arange(counts.size), counts)
        g = np.asarray(self.oracle.sample_gradients(theta, agents, rng))
        self.sigma2 = np.array([batch_variance(g[agents == i]) for i in range(counts.size)])
        return np.array([g[agents == i].sum(axis=0) for i in range(counts.size)])


@dataclass(frozen=True)
class LAPG:
    """``variance`` adds the on-the-fly 6 sigma_m^2 term of (16)."""

    variance: bool = False

    def init(self, theta0: np.ndarray, ctx: Context) -> LAPGState:
        return LAPGState(np.array(theta0, dtype=float), None, (), 0, 0)

    def step(self, state: LAPGState, ctx: Context) -> LAPGState:
        h = ctx.hyper
        alpha, xi, D = h["alpha"], h["xi"], int(h["D"])
        oracle = _SampleOracle(ctx.oracle) if self.variance else ctx.oracle
        base = upload_rule(state.g_last, state.steps, alpha, xi)

        def rule(grads: np.ndarray) -> np.ndarray:
            if not self.variance:
                return base(grads)
            return upload_rule(state.g_last, state.steps, alpha, xi, oracle.sigma2)(grads)

        grads, mask, rec = lazy_round(
            state.theta, oracle, ctx.backend.clock, ctx.rng, rule, batch=int(h["batch"])
        )
        ctx.rounds.append(rec)
        g_last = (
            grads.copy() if state.g_last is None else np.where(mask[:, None], grads, state.g_last)
        )
        theta_new = gradient_step(state.theta, g_last.mean(axis=0), alpha)
        step2 = float(np.sum((theta_new - state.theta) ** 2))
        steps = ((step2,) + state.steps)[:D]
        return LAPGState(theta_new, g_last, steps, state.t + 1, state.uploads + int(mask.sum()))


_HYPER = (
    Hyperparameter("alpha", 0.5, "step size of the gradient step"),
    Hyperparameter("batch", 2, "trajectories per agent per round (N in LAPG)", integer=True),
    Hyperparameter("xi", 0.02, "weight xi_d = xi of the last D squared steps in (16)"),
    Hyperparameter("D", 10, "number of past steps in the upload condition (16)", integer=True),
)

SPEC = MethodSpec(
    name="lapg",
    title="LAPG",
    settings=("homogeneous", "heterogeneous"),
    allreduce=False,
    hyper=_HYPER,
    build=lambda hyper: LAPG(variance=False),
    paper="LAPG Algorithm 2 with upload condition (16) (variance term omitted)",
    pattern="lazy",
)

SPEC_VAR = MethodSpec(
    name="lapg_var",
    title="LAPG (6 sigma^2 estimated)",
    settings=("homogeneous", "heterogeneous"),
    allreduce=False,
    hyper=_HYPER,
    build=lambda hyper: LAPG(variance=True),
    paper="LAPG Algorithm 2 with the full upload condition (16), 6 sigma_m^2 estimated on the "
    "fly from each agent's batch",
    pattern="lazy",
)
