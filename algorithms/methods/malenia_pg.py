"""Malenia PG: theta <- theta + alpha g with g = AggregateMalenia(theta, M).

Paper: Table 2 row "Malenia PG/SGD" (Tyurin & Richtarik, 2023), with Algorithm 3.
"""

from algorithms.methods.base import Hyperparameter, MethodSpec
from algorithms.methods.patterns import malenia
from algorithms.methods.pg import PG

SPEC = MethodSpec(
    name="malenia_pg",
    title="Malenia PG",
    settings=("heterogeneous", "homogeneous"),
    allreduce=True,
    hyper=(
        Hyperparameter("alpha", 0.5, "step size of the gradient step"),
        Hyperparameter("M", 20, "the Malenia batch (Algorithm 3 loop condition)", integer=True),
    ),
    build=lambda hyper: PG(aggregate=malenia),
    paper="gradient ascent with Algorithm 3 (AggregateMalenia)",
    pattern="malenia",
)
