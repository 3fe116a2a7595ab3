"""(Synchronized) Vanilla PG: every agent computes ``batch`` gradients, one reduce, then
theta <- theta + alpha g.

Paper: Tables 1 and 2 row "(Synchronized) Vanilla PG" (Yuan et al., 2022).
"""

from algorithms.methods.base import Hyperparameter, MethodSpec
from algorithms.methods.patterns import synchronized
from algorithms.methods.pg import PG

SPEC = MethodSpec(
    name="vanilla_pg",
    title="Vanilla PG",
    settings=("homogeneous", "heterogeneous"),
    allreduce=True,
    hyper=(
        Hyperparameter("alpha", 0.5, "step size of the gradient step"),
        Hyperparameter("batch", 2, "gradients per agent per round", integer=True),
    ),
    build=lambda hyper: PG(aggregate=synchronized),
    paper="gradient ascent on synchronized mini-batches",
    pattern="synchronized",
)
