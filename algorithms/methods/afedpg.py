"""AFedPG (Lan et al., ICLR 2025): NIGT-style server updates applied as each agent's
gradient arrives, greedy and asynchronous, one upload and one download per gradient.

Two variants, both registered (``docs/experiments.md`` runs both in Figure 1):

* ``afedpg_agent`` - **AFedPG as its paper defines it**: the momentum is formed on the
  *agent*. The server sends the agent (x, d): the lookahead point and its current momentum
  d. The agent samples at x, forms d_agent = (1 - eta) d + eta g and uploads d_agent; the
  server steps with it as it arrives, though d may be stale by the updates made meanwhile.
  This is the AFedPG of "Lan et al. (2025)" that Section 6 and Appendix H compare with.
* ``afedpg`` - a server-momentum variant (our earlier reading of the main paper's summary,
  Sections 1.1 and 4.1): the agent uploads g, the server folds it into ONE momentum buffer
  it keeps up to date. Stale gradients then enter a fresh momentum, which can make it a
  stronger baseline than the original.

Both use the lookahead point at which an agent samples,
x = theta_k + ((1 - eta)/eta)(theta_k - theta_{k-1}), and the normalised server step.
AFedPG's lookahead is *delay-adaptive* through its time-varying eta_k (the coefficient is
that of the iteration the agent computes for); with the constant eta of the paper's
experiments (Section H tunes one eta = 0.1 for all methods) the coefficient is the same for
every delay, so the two coincide. Symbols follow the main paper (eta = momentum,
alpha = step), the reverse of AFedPG's own notation. Every vector sent is charged kappa_i:
the server variant sends the agent one vector (x) per arrival, as the paper's model of
AFedPG does (Section 4.1); the agent variant sends two (x and the momentum d the agent
needs to form its direction), so its download takes 2 kappa_i (Section H, kappa_i = the
time to send one vector). Uploads are one vector in both.

Per arrival of the upload from agent j (computed at the lookahead point x_j it held)::

    server variant:  d = g (first arrival) or (1 - eta) d + eta g;   theta' = theta + alpha d/||d||
    agent variant:   d = d_agent = g (no d received yet) or (1 - eta) d_j + eta g, d_j the
                     momentum the agent received with x_j;            theta' = theta + alpha d/||d||
    both:            x_j = theta' + (1 - eta)/eta (theta' - theta);   send x_j (and d) to j
                     (download: kappa_j per vector: kappa_j server variant, 2 kappa_j agent)

One global iteration = one server update. Homogeneous setting only (Table 2: "does not
support heterogeneous setup"); no AllReduce (Table 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from algorithms.backends.protocol import Scheduler
from algorithms.methods.base import Context, Hyperparameter, MethodSpec
from algorithms.methods.nigt import ETA
from algorithms.updates import extrapolate, momentum, normalized_step


def afedpg_update(
    theta: np.ndarray, d: np.ndarray | None, g: np.ndarray, eta: float, alpha: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One server update of AFedPG: ``(theta_new, d_new, x_to_send)``.

    ``d`` is the momentum the update starts from (None: first arrival, d_new = g) and ``g``
    the arriving vector. Server variant: d = the server's buffer, g = the agent's gradient.
    Agent variant: the agent computed ``afedpg_agent_direction`` and the server calls this
    with ``d=None`` and ``g = d_agent`` (it steps with the agent's direction as it is).

    Notes
    -----
    .. math::
        d' = (1-\\eta) d + \\eta g,\\quad
        \\theta' = \\theta + \\alpha \\frac{d'}{\\|d'\\|},\\quad
        x = \\theta' + \\frac{1-\\eta}{\\eta}(\\theta' - \\theta)

    Paper: AFedPG (Lan et al., 2025) as summarised in Sections 1.1, 4.1; Algorithm 1 lines
    5, 7, 8 (extrapolation, momentum, normalised step).
    """
    d_new = g if d is None else momentum(d, g, eta)
    theta_new = normalized_step(theta, d_new, alpha)
    return theta_new, d_new, extrapolate(theta_new, theta, eta)


def afedpg_agent_direction(d_received: np.ndarray | None, g: np.ndarray, eta: float) -> np.ndarray:
    """The agent's upload in AFedPG: ``(1 - eta) d_received + eta g`` (``g`` if it has
    received no momentum yet).

    Notes
    -----
    .. math:: d_{agent} = (1-\\eta)\\, d_{received} + \\eta\\, g(x)

    Paper: AFedPG (Lan et al., 2025): the momentum is updated by the agent (Algorithm 1
    line 7 run on the agent).
    """
    return g if d_received is None else momentum(d_received, g, eta)


@dataclass(frozen=True)
class Transfers:
    """Cost of one greedy event, in the runner's record vocabulary; ``arrival`` is the
    scheduler's record of the gradient that caused it (None for the first broadcast)."""

    evaluated: int
    simulated: int
    n_communications: int
    communication_time: float
    arrival: Any = None

    def to_dict(self) -> dict[str, Any] | None:
        """The arrival's own record (a line of a real run's rounds.jsonl), if it has one."""
        return None if self.arrival is None else self.arrival.to_dict()


@dataclass(frozen=True)
class AFedPGState:
    theta: np.ndarray
    d: np.ndarray | None
    t: int
    scheduler: Scheduler
    #: agent variant: the momentum each agent received with its parameters (None: none yet)
    d_sent: tuple = field(default_factory=tuple)


@dataclass(frozen=True)
class AFedPG:
    """``agent_momentum`` selects the variant (module docstring)."""

    agent_momentum: bool = False

    def init(self, theta0: np.ndarray, ctx: Context) -> AFedPGState:
        sched = ctx.backend.greedy(ctx.oracle, ctx.rng)
        sched.start(theta0)  # broadcast theta_0 (n downloads)
        kappa = np.asarray(ctx.backend.kappa, dtype=float)
        ctx.rounds.append(Transfers(0, 0, ctx.backend.n, float(kappa.sum())))
        return AFedPGState(np.array(theta0, dtype=float), None, 0, sched,
                           (None,) * ctx.backend.n)  # fmt: skip

    def step(self, state: AFedPGState, ctx: Context) -> AFedPGState:
        eta, alpha = ctx.hyper["eta"], ctx.hyper["alpha"]
        sched = state.scheduler
        agent, g, _theta_used, rec = sched.step()
        d_sent = state.d_sent
        if self.agent_momentum:
            upload = afedpg_agent_direction(d_sent[agent], g, eta)  # on agent j
            theta_new, d, x = afedpg_update(state.theta, None, upload, eta, alpha)
            d_sent = d_sent[:agent] + (d,) + d_sent[agent + 1 :]  # sent with x
        else:
            theta_new, d, x = afedpg_update(state.theta, state.d, g, eta, alpha)
        vectors = 2 if self.agent_momentum else 1  # (x, d) to the agent, or x alone
        sched.send(agent, x, vectors)
        down = vectors * float(np.asarray(ctx.backend.kappa)[agent])
        ctx.rounds.append(Transfers(1, 1, 1 + vectors, rec.upload_time + down, rec))
        return AFedPGState(theta_new, d, state.t + 1, sched, d_sent)


_HYPER = (ETA, Hyperparameter("alpha", 0.01, "step size of the normalised server step"))

SPEC = MethodSpec(
    name="afedpg",
    title="AFedPG (server momentum)",
    settings=("homogeneous",),
    allreduce=False,
    hyper=_HYPER,
    build=lambda hyper: AFedPG(agent_momentum=False),
    paper="AFedPG (Lan et al., 2025), server-momentum variant: greedy NIGT updates with one "
    "momentum buffer on the server (Sections 1.1, 4.1)",
    pattern="greedy",
    modes=("simulated", "server"),
)

SPEC_AGENT = MethodSpec(
    name="afedpg_agent",
    title="AFedPG",
    settings=("homogeneous",),
    allreduce=False,
    hyper=_HYPER,
    build=lambda hyper: AFedPG(agent_momentum=True),
    paper="AFedPG (Lan et al., 2025) as its paper defines it: momentum formed on the agent "
    "from the d it received, delay-adaptive lookahead (constant eta), normalised server step",
    pattern="greedy",
    modes=("simulated", "server"),
)
