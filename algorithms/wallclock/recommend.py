"""Which method to run, with which M and how many agents: a ranking by predicted seconds.

Methods are compared at the same progress, two ways:

(a) **the same number of gradients used**: G = M_init + K M, the gradients of a Rennala
    NIGT run of K iterations; each method runs the iterations that use G gradients
    (Rennala/Malenia NIGT: M_init + K' M >= G; Synchronized NIGT: (K' + 1) n b >= G;
    AFedPG: K' = G server updates, one gradient each);
(b) **the theory's epsilon**: T_explicit iterations of each method (Theorem 4.1's
    explicit count at the method's M, M_init; Synchronized NIGT: M = M_init = n b; AFedPG
    has no explicit constants in the paper, so it is ranked by (a) only).

The recommendation is the method with the fewest predicted seconds to (b) (to (a) when
no method has (b)), among the methods that suit the setting (``MethodSpec.settings``)
and pass two guards:

- **a straggler**: when one agent is far slower than the rest (its seconds per gradient
  above :data:`STRAGGLER_RATIO` times the median of the others) a synchronized round
  waits for it every iteration: Synchronized NIGT is never recommended;
- **communication dominates**: when one message between an agent and the server costs
  at least :data:`COMM_RATIO` times a gradient (median agent), AFedPG, which sends every
  gradient, is never recommended.

Then the number of agents: the fastest m of the cluster, m = 1..n, for the
recommended method's seconds to (b) (m* minimises it; with a communication cost that grows
with m, or a slow agent a round waits for, fewer agents can be faster).

Paper: Theorems 4.1 (T_explicit for any M, M_init), 4.4 and 5.1 (total = rounds x T),
Lemmas C.1/C.2 (m* of Rennala's round), Section 4.1 (AFedPG sends every gradient),
Section H (Synchronized NIGT waits for every agent).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

#: "Far slower": an agent whose seconds per gradient exceed this multiple of the median
#: of the other agents' (a synchronized round then waits for it every iteration).
STRAGGLER_RATIO = 4.0
#: "Communication dominates": one message costs at least this multiple of a gradient.
COMM_RATIO = 1.0
#: Agent counts tried for m* at most (a geometric grid beyond).
MAX_AGENT_COUNTS = 12


class Ranked(NamedTuple):
    """One method's row of the ranking: seconds to (a) and (b), and the iterations."""

    method: str
    seconds_gradients: float | None
    iterations_gradients: int
    seconds_eps: float | None
    iterations_eps: int | None
    excluded: str | None


def straggler(h: Sequence[float]) -> tuple[float, int]:
    """(ratio, agent): the slowest agent's seconds per gradient over the median of the
    others' (1.0 for one agent)."""
    h = np.asarray(h, dtype=float)
    if h.size < 2:
        return 1.0, 0
    i = int(np.argmax(h))
    others = np.delete(h, i)
    return float(h[i] / np.median(others)), i


def gradients_iterations(pattern: str, G: int, M: int, M_init: int, n: int, batch: int) -> int:
    """Iterations K' of a method of ``pattern`` that use at least G gradients ((a) above)."""
    if pattern == "greedy":
        return max(int(G), 1)
    if pattern == "synchronized":
        return max(math.ceil(G / (n * batch)) - 1, 1)
    return max(math.ceil((G - M_init) / M), 1)


def agent_counts(n: int) -> list[int]:
    """m = 1..n, or a geometric grid of at most MAX_AGENT_COUNTS values (1 and n kept)."""
    if n <= MAX_AGENT_COUNTS:
        return list(range(1, n + 1))
    grid = np.unique(np.round(np.geomspace(1, n, MAX_AGENT_COUNTS)).astype(int))
    return sorted({1, n, *grid.tolist()})


def recommend(methods: Sequence[str], *, h: Sequence[float], message_seconds: float,
              seconds: Callable[[str, int, int], float], eps_iterations: Callable[[str, int],
                                                                                int | None],
              gradients: Callable[[str, int], int], settings: str = "homogeneous",
              M: Callable[[str], int | None] = lambda m: None) -> dict[str, Any]:
    """The ranking and the recommendation (module docstring).

    h:               per-agent seconds per gradient (the guards and "fastest m")
    message_seconds: one message between the median agent and the server, seconds
    seconds(method, m, K):   predicted seconds of K iterations on the fastest m agents
    eps_iterations(method, m): T_explicit on m agents (None: no explicit count)
    gradients(method, m):    iterations that use the (a) budget of gradients on m agents
    M(method):       the batch M reported with a method (None if it has none)
    """
    from algorithms.methods.registry import get

    h = np.asarray(h, dtype=float)
    n = h.size
    ratio, slow = straggler(h)
    comm = message_seconds / float(np.median(h))
    rows: list[Ranked] = []
    for m in methods:
        spec = get(m)
        why = None
        if settings not in spec.settings:
            why = f"designed for the {' or '.join(spec.settings)} setting, not {settings}"
        elif spec.pattern == "synchronized" and ratio > STRAGGLER_RATIO:
            why = (f"agent {slow} is {ratio:.3g}x slower than the median of the others: a "
                   "synchronized round waits for it every iteration")
        elif spec.pattern == "greedy" and comm >= COMM_RATIO:
            why = (f"a message costs {comm:.3g}x a gradient: AFedPG sends every gradient, "
                   "communication dominates")
        Kg = gradients(m, n)
        Ke = eps_iterations(m, n)
        rows.append(Ranked(m, seconds(m, n, Kg), Kg, None if Ke is None else seconds(m, n, Ke),
                           Ke, why))
    eligible = [r for r in rows if r.excluded is None]
    by_eps = [r for r in eligible if r.seconds_eps is not None]
    criterion = "eps" if by_eps else "gradients"
    pool = by_eps if by_eps else [r for r in eligible if r.seconds_gradients is not None]
    out: dict[str, Any] = {
        "ranking_gradients": _ranking(rows, "seconds_gradients"),
        "ranking_eps": _ranking(rows, "seconds_eps"),
        "excluded": {r.method: r.excluded for r in rows if r.excluded},
        "straggler_ratio": ratio, "message_over_gradient": comm,
        "rows": [r._asdict() for r in rows],
    }
    if not pool:
        out["recommendation"] = None
        out["recommendation_reason"] = "no method suits this setting and cluster"
        return out
    key = "seconds_eps" if criterion == "eps" else "seconds_gradients"
    best = min(pool, key=lambda r: getattr(r, key))
    # m*: the fastest m agents for the recommended method
    options = []
    for m in agent_counts(n):
        K = eps_iterations(best.method, m) if criterion == "eps" else gradients(best.method, m)
        if K is not None:
            options.append((seconds(best.method, m, K), m))
    secs, m_star = min(options) if options else (getattr(best, key), n)
    runner = sorted(pool, key=lambda r: getattr(r, key))
    second = runner[1] if len(runner) > 1 else None
    progress = ("to the theory's eps (T_explicit iterations)" if criterion == "eps" else
                "to the same number of gradients")
    vs = (f", {getattr(second, key) / getattr(best, key):.3g}x faster than "
          f"{get(second.method).title}" if second is not None and getattr(best, key) > 0
          else "")
    agents = (f"; the fastest {m_star} of {n} agents" if m_star < n else "")
    reason = (f"fewest predicted seconds {progress}{vs}{agents}"
              + (f"; not {', '.join(get(x).title for x in out['excluded'])}: see excluded"
                 if out["excluded"] else ""))
    out["recommendation"] = {"method": best.method, "M": M(best.method), "agents": m_star,
                             "seconds": secs, "criterion": criterion, "reason": reason}
    return out


def _ranking(rows: list[Ranked], key: str) -> list[str]:
    ok = [r for r in rows if getattr(r, key) is not None]
    return [r.method for r in sorted(ok, key=lambda r: getattr(r, key))]
