"""Rennala PG: theta <- theta + alpha g with g = AggregateRennala(theta, M).

Paper: Table 1 row "Rennala PG/SGD" (Tyurin & Richtarik, 2023), with Algorithm 2.
"""

from algorithms.methods.base import Hyperparameter, MethodSpec
from algorithms.methods.patterns import rennala
from algorithms.methods.pg import PG

SPEC = MethodSpec(
    name="rennala_pg",
    title="Rennala PG",
    settings=("homogeneous",),
    allreduce=True,
    hyper=(
        Hyperparameter("alpha", 0.5, "step size of the gradient step"),
        Hyperparameter("M", 20, "gradients per aggregation (Algorithm 2)", integer=True),
    ),
    build=lambda hyper: PG(aggregate=rennala),
    paper="gradient ascent with Algorithm 2 (AggregateRennala)",
    pattern="rennala",
)
