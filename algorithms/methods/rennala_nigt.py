"""Rennala NIGT: Algorithm 1 composed with AggregateRennala (Algorithm 2).

Homogeneous setting; one reduce per iteration, so it supports AllReduce.
Paper: Section 3, Algorithms 1-2; Theorems 4.1, 4.2, 4.4; Table 1 row "Rennala NIGT".
"""

from algorithms.methods.base import MethodSpec
from algorithms.methods.nigt import NIGT, NIGT_HYPER
from algorithms.methods.patterns import rennala

SPEC = MethodSpec(
    name="rennala_nigt",
    title="Rennala NIGT",
    settings=("homogeneous",),
    allreduce=True,
    hyper=NIGT_HYPER,
    build=lambda hyper: NIGT(aggregate=rennala),
    paper="Algorithm 1 (lines 2-8) + Algorithm 2 (AggregateRennala)",
    pattern="rennala",
    modes=("simulated", "allreduce", "server"),
)
