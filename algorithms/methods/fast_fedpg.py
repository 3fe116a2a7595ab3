"""Fast-FedPG: K local steps with a drift correction, then server averaging.

Followed: Fast-FedPG Algorithm 1, updates (6)-(7), in ascent form. Between rounds each
agent holds the server point theta_bar, its own gradient c_i = g_i(theta_bar) and the
global average c = (1/n) sum_i c_i. A round is::

    each agent i: theta = theta_bar
                  repeat K times: theta <- theta + alpha (g_i(theta) - c_i + c)   (6)
                  upload theta - theta_bar
    server:       theta_bar <- theta_bar + alpha_g (1/n) sum_i (theta_i - theta_bar)   (7)
    each agent:   c_i = g_i(theta_bar), upload; c = mean_i c_i, broadcast     (Alg. 1 l. 12-15)

so a round costs K + 1 gradient computations per agent and two synchronised reduces
(the local-steps round and the correction round). The correction -c_i + c removes the
drift of heterogeneous local objectives (its setting: different rewards). Averages only,
so an AllReduce can implement both reduces. Defaults: K = 5 local steps, alpha_g = 1
(the theory's choice), batch = 1 trajectory per gradient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from algorithms.aggregation import lazy_round, local_steps_round
from algorithms.methods.base import Context, Hyperparameter, MethodSpec


def _all(grads: np.ndarray) -> np.ndarray:
    return np.ones(grads.shape[0], dtype=bool)


@dataclass(frozen=True)
class FastFedPGState:
    theta: np.ndarray  # theta_bar
    c_i: np.ndarray  # (n, d)
    c: np.ndarray  # (d,)
    t: int


def _corrections(theta: np.ndarray, ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    """c_i = g_i(theta) for every agent (one synchronized round with every upload)."""
    grads, _mask, rec = lazy_round(
        theta, ctx.oracle, ctx.backend.clock, ctx.rng, _all, batch=int(ctx.hyper["batch"])
    )
    ctx.rounds.append(rec)
    return grads, grads.mean(axis=0)


@dataclass(frozen=True)
class FastFedPG:
    def init(self, theta0: np.ndarray, ctx: Context) -> FastFedPGState:
        theta0 = np.array(theta0, dtype=float)
        c_i, c = _corrections(theta0, ctx)
        return FastFedPGState(theta0, c_i, c, 0)

    def step(self, state: FastFedPGState, ctx: Context) -> FastFedPGState:
        h = ctx.hyper
        alpha, alpha_g = h["alpha"], h["alpha_g"]
        c_i, c = state.c_i, state.c

        def local_update(i: int, k: int, theta_i: np.ndarray, g: np.ndarray) -> np.ndarray:
            return theta_i + alpha * (g - c_i[i] + c)  # (6)

        thetas, rec = local_steps_round(
            state.theta,
            int(h["K"]),
            local_update,
            ctx.oracle,
            ctx.backend.clock,
            ctx.rng,
            batch=int(h["batch"]),
        )
        ctx.rounds.append(rec)
        theta_bar = state.theta + alpha_g * (thetas - state.theta).mean(axis=0)  # (7)
        c_i, c = _corrections(theta_bar, ctx)
        return FastFedPGState(theta_bar, c_i, c, state.t + 1)


SPEC = MethodSpec(
    name="fast_fedpg",
    title="Fast-FedPG",
    settings=("homogeneous", "heterogeneous"),
    allreduce=True,
    hyper=(
        Hyperparameter("alpha", 0.2, "local step size eta of (6)"),
        Hyperparameter("K", 5, "local steps per round (H in Fast-FedPG)", integer=True),
        Hyperparameter("alpha_g", 1.0, "server step size of (7)"),
        Hyperparameter("batch", 1, "trajectories per gradient", integer=True),
    ),
    build=lambda hyper: FastFedPG(),
    paper="Fast-FedPG Algorithm 1, local update (6), server update (7), correction lines 12-15",
    pattern="local_steps",
)
