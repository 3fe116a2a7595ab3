"""Every method, by name. Generic checks in tests run over this registry.

The names are the JSON keys of ``apga predict`` (theory) too.
"""

from __future__ import annotations

from algorithms.methods import (
    afedpg,
    fast_fedpg,
    lapg,
    malenia_nigt,
    malenia_pg,
    rennala_nigt,
    rennala_pg,
    sync_nigt,
    vanilla_pg,
)
from algorithms.methods.base import MethodSpec
from theory import checks

REGISTRY: dict[str, MethodSpec] = {
    m.SPEC.name: m.SPEC
    for m in (
        rennala_nigt,
        malenia_nigt,
        sync_nigt,
        vanilla_pg,
        rennala_pg,
        malenia_pg,
        afedpg,
        lapg,
        fast_fedpg,
    )
}
# Second variants kept in the same modules (AFedPG's agent-side momentum, LAPG's full (16)).
REGISTRY.update({s.name: s for s in (afedpg.SPEC_AGENT, lapg.SPEC_VAR)})


def get(name: str) -> MethodSpec:
    """The spec of method ``name``; a ValueError naming ``method`` lists the known ones."""
    checks.choice("method", name, REGISTRY)
    return REGISTRY[name]
