"""One source for a run's hyperparameters: what ``apga predict`` predicts is what ``apga
launch`` (and ``apga calibrate``'s pilot) runs.

:func:`resolve` decides M, M_init, eta, alpha (and every other hyperparameter) of one
method from the flags given, in this order:

- a number given: that number;
- ``theory`` given (``--M theory``, ``--M-init theory``, ``--eta theory``,
  ``--alpha theory``): Theorem 4.2's M and M_init (Theorem A.1's with mu), and Theorem
  4.1's eta and alpha at the run's M (A.1's with mu), from the accuracy eps and the
  constants L_g, L_h, sigma, Delta of :class:`TheoryInputs` (the same flags, with the
  same defaults, on every command: eps = 0.01, all constants 1);
- nothing given: the method's registry default (``MethodSpec.hyper``).

The sources say which (``given``, ``default``, ``theory: Theorem 4.2 ...``), and both
commands print them. H is the problem's horizon flag (``--H``), shared by calibrate and
launch (:mod:`algorithms.cli._processes`); a prediction from a calibrated file is of the
horizon it was measured at, and ``apga launch --predict-from`` refuses another.

Paper: Theorem 4.1 (eta, alpha for any M), Theorem 4.2 (M, M_init), Theorem A.1 (with mu).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from theory import checks

THEORY = "theory"
#: Hyperparameters the theory gives.
THEORETICAL = ("M", "M_init", "eta", "alpha")
#: Defaults of the inputs of the theory (as apga predict's).
DEFAULTS = {"eps": 0.01, "L_g": 1.0, "L_h": 1.0, "sigma": 1.0, "Delta": 1.0}


@dataclass(frozen=True)
class TheoryInputs:
    """eps and the constants Theorems 4.1/4.2 (A.1 with mu) take."""

    eps: float = DEFAULTS["eps"]
    L_g: float = DEFAULTS["L_g"]
    L_h: float = DEFAULTS["L_h"]
    sigma: float = DEFAULTS["sigma"]
    Delta: float = DEFAULTS["Delta"]
    mu: float | None = None

    def __post_init__(self) -> None:
        for name in ("eps", "L_g", "L_h", "sigma", "Delta"):
            checks.positive(name, getattr(self, name))
        if self.mu is not None:
            checks.positive("mu", self.mu)

    def values(self, M: int | None = None) -> dict[str, tuple[float, str]]:
        """name -> (value, source) of the theory's M, M_init, and eta, alpha at batch M
        (Theorem 4.2's M when None)."""
        from theory import parameters as tp

        if self.mu is None:
            b = tp.batch_sizes(self.eps, self.L_g, self.L_h, self.sigma, self.Delta)
            M_run = b.M if M is None else int(M)
            eta = tp.momentum(M_run, self.eps, self.sigma)
            alpha = tp.step_size(self.eps, eta, self.L_g, self.L_h)
            thm, thm_b = "Theorem 4.1", "Theorem 4.2"
        else:
            b = tp.global_batch_sizes(self.eps, self.mu, self.L_g, self.L_h, self.sigma)
            M_run = b.M if M is None else int(M)
            eta = tp.global_momentum(M_run, self.eps, self.mu, self.sigma)
            alpha = tp.global_step_size(self.eps, eta, self.mu, self.L_g, self.L_h,
                                        self.sigma, b.M_init)
            thm = thm_b = "Theorem A.1"
        at = (f"eps = {self.eps:g}, L_g = {self.L_g:g}, L_h = {self.L_h:g}, sigma = "
              f"{self.sigma:g}, Delta = {self.Delta:g}"
              + (f", mu = {self.mu:g}" if self.mu is not None else ""))
        return {"M": (b.M, f"theory: {thm_b} ({at})"),
                "M_init": (b.M_init, f"theory: {thm_b} ({at})"),
                "eta": (eta, f"theory: {thm} at M = {M_run} ({at})"),
                "alpha": (alpha, f"theory: {thm} at M = {M_run} ({at})")}


def parse(name: str, text: Any, integer: bool) -> float | str | None:
    """A flag's value: None, ``theory`` (only for M, M_init, eta, alpha) or a number
    (integers >= 1 for batches; a ValueError naming the flag otherwise)."""
    if text is None:
        return None
    if isinstance(text, str) and text.strip() == THEORY:
        if name not in THEORETICAL:
            raise ValueError(f"{name}: the theory gives only {', '.join(THEORETICAL)}")
        return THEORY
    if integer:
        return checks.count(name, text)
    x = checks.positive(name, text)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite, got {text!r}")
    return x


def resolve(method: str, given: Mapping[str, Any], theory: TheoryInputs | None = None,
            n: int | None = None, strict: bool = True) -> tuple[dict[str, float], dict[str, str]]:
    """(values, sources) of ``method``'s hyperparameters from the flags ``given`` (name ->
    number, ``theory`` or None); names the method does not have are ignored (a command
    that runs one method refuses them itself). eta and alpha from the theory are Theorem
    4.1's at the run's batch: M (given, theory's or the default), or n b for Synchronized
    NIGT (n agents, b per agent; b alone when n is None). A method without theory values
    (AFedPG) refuses ``theory`` when ``strict`` (a command that runs it), else keeps its
    defaults (a command that predicts several methods at once)."""
    from algorithms.methods.registry import get

    spec = get(method)
    names = {h.name for h in spec.hyper}
    given = {k: v for k, v in given.items() if v is not None and k in names}
    numbers = {k: v for k, v in given.items() if v != THEORY}
    sources: dict[str, str] = {}
    wanted = [k for k, v in given.items() if v == THEORY]
    if wanted and spec.pattern not in ("rennala", "malenia", "synchronized"):
        if strict:
            raise ValueError(f"{wanted[0]}: 'theory' gives Theorems 4.1/4.2's values, for "
                             f"the NIGT methods; {method} has none")
        values, sources = spec.resolve(numbers)
        for k in wanted:
            sources[k] = f"default ({method} has no theory value)"
        return values, sources
    if wanted:
        theory = theory or TheoryInputs()
        if "M" in wanted:
            numbers["M"] = theory.values()["M"][0]
        defaults = {h.name: h.default for h in spec.hyper}
        if "M" in names:
            M_run = int(numbers.get("M", defaults["M"]))
        else:  # a synchronized round averages b gradients of each of the n agents
            M_run = int(numbers.get("batch", defaults.get("batch", 1))) * (n or 1)
        th = theory.values(M_run)
        for k in wanted:
            numbers[k], sources[k] = th[k]
    return spec.resolve(numbers, sources)
