"""Input validation shared by every package.

Every public entry point validates its inputs with these helpers so that bad input
(negative or NaN times, eps <= 0, gamma outside (0, 1), M < 1, mismatched lengths,
unknown names) raises a :class:`ValueError` whose message starts with the parameter's
name. The CLI turns such errors into one line on stderr and exit status 2.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import numpy as np

#: Largest integer a count may take: 2^53 is the last integer every float holds exactly,
#: and counts (M, n, seeds, ...) meet float arithmetic everywhere in the formulas.
MAX_COUNT = 2**53
#: Smallest positive computation time: below the smallest normal float, 1/h overflows.
MIN_TIME = float(np.finfo(float).tiny)


def _fmt(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def positive(name: str, value: float) -> float:
    """Return ``value`` as float if it is finite and > 0, else raise ValueError naming it."""
    x = _as_float(name, value)
    if not (math.isfinite(x) and x > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {_fmt(value)}")
    return x


def nonnegative(name: str, value: float) -> float:
    """Return ``value`` as float if it is finite and >= 0, else raise ValueError naming it."""
    x = _as_float(name, value)
    if not (math.isfinite(x) and x >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {_fmt(value)}")
    return x


def open_unit(name: str, value: float) -> float:
    """Return ``value`` if it lies in the open interval (0, 1) (e.g. gamma, eta)."""
    x = _as_float(name, value)
    if not (0.0 < x < 1.0):
        raise ValueError(f"{name} must lie in the open interval (0, 1), got {_fmt(value)}")
    return x


def count(name: str, value: int, minimum: int = 1, maximum: int = MAX_COUNT,
          why: str = "") -> int:
    """Return ``value`` as int if it is an integer in [``minimum``, ``maximum``].

    Python integers are compared exactly (10**400 is refused, not overflowed); floats
    and numeric strings must hold an integral value (3.0 and "3" pass, 1.5 does not).
    The default ``maximum`` is :data:`MAX_COUNT` = 2^53; ``why`` explains a smaller one.
    """
    what = f"an integer in [{minimum}, {maximum}]" if maximum != MAX_COUNT else (
        f"an integer >= {minimum} (at most 2^53)")
    if why:
        what += f" ({why})"
    if isinstance(value, bool):
        raise ValueError(f"{name} must be {what}, got {_fmt(value)}")
    if isinstance(value, (int, np.integer)):
        as_int = int(value)
    else:
        try:
            as_float = float(value)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"{name} must be {what}, got {_fmt(value)}") from None
        if not math.isfinite(as_float) or as_float != math.floor(as_float):
            raise ValueError(f"{name} must be {what}, got {_fmt(value)}")
        as_int = int(as_float)
    if not minimum <= as_int <= maximum:
        raise ValueError(f"{name} must be {what}, got {_fmt(value)}")
    return as_int


def times(
    name: str,
    values: Iterable[float] | np.ndarray,
    *,
    allow_zero: bool = False,
    allow_inf: bool = False,
) -> np.ndarray:
    """Return a 1-D float array of computation/communication times, validated.

    Times must be non-empty, not NaN, > 0 (or >= 0 with ``allow_zero``) and finite
    (unless ``allow_inf``: an agent that never returns).
    """
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int like 10**400
        raise ValueError(f"{name} must be a list of finite numbers, got {_fmt(values)}") from None
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty (a cluster needs at least one agent)")
    if np.isnan(arr).any():
        raise ValueError(f"{name} must not contain NaN (index {int(np.argmax(np.isnan(arr)))})")
    if not allow_inf and np.isinf(arr).any():
        raise ValueError(f"{name} must be finite (index {int(np.argmax(np.isinf(arr)))} is inf)")
    bad = arr < 0 if allow_zero else arr <= 0
    if bad.any():
        i = int(np.argmax(bad))
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}, got {name}[{i}] = {float(arr[i])!r}")
    tiny = (arr > 0) & (arr < MIN_TIME)
    if not allow_zero and tiny.any():  # only times that may be inverted (h, not kappa)
        i = int(np.argmax(tiny))
        raise ValueError(
            f"{name} must be 0 or >= {MIN_TIME:.4g} (the smallest normal float; 1/{name} "
            f"would overflow), got {name}[{i}] = {float(arr[i])!r}")
    return arr


def same_length(names: Sequence[str], *arrays: Sequence[object]) -> None:
    """Raise ValueError naming the parameters if the arrays differ in length."""
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) > 1:
        parts = ", ".join(f"{n} has {k}" for n, k in zip(names, lengths, strict=True))
        raise ValueError(f"length mismatch: {parts}")


def choice(name: str, value: str, options: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``options``; else a ValueError listing them."""
    opts = list(options)
    if value not in opts:
        raise ValueError(f"{name}: unknown value {value!r}; choose one of {', '.join(opts)}")
    return value


def _as_float(name: str, value: object) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {_fmt(value)}")
    try:
        return float(value)  # type: ignore[arg-type]
    except OverflowError:  # an int such as 10**400
        raise ValueError(f"{name} must be a finite number, got {_fmt(value)}") from None
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {_fmt(value)}") from None


# --- results that floating point cannot hold ----------------------------------------

F = TypeVar("F", bound=Callable[..., Any])


def finite_outputs(func: F) -> F:
    """Decorator: inputs that are valid one by one but too extreme together raise a
    ValueError naming the input, never OverflowError, ZeroDivisionError or inf/NaN output.

    ``eps = 1e-300`` passes :func:`positive` but eps^2 underflows to 0 and 1/eps^2 divides
    by zero; ``L_g = 1e308`` makes the step size underflow to 0 and a later check
    complain about ``alpha``, which the caller never gave. The wrapper catches those
    (OverflowError, ZeroDivisionError, a ValueError whose leading word is not one of the
    function's own arguments, a non-finite number in the result) and raises instead
    ``"<arg>: <value> is too extreme ..."`` for the numeric argument furthest from 1 in
    orders of magnitude (for gamma: 1 - gamma), the one that drives the overflow.
    ValueErrors that already name one of the function's arguments pass through.
    """
    sig = inspect.signature(func)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            # numpy's overflow warnings would only repeat what the checks below report.
            with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
                out = func(*args, **kwargs)
        except OutOfRangeError as exc:
            # A nested guarded call already named its culprit; keep it if it is one of
            # our inputs too (maybe a field of a constants record), else find ours.
            if exc.name in {name for name, _ in _numeric_inputs(sig, args, kwargs)}:
                raise
            raise _too_extreme(sig, args, kwargs, exc.why) from None
        except (OverflowError, ZeroDivisionError, FloatingPointError) as exc:
            raise _too_extreme(sig, args, kwargs, type(exc).__name__) from None
        except ValueError as exc:
            if _names_input(_leading_name(str(exc)), sig) or str(exc).startswith(
                    "length mismatch"):
                raise
            raise _too_extreme(sig, args, kwargs, str(exc)) from None
        if not _all_finite(out):
            raise _too_extreme(sig, args, kwargs, "the result is not finite") from None
        return out

    return wrapper  # type: ignore[return-value]


class OutOfRangeError(ValueError):
    """An input too extreme for floating point (raised by :func:`finite_outputs`).

    name: the argument blamed; why: what overflowed or underflowed.
    """

    def __init__(self, message: str, name: str, why: str) -> None:
        super().__init__(message)
        self.name = name
        self.why = why


def _names_input(name: str, sig: inspect.Signature) -> bool:
    """True if ``name`` is an argument, or the stem of one (``h`` for ``h_dot``)."""
    return name in sig.parameters or any(p.startswith(name + "_") for p in sig.parameters)


def _leading_name(message: str) -> str:
    """The parameter a message starts with ("eps must be ..." -> "eps", "h: ..." -> "h")."""
    head = message.split(" ", 1)[0].rstrip(":,")
    return head.split("[", 1)[0]


def _all_finite(x: Any) -> bool:
    """False if ``x`` holds a non-finite float anywhere (tuples, dicts, arrays, dataclasses)."""
    if isinstance(x, (bool, str, int)) or x is None:
        return True
    if isinstance(x, float):
        return math.isfinite(x)
    if isinstance(x, np.ndarray):
        return not np.issubdtype(x.dtype, np.floating) or bool(np.isfinite(x).all())
    if isinstance(x, np.generic):
        return bool(np.isfinite(x)) if np.issubdtype(type(x), np.floating) else True
    if isinstance(x, dict):
        return all(_all_finite(v) for v in x.values())
    if isinstance(x, (tuple, list)):
        return all(_all_finite(v) for v in x)
    if hasattr(x, "__dataclass_fields__"):
        return all(_all_finite(getattr(x, f)) for f in x.__dataclass_fields__)
    return True


def _numeric_inputs(sig: inspect.Signature, args: tuple, kwargs: dict):
    """(name, value) of every number among the arguments, arrays and constant records
    (dataclasses, NamedTuples) flattened to their extreme entry / their fields."""
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError:
        return
    for name, value in bound.arguments.items():
        yield from _numbers(name, value)


def _numbers(name: str, value: Any):
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, (int, float, np.integer, np.floating)):
        yield name, value
        return
    if hasattr(value, "__dataclass_fields__") or hasattr(value, "_fields"):
        fields = getattr(value, "_fields", None) or value.__dataclass_fields__
        for f in fields:
            yield from _numbers(f, getattr(value, f))
        return
    try:
        arr = np.asarray(value, dtype=float).ravel()
    except OverflowError:  # holds an int like 10**400: the most extreme input there is
        yield name, math.inf
        return
    except (TypeError, ValueError):
        return
    arr = arr[np.isfinite(arr) & (arr != 0)]
    if arr.size:
        yield name, float(arr[np.argmax(np.abs(np.log10(np.abs(arr))))])


def _magnitude(name: str, value: Any) -> float:
    """Orders of magnitude away from 1 (for gamma: of 1 - gamma, the factor 1/(1-gamma))."""
    try:
        x = float(value)
    except (OverflowError, TypeError, ValueError):
        return math.inf
    if name == "gamma" and 0 < x < 1:
        x = 1 - x
    if x == 0 or not math.isfinite(x):
        return -1.0 if x == 0 else math.inf
    return abs(math.log10(abs(x)))


def _too_extreme(sig: inspect.Signature, args: tuple, kwargs: dict, why: str) -> ValueError:
    pairs = list(_numeric_inputs(sig, args, kwargs))
    why = why if len(why) <= 80 else why[:77] + "..."
    if not pairs:
        return OutOfRangeError(f"inputs: out of floating-point range ({why})", "inputs", why)
    name, value = max(pairs, key=lambda p: _magnitude(*p))
    return OutOfRangeError(
        f"{name}: {_fmt(value)} is too extreme: the result leaves the floating-point range "
        f"({why}); use values nearer 1 (rescale units)", name, why)
