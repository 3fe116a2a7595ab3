"""Typed results of the validation checks and the budgets they run with.

Every check returns a :class:`CheckResult`: which claim of the paper it tests, the
numbers it measured, the threshold it compared them with, and a verdict. The verdict
is ``pass`` or ``fail`` for claims that a measurement can refute (a bound that must hold,
an expectation that must match within its standard error), and ``reported`` for
measurements that are informative but not a test (e.g. fitted slopes against exponents of
an upper bound, which a faster-than-predicted method does not violate).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from theory import checks

Verdict = Literal["pass", "fail", "reported"]
VERDICTS = ("pass", "fail", "reported")
MODES = ("quick", "full")


@dataclass(frozen=True)
class Budget:
    """How much work a check may do.

    mode:   ``quick`` (CI-sized, seconds per check) or ``full`` (minutes per check).
    seed:   master seed; every check derives its generators from it (same seed, same
            numbers, bit for bit).
    z:      two-sided normal quantile used for statistical tolerances (z * se). Checks that
            test many coordinates at once apply a Bonferroni correction on top of it.
    """

    mode: str = "quick"
    seed: int = 0
    z: float = 3.29  # two-sided 0.1% normal quantile

    def __post_init__(self) -> None:
        checks.choice("mode", self.mode, MODES)
        checks.count("seed", self.seed, minimum=0)
        checks.positive("z", self.z)

    @property
    def full(self) -> bool:
        return self.mode == "full"

    def pick(self, quick: Any, full: Any) -> Any:
        """``quick`` or ``full`` depending on the mode."""
        return full if self.full else quick

    def rng(self, *salt: int) -> np.random.Generator:
        """A Generator for one part of one check: a pure function of (seed, salt)."""
        return np.random.default_rng([self.seed, *salt])


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check.

    name:      stable identifier (``lemma_c1``, ``unbiased_rennala``, ...)
    claim:     the statement tested, in words
    paper:     where it is in the paper (``Lemma C.1``, ``Theorem 4.1, proof``, ...)
    measured:  the headline measured numbers (name -> value)
    threshold: what they were compared with (name -> value), incl. tolerances
    verdict:   ``pass`` | ``fail`` | ``reported``
    summary:   one line with the key numbers, for the table
    details:   everything else worth keeping (per-case numbers, settings, caveats)
    seconds:   wall-clock time the check took
    """

    name: str
    claim: str
    paper: str
    measured: dict[str, float]
    threshold: dict[str, float]
    verdict: Verdict
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def __post_init__(self) -> None:
        checks.choice("verdict", self.verdict, VERDICTS)

    @property
    def failed(self) -> bool:
        return self.verdict == "fail"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "claim": self.claim,
            "paper": self.paper,
            "measured": jsonable(self.measured),
            "threshold": jsonable(self.threshold),
            "verdict": self.verdict,
            "summary": self.summary,
            "details": jsonable(self.details),
            "seconds": self.seconds,
        }


def verdict(ok: bool) -> Verdict:
    return "pass" if ok else "fail"


def jsonable(x: Any) -> Any:
    """Plain JSON types (lists, floats, str). Non-finite floats stay floats: the writers
    (:func:`theory.jsonio.strict`) turn them into null with a ``*_reason`` key."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer, int)):
        return int(x)
    if isinstance(x, (np.floating, float)):
        return float(x)
    if x is None or isinstance(x, str):
        return x
    return str(x)
