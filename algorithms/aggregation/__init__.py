"""Aggregation procedures on the simulated clock (plan on the clock, then evaluate once).

- :func:`aggregate_rennala` - Algorithm 2 (homogeneous): mean of the first M gradients.
- :func:`aggregate_malenia` - Algorithm 3 (heterogeneous): harmonic loop condition.
- :func:`synchronized_round` - every agent computes ``batch`` gradients, one reduce.
- :class:`AsyncGreedy` - AFedPG's greedy asynchronous pattern (one upload per gradient).
- :func:`lazy_round` - LAPG rounds where a rule skips uploads.
- :func:`local_steps_round` - Fast-FedPG rounds of K local steps then one reduce.

Every procedure returns a :class:`RoundRecord`; semantics in ``docs/clock.md``.
"""

from algorithms.aggregation.greedy import AsyncGreedy, GreedyRecord
from algorithms.aggregation.lazy import lazy_round
from algorithms.aggregation.local_steps import local_steps_round
from algorithms.aggregation.malenia import aggregate_malenia, malenia_should_stop, plan_malenia
from algorithms.aggregation.records import RoundRecord
from algorithms.aggregation.rennala import aggregate_rennala, plan_rennala
from algorithms.aggregation.synchronized import synchronized_round
from algorithms.sim.clock import AgentFailedError

__all__ = [
    "AgentFailedError",
    "AsyncGreedy",
    "GreedyRecord",
    "lazy_round",
    "local_steps_round",
    "synchronized_round",
    "RoundRecord",
    "aggregate_malenia",
    "aggregate_rennala",
    "malenia_should_stop",
    "plan_malenia",
    "plan_rennala",
]
