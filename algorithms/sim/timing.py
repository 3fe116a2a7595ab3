"""Timing models of the simulated clock: computation times h_i and communication times kappa_i.

Profiles (Section H of the paper, agents indexed i = 1..n; :func:`profile` and
``PROFILES`` are those of :mod:`theory.clusters`, re-exported):

- ``equal``:   h_i = 1
- ``sqrt``:    h_i = sqrt(i)
- ``quarter``: h_i = i^(1/4)

Random timing. Agent i's k-th computation in a round (k = 0, 1, ...) takes a duration
that is a *pure function* of ``(key, i, k, h_i)``, where ``key`` is one 63-bit integer the
clock draws from its own :class:`numpy.random.Generator` at the start of every round.
The uniform variate behind a duration is the (k+1)-th output of the SplitMix64 stream
seeded with ``mix(key + (i + 1) * G)`` (G = 0x9E3779B97F4A7C15), so any implementation
(the vectorised one, a heapq event loop) that asks for the same ``(i, k)`` gets the same
bits, whatever order it asks in. Distributions (all with mean h_i):

- ``fixed``:       d = h_i                                       (Assumption 2.5)
- ``exponential``: d = -h_i log u
- ``lognormal``:   d = h_i exp(s z - s^2/2), z = Phi^{-1}(u); option ``log_sigma`` s (0.5,
                   at most 8: beyond, almost every duration is negligible)
- ``uniform``:     d = h_i (1 + w (2u - 1)); option ``jitter`` w in [0, 1) (0.5)
- ``empirical``:   d = h_i x_{i,j}, j = floor(u L_i): a draw, with replacement, of agent
                   i's measured samples t_{i,1..L_i} divided by their mean (x = t / mean t,
                   so the draw has mean h_i); the samples come from ``apga calibrate``
                   (:class:`EmpiricalSamples`; no flag gives them, so ``--timing`` offers
                   the four models above)

With random timing Assumption 2.5 ("at most h_i seconds") does not hold; the Lemma C.1
and C.2 bounds are guaranteed with ``fixed`` timing only.

Paper: Assumption 2.5 (h_i, kappa), Theorem 4.3 (h_{t,i}), Section H (kappa_i, profiles).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from theory import checks
from theory.clusters import PROFILES, profile  # re-exported: one implementation of Section H

TIMING_MODELS = ("fixed", "exponential", "lognormal", "uniform")
#: Resampling of measured durations (:class:`EmpiricalSamples`); needs the samples.
EMPIRICAL = "empirical"
#: Every model the clock accepts: the parametric ones and ``empirical``.
ALL_TIMING = (*TIMING_MODELS, EMPIRICAL)
#: Samples per agent kept for the empirical model (a measurement is tens to thousands).
MAX_SAMPLES = 100_000
#: Largest lognormal spread: at s = 8 the median duration is already e^-32 ~ 1e-14 h_i.
MAX_LOG_SIGMA = 8.0
DEFAULT_OPTIONS = {
    "exponential": {},
    "fixed": {},
    "lognormal": {"log_sigma": 0.5},
    "uniform": {"jitter": 0.5},
    "empirical": {},
}

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)


def resolve_times(
    name: str, value, n: int | None = None, *, allow_zero: bool = False, allow_inf: bool = False
) -> np.ndarray:
    """A per-agent time vector from an array, a comma list ``"1,2,4"`` or a profile name.

    A profile name needs ``n``. Raises ValueError naming ``name`` on bad input.
    """
    if isinstance(value, str):
        text = value.strip()
        if text in PROFILES:
            if n is None:
                raise ValueError(f"{name}: profile {text!r} needs the number of agents n")
            return profile(text, n)
        try:
            value = [float(x) for x in text.split(",") if x.strip()]
        except ValueError:
            if "," not in text:  # one word: an unknown profile name
                checks.choice(name, text, PROFILES)
            raise ValueError(
                f"{name} must be numbers or a profile name ({', '.join(PROFILES)}), got {text!r}"
            ) from None
    arr = checks.times(name, value, allow_zero=allow_zero, allow_inf=allow_inf)
    if n is not None and arr.size != n:
        if arr.size == 1:
            return np.full(n, arr[0])
        raise ValueError(f"length mismatch: {name} has {arr.size}, n is {n}")
    return arr


def resolve_kappa(kappa, n: int, d: int | None = None) -> np.ndarray:
    """Per-agent communication times kappa_i (>= 0) from a float, an array or a profile name.

    A scalar kappa applies to every agent (Assumption 2.5); an array gives kappa_i
    (Section H: the time for agent i to send one vector to or from the server). Profile
    names as for h (``sqrt``: kappa_i = sqrt(i)), plus ``sqrt_d4``: kappa_i = sqrt(i) d^(1/4)
    with d the number of parameters, which must then be given.

    Paper: Section H (Figures 1-3, 6-8: kappa_i = sqrt(i) and sqrt(i) d^(1/4)).
    """
    if isinstance(kappa, str) and kappa.strip() == "sqrt_d4":
        if d is None:
            raise ValueError("kappa: sqrt_d4 (kappa_i = sqrt(i) d^(1/4)) needs the dimension d")
        return profile("sqrt", n) * checks.count("d", d) ** 0.25
    return resolve_times("kappa", kappa, n, allow_zero=True)


class EmpiricalSamples:
    """Per-agent measured durations, kept as ratios to their mean, for the ``empirical`` model.

    ``samples[i]`` are agent i's measured seconds (finite, > 0, at least one,
    at most :data:`MAX_SAMPLES`); :attr:`ratios` holds ``t / mean(t)`` per agent, padded
    into one (n, L) table with :attr:`lengths` L_i. A draw with uniform u in (0, 1) picks
    ratio ``j = floor(u L_i)`` (u < 1, so j < L_i): every sample has probability 1/L_i, and
    the drawn duration ``h_i x`` has mean h_i whatever h_i the clock uses (a time-varying h
    rescales the measured shape).

    Paper: Assumption 2.5 (h_i); Theorem 4.3 (h_{t,i} that vary with t).
    """

    def __init__(self, samples) -> None:
        rows = []
        if isinstance(samples, EmpiricalSamples):
            samples = samples.samples
        try:
            agents = list(samples)
        except TypeError:
            raise ValueError("samples: expected one list of durations per agent") from None
        if not agents:
            raise ValueError("samples: no agent")
        for i, t in enumerate(agents):
            arr = checks.times(f"samples[{i}]", t)
            if arr.size > MAX_SAMPLES:
                raise ValueError(f"samples[{i}]: {arr.size} samples exceed the limit of "
                                 f"{MAX_SAMPLES}")
            rows.append(arr)
        self.samples = tuple(rows)
        for r in self.samples:
            r.setflags(write=False)
        self.lengths = np.array([r.size for r in rows], dtype=np.int64)
        table = np.ones((len(rows), int(self.lengths.max())))
        for i, r in enumerate(rows):
            table[i, : r.size] = r / r.mean()
        table.setflags(write=False)
        self.ratios = table

    @property
    def n(self) -> int:
        return len(self.samples)

    def means(self) -> np.ndarray:
        """Each agent's mean measured duration (the h_i the samples describe)."""
        return np.array([float(r.mean()) for r in self.samples])

    def draw(self, agents: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Ratios of the draws u (uniform in (0, 1)) for ``agents`` (broadcasting).

        Notes
        -----
        .. math:: x = t_{i, j} / \\bar t_i, \\quad j = \\lfloor u L_i \\rfloor
        """
        agents = np.asarray(agents, dtype=np.int64)
        L = self.lengths[agents]
        j = np.minimum((u * L).astype(np.int64), L - 1)
        return self.ratios[agents, j]

    def to_lists(self) -> list[list[float]]:
        return [r.tolist() for r in self.samples]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EmpiricalSamples):
            return NotImplemented
        return len(self.samples) == len(other.samples) and all(
            np.array_equal(a, b) for a, b in zip(self.samples, other.samples, strict=True))

    __hash__ = None  # type: ignore[assignment]


def check_options(timing: str, options: Mapping[str, float]) -> dict[str, float]:
    """Validate the options of a timing model; returns them merged with the defaults."""
    checks.choice("timing", timing, ALL_TIMING)
    merged = dict(DEFAULT_OPTIONS[timing])
    for key, value in options.items():
        if key not in merged:
            allowed = ", ".join(merged) or "none"
            raise ValueError(f"{key}: not an option of timing {timing!r} (options: {allowed})")
        merged[key] = value
    if "log_sigma" in merged:
        s = checks.nonnegative("log_sigma", merged["log_sigma"])
        if s > MAX_LOG_SIGMA:
            raise ValueError(
                f"log_sigma must be <= {MAX_LOG_SIGMA:g}, got {s!r}: the median duration is "
                f"h e^(-s^2/2) ({np.exp(-s * s / 2):.2g} h here), so a round would need more "
                "draws than memory holds before its durations add up")
        merged["log_sigma"] = s
    if "jitter" in merged:
        w = checks.nonnegative("jitter", merged["jitter"])
        if w >= 1:
            raise ValueError(f"jitter must lie in [0, 1) so that durations stay > 0, got {w!r}")
        merged["jitter"] = w
    return merged


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on uint64 arrays (wrap-around arithmetic)."""
    z = (z ^ (z >> np.uint64(30))) * _C1
    z = (z ^ (z >> np.uint64(27))) * _C2
    return z ^ (z >> np.uint64(31))


def counter_uniform(key: int, agents: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Uniform variates in (0, 1), a pure function of ``(key, agent, k)`` (broadcasting).

    u = ((x >> 11) + 1/2) 2^{-53} with x the (k+1)-th SplitMix64 output of the stream
    seeded with mix(key + (agent + 1) G).
    """
    agents = np.asarray(agents, dtype=np.uint64)
    k = np.asarray(k, dtype=np.uint64)
    with np.errstate(over="ignore"):
        seed = _mix(np.uint64(key) + (agents + np.uint64(1)) * _GOLDEN)
        x = _mix(seed + (k + np.uint64(1)) * _GOLDEN)
    return ((x >> np.uint64(11)).astype(np.float64) + 0.5) * (2.0**-53)


def durations(
    timing: str,
    options: Mapping[str, float],
    h: np.ndarray,
    key: int,
    agents: np.ndarray,
    k: np.ndarray,
    empirical: EmpiricalSamples | None = None,
) -> np.ndarray:
    """Durations of computations ``(agents, k)`` (broadcasting), given each agent's h.

    ``h`` is broadcast against ``agents``/``k`` (pass ``h[agents]``); u is
    :func:`counter_uniform` of ``(key, agents, k)``; ``empirical`` holds the samples of
    the ``empirical`` model.

    Notes
    -----
    fixed :math:`d = h`; exponential :math:`d = -h \\log u`; lognormal
    :math:`d = h\\,e^{s z - s^2/2}`, :math:`z = \\Phi^{-1}(u)`; uniform
    :math:`d = h(1 + w(2u - 1))`; empirical :math:`d = h\\,x_{i,\\lfloor u L_i\\rfloor}`
    (:meth:`EmpiricalSamples.draw`). Every model has :math:`\\mathbb{E}[d] = h`.

    Paper: Assumption 2.5 (fixed h_i is the worst case the analysis allows); the random
    models are ours, for robustness checks around h_i.
    """
    h = np.asarray(h, dtype=float)
    if timing == "fixed":
        return np.broadcast_to(
            h, np.broadcast_shapes(h.shape, np.shape(agents), np.shape(k))
        ).astype(float)
    u = counter_uniform(key, agents, k)
    if timing == "exponential":
        return -h * np.log(u)
    if timing == "lognormal":
        from scipy.special import ndtri  # here, not at import: 0.4 s off every `apga` start

        s = options["log_sigma"]
        return h * np.exp(s * ndtri(u) - 0.5 * s * s)
    if timing == "uniform":
        return h * (1.0 + options["jitter"] * (2.0 * u - 1.0))
    if timing == EMPIRICAL:
        if empirical is None:
            raise ValueError("timing: empirical needs the measured samples (apga calibrate's "
                             "cost file)")
        return h * empirical.draw(agents, u)
    checks.choice("timing", timing, ALL_TIMING)
    raise AssertionError("unreachable")
