"""The public Python entry points through the classes of bad input (issue 12, items 11, 15).

Every public function of the formula modules, and the algorithms' entry points (the
clock, the setting, the runner, the aggregation plans), is called with one argument at
a time replaced by a bad value. Each call must either return a result whose numbers
are all finite, or raise a ValueError whose message starts with the name of the
argument that was replaced (``h`` for ``h_dot``): never ZeroDivisionError,
OverflowError, TypeError, or a message about an internal quantity (A, B, alpha...).
"""

from __future__ import annotations

import inspect
import math
import re

import numpy as np
import pytest

from theory import checks, complexity, constants, harmonic, lemmas, parameters, theorems
from theory.predict import predict

BAD_NUMBERS = [-1.0, 0.0, math.nan, math.inf, -math.inf, 1e308, -1e308, 1e-308, 1e-300,
               10**400, "abc", None, True, 2.5]

VALID = {
    "h": [1.0, 2.0, 4.0], "h_dot": [1.0, 2.0, 4.0], "eps": 0.1, "kappa": 1.0, "L_g": 1.0,
    "L_h": 1.0, "sigma": 1.0, "Delta": 1.0, "gamma": 0.9, "mu": 0.5, "M": 10, "M_init": 10,
    "eta": 0.1, "alpha": 0.01, "D_g": 1.0, "D_h": 1.0, "r_max": 1.0, "M_g": 1.0, "M_h": 1.0,
    "l_2": 1.0, "H": 10, "A": 1.0, "B": 10.0, "setting": "homogeneous",
}
SPECIAL = {"rennala_nigt_time_varying": {"h_dot": [[1.0, 2.0], [2.0, 1.0]]}}


def _public(module):
    for name, fn in vars(module).items():
        if callable(fn) and hasattr(fn, "__wrapped__") and fn.__module__ == module.__name__:
            yield name, fn


FUNCTIONS = [(f"{m.__name__.split('.')[-1]}.{name}", fn)
             for m in (complexity, theorems, parameters, constants, lemmas, harmonic)
             for name, fn in _public(m)]


def _kwargs(name: str, fn) -> dict:
    sig = inspect.signature(fn)
    kw = {}
    for p in sig.parameters.values():
        if p.default is inspect.Parameter.empty:
            kw[p.name] = VALID[p.name]
    kw.update(SPECIAL.get(name.split(".")[-1], {}))
    return kw


CASES = [
    pytest.param(fn, name, arg, bad, id=f"{name}-{arg}-{str(bad)[:10]}")
    for name, fn in FUNCTIONS
    for arg in _kwargs(name, fn)
    if arg != "setting"
    for bad in BAD_NUMBERS
]


def _names(message: str, arg: str) -> bool:
    """The message starts with ``arg`` (or its stem, h for h_dot), alone or in a list of
    names constrained together ("alpha, mu: ...")."""
    if message.startswith("length mismatch"):
        return True
    m = re.match(r"^(\w+(?:, \w+)*)(?=[:\s\[])", message)
    names = m.group(1).split(", ") if m else []
    return any(n == arg or arg.startswith(n + "_") for n in names)


def test_every_guarded_function_is_covered():
    assert len(FUNCTIONS) >= 40


@pytest.mark.parametrize("fn, name, arg, bad", CASES)
def test_formula_functions(fn, name, arg, bad):
    kw = _kwargs(name, fn)
    if isinstance(kw[arg], list):
        kw[arg] = [bad] if not isinstance(kw[arg][0], list) else [[bad, 1.0]]
    else:
        kw[arg] = bad
    try:
        out = fn(**kw)
    except ValueError as exc:
        assert _names(str(exc), arg), f"{name}({arg}={bad!r}): {exc}"
        return
    assert checks._all_finite(out), f"{name}({arg}={bad!r}) returned {out}"


def test_eps_1e_300_names_eps_everywhere():
    """The issue's example: eps = 1e-300 raised ZeroDivisionError in 8 functions of
    theory.complexity and in nigt_parameters."""
    h = [1.0, 2.0]
    for fn in (complexity.vanilla_pg, complexity.sync_nigt, complexity.rennala_pg,
               complexity.afedpg, complexity.rennala_nigt, complexity.lower_bound,
               complexity.malenia_pg, complexity.malenia_nigt):
        with pytest.raises(ValueError, match=r"^eps: 1e-300 is too extreme"):
            fn(h, 1e-300)
    with pytest.raises(ValueError, match=r"^eps: 1e-300 is too extreme"):
        parameters.nigt_parameters(1e-300, 1.0, 1.0, 1.0, 1.0)


@pytest.mark.parametrize("arg", ["h", "eps", "kappa"])
@pytest.mark.parametrize("bad", [1e308, 1e-300, math.nan, -1.0, 10**400])
def test_predict(arg, bad):
    kw = {"h": [1.0, 2.0], "eps": 0.01, "kappa": 1.0}
    kw[arg] = [bad, 1.0] if arg == "h" else bad
    try:
        pred = predict(**kw)
    except ValueError as exc:
        assert _names(str(exc), arg), str(exc)
        return
    assert checks._all_finite(pred.to_json())


# --- algorithms ---------------------------------------------------------------------------
def test_tabular_setting_validates_at_construction():
    from algorithms.tabular.setting import TabularSetting

    for kw, name in [({"h": "cubic"}, "h"), ({"h": "1,-1"}, "h"), ({"h": "1,2"}, "length"),
                     ({"kappa": "-1"}, "kappa"), ({"kappa": "nan"}, "kappa"),
                     ({"timing": "gamma"}, "timing"), ({"n": 10**400}, "n"),
                     ({"S": 10**6}, "S"), ({"H": 10**9}, "H"), ({"gamma": 1.0}, "gamma"),
                     ({"env": "grid", "S": 100}, "S"), ({"family": "reward", "n": 10**6}, "n")]:
        with pytest.raises(ValueError) as info:
            TabularSetting(**kw)
        assert checks._leading_name(str(info.value)) == name, str(info.value)


def _small():
    from algorithms.methods.registry import get
    from algorithms.tabular.setting import TabularSetting

    oracle, clock, rng, theta0 = TabularSetting(S=4, A=2, H=4, n=3).build(0)
    return get("rennala_nigt"), oracle, clock, rng, theta0


@pytest.mark.parametrize("kw, name", [
    ({"max_time": "abc"}, "max_time"), ({"max_time": math.nan}, "max_time"),
    ({"max_time": -1.0}, "max_time"), ({"max_time": math.inf}, "max_time"),
    ({"max_iters": math.nan}, "max_iters"), ({"max_iters": -1}, "max_iters"),
    ({"max_iters": 1.5}, "max_iters"), ({"max_iters": 10**400}, "max_iters"),
    ({"checkpoint_every": 0}, "checkpoint_every"), ({"checkpoint_every": -5}, "checkpoint_every"),
    ({"checkpoint_every": 1.5}, "checkpoint_every"),
    ({"checkpoint_every": math.nan}, "checkpoint_every"),
    ({"hyper": {"M": 10**9}}, "M"), ({"hyper": {"alpha": math.inf}}, "alpha"),
    ({"hyper": {"eta": 2.0}}, "eta"),
    ({"max_time": 1e300}, "max_time"),
])
def test_run_method_validates(kw, name):
    from algorithms.run import run_method

    spec, oracle, clock, rng, theta0 = _small()
    args = {"max_time": 5.0, **kw}
    with pytest.raises(ValueError) as info:
        run_method(spec, oracle, clock, rng, theta0, **args)
    assert checks._leading_name(str(info.value)) == name, str(info.value)


@pytest.mark.parametrize("kw, name", [
    ({"h": [1.0, -1.0]}, "h"), ({"h": [1e-320]}, "h"), ({"h": "cubic", "n": 3}, "h"),
    ({"kappa": -1.0}, "kappa"), ({"kappa": math.nan}, "kappa"), ({"seed": -1}, "seed"),
    ({"seed": 10**400}, "seed"), ({"timing": "gamma"}, "timing"),
    ({"timing": "lognormal", "log_sigma": 50.0}, "log_sigma"),
    ({"timing": "uniform", "jitter": 1.0}, "jitter"), ({"h": "sqrt", "n": 10**400}, "n"),
    ({"fail_at": [math.nan, 1.0, 1.0]}, "fail_at"),
])
def test_make_clock_validates(kw, name):
    from algorithms.sim.clock import make_clock

    args = {"h": [1.0, 2.0, 4.0], **kw}
    with pytest.raises(ValueError) as info:
        make_clock(**args)
    assert checks._leading_name(str(info.value)) == name, str(info.value)


@pytest.mark.parametrize("plan", ["rennala", "malenia"])
@pytest.mark.parametrize("h, kappa, M, name", [
    ([1.0, 2.0, 4.0], 3e16, 10, "kappa"),
    ([1e-9, 1e9], 0.0, 10, "h"),
    ([1.0, 2.0, 4.0], 0.0, 10**400, "M"),
    ([1.0, 2.0, 4.0], 0.0, 0, "M"),
])
def test_plans_refuse_what_the_clock_cannot_resolve(plan, h, kappa, M, name):
    from algorithms.aggregation import plan_malenia, plan_rennala
    from algorithms.sim.clock import make_clock

    fn = plan_rennala if plan == "rennala" else plan_malenia
    if plan == "rennala" and name == "h":
        # Rennala takes its M gradients from the fast agent: the spread is harmless.
        assert fn(make_clock(h, kappa), M).counts.tolist() == [10, 0]
        return
    with pytest.raises(ValueError) as info:
        fn(make_clock(h, kappa), M)
    assert checks._leading_name(str(info.value)) == name, str(info.value)


def test_theta_overflow_names_the_step_size():
    from algorithms.run import run_method

    spec, oracle, clock, rng, theta0 = _small()
    with pytest.raises(ValueError, match=r"^alpha: the parameters theta became non-finite"):
        run_method(spec, oracle, clock, rng, theta0, max_time=1e3, max_iters=50,
                   hyper={"alpha": 1e307})
    assert np.isfinite(theta0).all()
