"""Synchronized NIGT: Algorithm 1 where each aggregation is a synchronized round.

Every agent computes ``batch`` stochastic gradients (1 in the paper), all wait for the
slowest, one reduce, then the NIGT step (Fatkhullin et al., 2023). Both settings: with
equal per-agent batches the mean is unbiased for objective (4) too.
Paper: Section H ("Synchronized NIGT"); Table 1 row "(Synchronized) NIGT".
"""

from algorithms.methods.base import Hyperparameter, MethodSpec
from algorithms.methods.nigt import ALPHA, ETA, NIGT
from algorithms.methods.patterns import synchronized

SPEC = MethodSpec(
    name="sync_nigt",
    title="Synchronized NIGT",
    settings=("homogeneous", "heterogeneous"),
    allreduce=True,
    hyper=(
        ETA,
        ALPHA,
        Hyperparameter("batch", 1, "gradients per agent per round (paper: 1)", integer=True),
    ),
    build=lambda hyper: NIGT(aggregate=synchronized),
    paper="Algorithm 1 (lines 2-8) with a synchronized round in place of lines 2 and 6",
    pattern="synchronized",
    modes=("simulated", "allreduce", "server"),
)
