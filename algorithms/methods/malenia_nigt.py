"""Malenia NIGT: Algorithm 1 composed with AggregateMalenia (Algorithm 3).

Heterogeneous setting (objective (4)); one reduce per iteration (AllReduce).
Paper: Section 3, Algorithms 1 and 3; Theorem 5.1; Table 2 row "Malenia NIGT".
"""

from algorithms.methods.base import MethodSpec
from algorithms.methods.nigt import NIGT, NIGT_HYPER
from algorithms.methods.patterns import malenia

SPEC = MethodSpec(
    name="malenia_nigt",
    title="Malenia NIGT",
    settings=("heterogeneous", "homogeneous"),
    allreduce=True,
    hyper=NIGT_HYPER,
    build=lambda hyper: NIGT(aggregate=malenia),
    paper="Algorithm 1 (lines 2-8) + Algorithm 3 (AggregateMalenia)",
    pattern="malenia",
    modes=("simulated", "allreduce", "server"),
)
