"""Helpers shared by the aggregation procedures: input checks and round bookkeeping."""

from __future__ import annotations

import numpy as np

from algorithms.aggregation.records import RoundRecord
from algorithms.sim.clock import MAX_ARRIVALS, SimClock, TooManyArrivalsError
from theory import checks

MAX_DOUBLINGS = 200  # horizon doublings before giving up (never hang)
#: Most gradients one round may ask the oracle for: they are sampled in one batch in
#: memory (e.g. M trajectories of H steps). A plan may count more (apga aggregate), but a
#: round that evaluates them is refused.
MAX_ROUND_GRADIENTS = 2**20


def check_evaluations(total: int, name: str, why: str) -> None:
    """Refuse a round that would ask the oracle for more than MAX_ROUND_GRADIENTS gradients."""
    if total > MAX_ROUND_GRADIENTS:
        raise ValueError(
            f"{name}: the round needs {total} gradients ({why}), more than the "
            f"{MAX_ROUND_GRADIENTS} the oracle samples in one batch in memory")


def check_theta(theta, oracle) -> np.ndarray:
    """theta as a float vector of the oracle's dimension, or ValueError naming it."""
    arr = np.asarray(theta, dtype=float)
    if arr.ndim != 1 or arr.size != oracle.dim:
        raise ValueError(f"theta must have shape ({oracle.dim},), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("theta must be finite")
    return arr


def check_clock(clock) -> SimClock:
    if not isinstance(clock, SimClock):
        raise ValueError(f"clock must be a SimClock (see make_clock), got {type(clock).__name__}")
    return clock


def check_rng(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def check_M(M) -> int:
    return checks.count("M", M)


def open_round(clock: SimClock) -> tuple[float, np.ndarray, int, np.ndarray]:
    """Start a round at ``clock.now``: (start, h_t, the round's key, broadcast ends s_i).

    Draws the round's key (advances ``clock.rng``); s_i as in :meth:`SimClock.broadcast_end`.
    """
    check_clock(clock)
    start = clock.now
    h = clock.h_at()
    key = clock.new_key()
    return start, h, key, clock.broadcast_end(start)


def close_round(clock: SimClock, **terms) -> RoundRecord:
    """Record the round (in the current iteration) and advance the clock to its end."""
    rec = RoundRecord(iteration=clock.iteration, **terms)
    clock.now = rec.end
    clock.iteration += 1
    return rec


def first_horizon(s: np.ndarray, start: float, comp: float) -> float:
    """A first guess of the time by which a loop has exited: latest start + computation.

    With fixed timing, no failures and ``comp`` the Lemma C.1 / C.2 computation term this
    is already sufficient; otherwise the callers double it until it is.
    """
    reach = np.isfinite(s)
    off = float((s[reach] - start).max()) if reach.any() else 0.0
    # Round-off slack relative to the times involved (an absolute 1e-12 would dwarf
    # computations of 1e-300 s and ask for 1e288 arrivals).
    return start + off + comp + 1e-12 * (abs(start) + off + comp)


def too_many(clock: SimClock, procedure: str, exc: TooManyArrivalsError, M: int) -> ValueError:
    """A ValueError naming the input that makes a random-timing round too large to list.

    ``log_sigma`` when lognormal durations are very spread, ``M`` when the batch alone is
    beyond the limit, else ``h`` (fast agents finish too many computations while the
    round waits for slow ones).
    """
    if clock.timing == "lognormal" and clock.options.get("log_sigma", 0) > 3:
        name = "log_sigma"
        why = f"log_sigma = {clock.options['log_sigma']:g} makes most durations tiny"
    elif M > MAX_ARRIVALS // 2:
        name, why = "M", f"M = {M}"
    else:
        h = clock.h_at()
        h = h[np.isfinite(h)]
        name = "h"
        why = f"computation times spread from {h.min():.3g} to {h.max():.3g}"
    return ValueError(
        f"{name}: {procedure} with {clock.timing} timing would simulate {exc.count:.3g} "
        f"computations in one round ({why}); at most {MAX_ARRIVALS} are held in memory "
        "(fixed timing counts them instead)")


def last_finite_failure(clock: SimClock) -> float:
    f = clock.fail_at[np.isfinite(clock.fail_at)]
    return float(f.max()) if f.size else -np.inf


def finish_round(clock: SimClock, kind: str, start: float, t_exit: float, s: np.ndarray,
                 a: np.ndarray | None, t: np.ndarray | None, used: int, counts: np.ndarray,
                 evaluated: int, *, at_exit: np.ndarray | None = None,
                 n_arrivals: int | None = None) -> RoundRecord:
    """Close a one-theta round: cancel work in flight, charge the reduce, advance the clock.

    ``a``/``t`` are all finish events at times <= t_exit and ``used`` how many of them
    (the first in (time, agent) order) the loop consumed. Agents with counts > 0 upload;
    the reduce ends at t_exit + max kappa_i over them (each upload starts at t_exit).
    A counted round (no event lists) passes ``a = t = None`` with ``at_exit`` (agents
    finishing exactly at t_exit) and ``n_arrivals`` (events at times <= t_exit) instead.
    """
    n = clock.n
    if a is not None and t is not None:
        at_exit = np.zeros(n, dtype=bool)
        at_exit[a[t == t_exit]] = True
        n_arrivals = int(a.size)
    assert at_exit is not None and n_arrivals is not None
    unused = int(n_arrivals - used)
    alive = (s < t_exit) & (clock.fail_at > t_exit)
    cancelled = int((alive & ~at_exit).sum())
    uploaders = counts > 0
    reduce_time = float(clock.kappa[uploaders].max()) if uploaders.any() else 0.0
    received = np.isfinite(s)
    bcast = float(clock.kappa[received].max()) if received.any() else 0.0
    bcast = min(bcast, t_exit - start)
    end = t_exit + reduce_time
    return close_round(clock, start=start, end=end, kind=kind, t_exit=t_exit, counts=counts,
                       cancelled=cancelled, unused=unused, uploads=int(uploaders.sum()),
                       downloads=int(received.sum()), broadcast_time=bcast,
                       reduce_time=reduce_time, simulated=used + unused + cancelled,
                       evaluated=evaluated)
